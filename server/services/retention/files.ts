/** Local copies of archived Parquet files, for DuckDB: the file itself on a filesystem archive, a checked download from S3. */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Env } from '@/server/env.ts';
import { sha256File } from '@/server/archive/export.ts';
import { storageAt } from '@/server/archive/storage.ts';

export interface StoredFile {
  storage_url: string;
  data_key: string;
  data_sha256: string | null;
}

/**
 * A local path with the part's bytes. Downloads are kept in `cacheDir` under
 * their SHA-256 (checked on download), so a file is fetched once and a
 * damaged download is never used.
 */
export async function localFile(env: Env, part: StoredFile, cacheDir: string): Promise<string> {
  const storage = await storageAt(part.storage_url, env);
  const local = storage.localPath(part.data_key);
  if (local) return local;
  const cached = path.join(cacheDir, `${part.data_sha256}.parquet`);
  if (existsSync(cached)) return cached;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${cached}.${randomUUID()}.tmp`;
  try {
    await storage.download(part.data_key, tmp);
    const sha = await sha256File(tmp);
    if (sha !== part.data_sha256) throw new Error(`archive ${part.data_key} in ${part.storage_url} does not match its recorded SHA-256`);
    await rename(tmp, cached);
  } finally {
    await rm(tmp, { force: true });
  }
  return cached;
}

/**
 * The part's bytes as a local file whose SHA-256 is the recorded one (a
 * filesystem archive is hashed in place; downloads are checked as they land),
 * for readers that must not read a changed file: exports.
 */
export async function checkedLocalFile(env: Env, part: StoredFile, cacheDir: string): Promise<string> {
  const file = await localFile(env, part, cacheDir);
  const storage = await storageAt(part.storage_url, env);
  if (storage.localPath(part.data_key) && (await sha256File(file)) !== part.data_sha256) {
    throw new Error(`archive ${part.data_key} in ${part.storage_url} does not match its recorded SHA-256`);
  }
  return file;
}

/** Whether the part's data file is in its storage. */
export async function storedFileExists(env: Env, part: StoredFile): Promise<boolean> {
  return (await (await storageAt(part.storage_url, env)).size(part.data_key)) !== null;
}
