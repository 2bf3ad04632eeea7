/**
 * Where month archives live: a folder on the local filesystem or an
 * S3-compatible bucket. Keys are relative paths ("tenant_id=…/month=…/part-0001.parquet");
 * the storage URL (file:///… or s3://bucket/prefix) is recorded with every
 * archive part, so any process can find a part whatever its own settings.
 */
import type { Env } from '@/server/env.ts';
import { dataPath } from '@/server/db/open.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { FileStorage } from './storage-fs.ts';

export interface PutOptions {
  /** Hex SHA-256 of the content; S3 checks it on receipt. */
  sha256: string;
  contentType: string;
  /** Object Lock retention (compliance mode) where the storage supports it. */
  retainUntil?: Date | null;
}

export interface ArchiveStorage {
  /** file:///absolute/path or s3://bucket/prefix */
  readonly url: string;
  /** Whether objects are written under Object Lock (compliance mode). */
  objectLock(): Promise<boolean>;
  putFile(key: string, file: string, options: PutOptions): Promise<void>;
  putBytes(key: string, bytes: Uint8Array, options: PutOptions): Promise<void>;
  getBytes(key: string): Promise<Buffer>;
  /** Copies the object into a local file. */
  download(key: string, file: string): Promise<void>;
  /** The object as a local file, when the storage is local (no copy needed). */
  localPath(key: string): string | null;
  /** Size in bytes, or null when there is no such object. */
  size(key: string): Promise<number | null>;
  /** Removes the object (every version, under Object Lock); missing objects are fine. */
  delete(key: string): Promise<void>;
  /**
   * Writes an object that must never change: false, writing nothing, when the key
   * exists already (files: exclusive create of a read-only file; S3: a conditional
   * PUT, If-None-Match: *, after a HEAD for servers that ignore the condition).
   */
  putBytesOnce(key: string, bytes: Uint8Array, options: PutOptions): Promise<boolean>;
  /** The object's bytes, or null when there is no such object. */
  getBytesIfExists(key: string): Promise<Buffer | null>;
  /** Keys of every object under a folder-like prefix ("a/b/"), relative to the storage root, sorted. */
  list(prefix: string): Promise<string[]>;
}

const cache = new Map<string, Promise<ArchiveStorage>>();

/** The storage for a URL; S3 connection settings come from the environment. */
export function storageAt(url: string, env: Env): Promise<ArchiveStorage> {
  let storage = cache.get(url);
  if (!storage) {
    storage = openStorage(url, env);
    cache.set(url, storage);
    storage.catch(() => cache.delete(url));
  }
  return storage;
}

async function openStorage(url: string, env: Env): Promise<ArchiveStorage> {
  if (url.startsWith('file:///')) return new FileStorage(url);
  if (url.startsWith('s3://')) {
    const { S3Storage } = await import('./storage-s3.ts');
    return new S3Storage(url, env);
  }
  throw new AuditError('invalid_request', `Unsupported archive URL ${url}: use file:///path or s3://bucket/prefix`);
}

/**
 * The configured archive location: ARCHIVE_URL, or <data dir>/archive with
 * embedded PostgreSQL. With DATABASE_URL it must be set: archives of a shared
 * database must not land on whichever machine happens to run the job.
 */
export function configuredArchiveUrl(env: Env): string | null {
  if (env.ARCHIVE_URL) return env.ARCHIVE_URL.replace(/\/+$/, '');
  if (env.DATABASE_URL) return null;
  return 'file://' + dataPath(env, 'archive');
}

export function requireArchiveUrl(env: Env): string {
  const url = configuredArchiveUrl(env);
  if (!url) throw new AuditError('invalid_request', 'Archive storage is not configured: set ARCHIVE_URL (file:///path or s3://bucket/prefix); it is required when DATABASE_URL is set');
  return url;
}
