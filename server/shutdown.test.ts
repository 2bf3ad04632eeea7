/**
 * The server's one shutdown function (server/main.ts) on real parts: the
 * request in flight is answered before the database goes, the embedded
 * PostgreSQL's process is gone when it returns, the lock goes last, and a
 * step that fails neither stops the others nor throws.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '@/server/db/embedded.ts';
import { runningPostmaster } from '@/server/db/postmaster.ts';
import { createHost } from '@/server/http/host.ts';
import { freePort } from '@/test/ports.ts';
import { shutdown } from './main.ts';
import { isAlive } from './pids.ts';

let dataDir = '';
let pg: EmbeddedDatabase | undefined;
afterAll(async () => {
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('shutdown', () => {
  it('answers the request in flight, then stops the function and jobs, the connections, PostgreSQL, and the lock, in that order', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-shutdown-'));
    pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true });
    const postmaster = await runningPostmaster(pg.clusterDir);
    expect(postmaster).not.toBeNull();
    const sql = connect(pg.superuserUrl, { max: 1 });
    const steps: string[] = [];
    let entered = () => {};
    const inRequest = new Promise<void>((r) => (entered = r));
    const host = createHost(async (_req, res) => {
      entered();
      // The request reads the database while the shutdown begins.
      const [row] = await sql`select pg_sleep(0.5), 42 as answer`;
      steps.push('request answered');
      res.end(String(row!.answer));
    });
    const port = await freePort();
    await host.listen(port, '127.0.0.1');
    const response = fetch(`http://127.0.0.1:${port}/`).then(async (r) => `${r.status} ${await r.text()}`);
    await inRequest;

    const logged: string[] = [];
    const database = pg;
    await shutdown(
      {
        host,
        functions: { url: '', ready: Promise.resolve(true), pid: () => undefined, stop: async () => void steps.push('edge function') },
        stopBackground: async () => {
          steps.push('background jobs');
          throw new Error('a job could not finish');
        },
        sql,
        database: { runtimeUrl: database.runtimeUrl, ownerUrl: database.ownerUrl, embedded: { ...database, stop: async () => (await database.stop(), void steps.push('postgres')) } },
        releaseLock: async () => void steps.push('lock'),
      },
      { graceMs: 5_000, log: (line) => logged.push(line) },
    );

    expect(await response).toBe('200 42');
    expect(steps.slice(-2)).toEqual(['postgres', 'lock']);
    expect(steps.indexOf('request answered')).toBeLessThan(steps.indexOf('postgres'));
    expect(steps).toEqual(expect.arrayContaining(['edge function', 'background jobs']));
    expect(logged).toContain('shutdown: background jobs failed: a job could not finish');
    expect(logged).toHaveLength(1);
    expect(await runningPostmaster(pg.clusterDir)).toBeNull();
    // Gone (or a zombie awaiting its parent's wait): PostgreSQL removes its pid file just before it exits.
    await expect.poll(() => isAlive(postmaster!.pid), { timeout: 5_000 }).toBe(false);
    pg = undefined;
  });
});
