/**
 * Node-only parts of the SDK: a spill store in a local folder, draining the
 * client when the process is asked to stop, and the trail monitor (monitor.ts).
 */
import exitHook from 'async-exit-hook';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AuditEventRequest } from '../supabase/functions/_shared/contract.ts';
import type { AuditClient, ShutdownResult } from './client.ts';
import type { SpillSegment, SpillStore } from './spill.ts';

export { monitorCheckpoints, monitorWithStateFile, readMonitorState, writeMonitorState, MONITOR_STATE_FORMAT, MONITOR_STATE_VERSION } from './monitor.ts';
export type { MonitorOptions, MonitorOutcome, MonitorResult, MonitorState } from './monitor.ts';

const SEGMENT = /^(\d{15})-([0-9a-f-]{36})-(\d+)\.jsonl$/;

/**
 * Spill segments as JSON-lines files in `dir`, named so that they sort in the
 * order they were written; each is written to a temporary name, synced and
 * renamed, so a crash leaves whole segments or none.
 */
export function fileSpill(dir: string): SpillStore {
  let counter = 0;
  return {
    async list(): Promise<SpillSegment[]> {
      await mkdir(dir, { recursive: true });
      return (await readdir(dir))
        .filter((name) => SEGMENT.test(name))
        .sort()
        .map((name) => ({ name, count: Number(SEGMENT.exec(name)![3]) }));
    },
    async write(events: AuditEventRequest[]): Promise<SpillSegment> {
      await mkdir(dir, { recursive: true });
      // Time, then a counter, keeps names in write order within this process.
      const stamp = String(Date.now() * 100 + (counter++ % 100)).padStart(15, '0');
      const name = `${stamp}-${randomUUID()}-${events.length}.jsonl`;
      const temp = path.join(dir, `.${name}.tmp`);
      const file = await open(temp, 'w', 0o600);
      try {
        await file.writeFile(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path.join(dir, name));
      return { name, count: events.length };
    },
    async read(name: string): Promise<AuditEventRequest[]> {
      const text = await readFile(path.join(dir, name), 'utf8');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEventRequest);
    },
    async remove(name: string): Promise<void> {
      await rm(path.join(dir, name), { force: true });
    },
  };
}

/**
 * Drains `client` before the process exits (SIGINT, SIGTERM, SIGHUP, or when
 * there is nothing left to do). After `timeoutMs` it stops waiting for the
 * server; with a spill store, what is left is written there for the next start.
 */
export function drainOnExit(client: AuditClient, options: { timeoutMs?: number; onDone?: (result: ShutdownResult) => void } = {}): void {
  exitHook((done) => {
    client
      .shutdown({ timeoutMs: options.timeoutMs ?? 10_000 })
      .then((result) => options.onDone?.(result))
      .catch((err: unknown) => console.error('[oms-audit] draining the audit client failed:', err))
      .finally(done);
  });
}
