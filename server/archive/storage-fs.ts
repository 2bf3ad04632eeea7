/** Archives in a local folder. Files are written to a temporary name, synced, then renamed: never half-written. */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchiveStorage, PutOptions } from './storage.ts';

export class FileStorage implements ArchiveStorage {
  readonly root: string;

  constructor(readonly url: string) {
    this.root = fileURLToPath(url);
  }

  async objectLock(): Promise<boolean> {
    return false;
  }

  private pathOf(key: string): string {
    const full = path.resolve(this.root, key);
    if (!full.startsWith(this.root + path.sep)) throw new Error(`archive key ${key} leaves the archive folder`);
    return full;
  }

  private async place(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const dest = this.pathOf(key);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${randomUUID()}.tmp`;
    try {
      await write(tmp);
      const handle = await open(tmp, 'r');
      await handle.sync();
      await handle.close();
      // Archives are never changed in place: read-only files.
      await chmod(tmp, 0o444);
      await rename(tmp, dest);
      const dir = await open(path.dirname(dest), 'r');
      await dir.sync().catch(() => {});
      await dir.close();
    } finally {
      await rm(tmp, { force: true });
    }
  }

  putFile(key: string, file: string, _options: PutOptions): Promise<void> {
    return this.place(key, (tmp) => copyFile(file, tmp, constants.COPYFILE_FICLONE));
  }

  putBytes(key: string, bytes: Uint8Array, _options: PutOptions): Promise<void> {
    return this.place(key, (tmp) => writeFile(tmp, bytes));
  }

  getBytes(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  async download(key: string, file: string): Promise<void> {
    await copyFile(this.pathOf(key), file);
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async putBytesOnce(key: string, bytes: Uint8Array, _options: PutOptions): Promise<boolean> {
    const dest = this.pathOf(key);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${randomUUID()}.tmp`;
    try {
      const handle = await open(tmp, 'wx', 0o444);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // link() creates the name only if it does not exist, atomically, with the whole synced file behind it.
      try {
        await link(tmp, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
      const dir = await open(path.dirname(dest), 'r');
      await dir.sync().catch(() => {});
      await dir.close();
      return true;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async getBytesIfExists(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.pathOf(prefix.replace(/\/+$/, ''));
    let names: string[];
    try {
      names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((full) => !full.endsWith('.tmp'))
      .map((full) => path.relative(this.root, full).split(path.sep).join('/'))
      .sort();
  }
}
