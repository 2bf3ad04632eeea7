/** Unzipping downloaded bundles in tests (yauzl). */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import yauzl from 'yauzl';

/** Extracts a zip into `dir`; returns the folder of its first entry (a bundle's own folder). */
export async function unzipTo(file: string, dir: string): Promise<string> {
  const zip = await promisify<string, yauzl.Options, yauzl.ZipFile>(yauzl.open)(file, { lazyEntries: true });
  const open = promisify(zip.openReadStream.bind(zip));
  let root = '';
  for (;;) {
    const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
      zip.once('entry', resolve).once('end', () => resolve(null)).once('error', reject);
      zip.readEntry();
    });
    zip.removeAllListeners('entry').removeAllListeners('end');
    if (!entry) return root;
    root ||= path.join(dir, entry.fileName.split('/')[0]!);
    const target = path.join(dir, entry.fileName);
    await mkdir(path.dirname(target), { recursive: true });
    const chunks: Buffer[] = [];
    for await (const chunk of await open(entry)) chunks.push(chunk as Buffer);
    await writeFile(target, Buffer.concat(chunks));
  }
}
