/** The SDK in a Node process that is told to stop: it drains first, or spills what it cannot send for the next start. */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseUrl, countEvents, newTenant, testSql } from '@/test/fixtures.ts';
import { freePort } from '@/test/ports.ts';
import { createAuditClient } from './index.ts';
import { fileSpill } from './node.ts';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Runs sdk/node.fixture.ts until it has logged its events, then sends SIGTERM and collects what it reports. */
async function runApp(env: Record<string, string>, beforeStop: () => Promise<void> = async () => {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sdk/node.fixture.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; !/^logged /m.test(output); i++) {
    if (child.exitCode !== null || i > 600) throw new Error(`the app did not log its events:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const ids = JSON.parse(/^logged (.*)$/m.exec(output)![1]!) as string[];
  await beforeStop();
  child.kill('SIGTERM');
  await exited;
  const drained = /^drained (.*)$/m.exec(output);
  if (!drained) throw new Error(`the app did not report draining:\n${output}`);
  return { ids, result: JSON.parse(drained[1]!) as { drained: boolean; spilled: number; undelivered: number } };
}

async function storedIds(tenantId: string): Promise<Set<string>> {
  return new Set((await testSql()`select id from public.audit_events where tenant_id = ${tenantId}`).map((r) => r.id as string));
}

describe('drainOnExit', () => {
  it('sends what is still buffered when the process is told to stop', async () => {
    const t = await newTenant();
    const { ids, result } = await runApp({ BASE_URL: baseUrl(), API_KEY: t.key, COUNT: '300', FLUSH_INTERVAL_MS: '60000' }, async () => {
      // A long flush interval: nothing has been sent before the stop.
      expect(await countEvents(t.id)).toBe(0);
    });
    expect(result).toEqual({ drained: true, spilled: 0, undelivered: 0 });
    expect(await storedIds(t.id)).toEqual(new Set(ids));
  });

  it('spills to the local folder when the server is unreachable, and the next start sends it', async () => {
    const t = await newTenant();
    const spillDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-spill-'));
    dirs.push(spillDir);
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const { ids, result } = await runApp({ BASE_URL: nowhere, API_KEY: t.key, COUNT: '250', SPILL_DIR: spillDir, DRAIN_TIMEOUT_MS: '1000' });
    expect(result).toEqual({ drained: false, spilled: 250, undelivered: 0 });
    expect((await readdir(spillDir)).filter((f) => f.endsWith('.jsonl'))).toHaveLength(1);
    expect(await countEvents(t.id)).toBe(0);

    // The next run of the app finds the segment and sends it; the segment goes once stored.
    const next = createAuditClient({ baseUrl: baseUrl(), apiKey: t.key, spill: fileSpill(spillDir) });
    await next.flush();
    expect(await storedIds(t.id)).toEqual(new Set(ids));
    expect(await readdir(spillDir)).toEqual([]);
  });
});
