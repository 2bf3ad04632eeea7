/**
 * The server's log lines are buffered (log.ts): a line must still reach stdout
 * while the process runs (within the flush interval) and when it exits right
 * after logging, with nothing lost.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOG_FLUSH_MS } from './log.ts';

/** Runs `code` (which may import the logger as `log`) in a child Node process; resolves with what it printed before `until`. */
function run(code: string, until: (stdout: string) => boolean = () => false): Promise<{ stdout: string; exited: boolean }> {
  const script = `import { log, requestLog } from './server/observability/log.ts';\n${code}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (until(stdout)) {
        child.kill('SIGKILL');
        resolve({ stdout, exited: false });
      }
    });
    child.on('exit', () => resolve({ stdout, exited: true }));
  });
}

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; n?: number });

describe('buffered log lines', () => {
  it('writes request lines in the same stream, in order, and still redacts secrets from the other lines', async () => {
    const { stdout } = await run(`log().info({ n: 1, authorization: 'Bearer sk_secret', headers: { cookie: 'sid=1' } }, 'line'); requestLog().info({ n: 2, route: '/api/health' }, 'request'); log().info({ n: 3 }, 'line'); process.exit(0);`);
    const all = lines(stdout) as { msg: string; n?: number; authorization?: string; headers?: { cookie?: string }; service?: string; time?: string }[];
    expect(all.map((l) => l.n)).toEqual([1, 2, 3]);
    expect(all[0]).toMatchObject({ authorization: '[redacted]', headers: { cookie: '[redacted]' }, service: 'oms-audit' });
    expect(all[1]).toMatchObject({ msg: 'request', route: '/api/health', service: 'oms-audit', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(stdout).not.toContain('sk_secret');
  });

  it('writes every line logged just before the process exits', async () => {
    const { stdout } = await run(`for (let n = 0; n < 1000; n++) log().info({ n }, 'line'); process.exit(0);`);
    const ns = lines(stdout).filter((l) => l.msg === 'line').map((l) => l.n);
    expect(ns).toEqual(Array.from({ length: 1000 }, (_, n) => n));
  });

  it('writes a lone line while the process keeps running, within the flush interval', async () => {
    const { stdout, exited } = await run(`log().info('lone'); setTimeout(() => {}, 30_000);`, (out) => out.includes('"lone"'));
    // Seen before the process ended (it is killed once the line is read): the periodic flush wrote it.
    expect(exited).toBe(false);
    expect(lines(stdout).map((l) => l.msg)).toContain('lone');
    expect(LOG_FLUSH_MS).toBeLessThanOrEqual(1000);
  });
});
