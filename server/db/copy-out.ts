/**
 * COPY … TO STDOUT as a Node stream, for reading millions of rows (verification,
 * exports, archives). Uses node-postgres with pg-copy-streams, whose COPY streams
 * handle backpressure reliably; postgres.js's COPY readable can leave its
 * connection stuck when a slow consumer pauses it (porsager/postgres#499, #917).
 * Each stream gets its own connection, closed when the stream ends or fails.
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Readable } from 'node:stream';

export interface CopyOutOptions {
  /** Run inside a transaction after these statements (e.g. SET LOCAL role and claims). */
  setup?: { text: string; values?: unknown[] }[];
  /**
   * With `setup` opening a REPEATABLE READ transaction: receives its snapshot
   * (pg_export_snapshot) before the COPY starts, so that another COPY can read
   * exactly the same rows (SET TRANSACTION SNAPSHOT) while this one runs.
   */
  exportSnapshot?: (id: string) => void;
}

export async function copyOut(url: string, statement: string, options: CopyOutOptions = {}): Promise<Readable> {
  return copyOutWith(url, copyTo(statement), options);
}

/** copyOut with a COPY query of pg-copy-streams' kind made by the caller (copy-rows.ts parses its messages itself). */
export async function copyOutWith(url: string, query: ReturnType<typeof copyTo>, options: CopyOutOptions = {}): Promise<Readable> {
  const client = new pg.Client({ connectionString: url, application_name: 'oms-audit-copy' });
  await client.connect();
  client.on('error', () => {});
  let finished = false;
  const finish = async (ok: boolean) => {
    if (finished) return;
    finished = true;
    try {
      if (options.setup) await client.query(ok ? 'commit' : 'rollback');
    } catch {
      // the connection is closed next anyway
    }
    await client.end().catch(() => {});
  };
  try {
    await client.query("set timezone = 'UTC'");
    if (options.setup) {
      await client.query('begin');
      for (const s of options.setup) await client.query(s.text, s.values);
    }
    if (options.exportSnapshot) {
      const { rows } = await client.query<{ id: string }>('select pg_export_snapshot() as id');
      options.exportSnapshot(rows[0]!.id);
    }
  } catch (err) {
    await finish(false);
    throw err;
  }
  const stream = client.query(query);
  stream.on('end', () => void finish(true));
  stream.on('error', () => void finish(false));
  stream.on('close', () => void finish(false));
  return stream;
}
