/**
 * Debian's PostgreSQL 15 (Supabase's major version), for proving the
 * migrations there. Uses OMS_AUDIT_PG15_URL when CI provides a running
 * server, otherwise starts a throwaway cluster from the installed binaries.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export interface Pg15 {
  url: string;
  stop(): Promise<void>;
}

function asPostgres(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {};
  const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString());
  const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString());
  return { uid, gid };
}

export async function startPostgres15(): Promise<Pg15> {
  if (process.env.OMS_AUDIT_PG15_URL) return { url: process.env.OMS_AUDIT_PG15_URL, stop: async () => {} };
  if (!existsSync(`${BIN}/postgres`)) {
    throw new Error(`PostgreSQL 15 is not installed (${BIN}); install Debian's postgresql-15 or set OMS_AUDIT_PG15_URL`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-pg15-'));
  await chmod(dir, 0o777);
  const data = path.join(dir, 'data');
  const ids = asPostgres();
  const init = spawnSync(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C'], { ...ids, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const server = spawn(`${BIN}/postgres`, ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off'], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    server.stderr!.on('data', (d) => {
      log += d;
      if (log.includes('ready to accept connections')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`PostgreSQL 15 exited (${code}): ${log}`)));
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.once('exit', () => resolve());
        server.kill('SIGINT');
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
