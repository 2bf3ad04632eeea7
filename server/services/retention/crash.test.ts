/**
 * Crash safety: `oms-audit` runs as a real process and is killed (SIGKILL) in
 * the middle of each retention step, including inside the transaction that
 * drops a month; the next run finishes the job. After every kill, no event is
 * lost or doubled, and at the end the archives, manifests, catalog and the
 * tenants' own trails agree.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents } from '@/server/services/query.ts';
import { allEvents, monthLabel, retentionDatabase, tenantWithHistory, withoutMark, type RetentionDb } from '@/test/retention.ts';
import type { Failpoint } from './failpoints.ts';
import { partsOf } from './parts.ts';

let db: RetentionDb;
beforeAll(async () => {
  db = await retentionDatabase();
});
afterAll(() => db?.drop());

function cli(args: string[], failpoint?: Failpoint): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/oms-audit.mjs', ...args], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        OMS_AUDIT_DATA_DIR: db.dir,
        ARCHIVE_URL: `file://${db.dir}/archive`,
        RETENTION_MIN_TOTAL_YEARS: '1',
        OMS_AUDIT_FAILPOINT: failpoint ?? '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const seed = { source: 'seed' } as const;
const ARCHIVED = [16, 15, 14];

describe('retention killed at every step', () => {
  it('finishes archiving after each kill, without losing or doubling an event', { timeout: 180_000 }, async () => {
    const tenants = [await tenantWithHistory(db.sql, 'crash-a', [...ARCHIVED, 2], 30), await tenantWithHistory(db.sql, 'crash-b', [16, 14, 1], 11)];
    const before = await Promise.all(tenants.map((t) => allEvents(db.sql, t.claims, seed)));
    const unchanged = async (when: string) => {
      for (const [i, t] of tenants.entries()) expect(withoutMark(await allEvents(db.sql, t.claims, seed)), when).toEqual(before[i]);
    };

    const dry = await cli(['retention', 'run', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).plan.archive.map((m: { month: string }) => m.month.slice(0, 7)).sort()).toEqual(ARCHIVED.map((m) => monthLabel(m)).sort());
    expect(await partsOf(db.sql, {})).toEqual([]);

    const steps: Failpoint[] = ['archive:after-export', 'archive:after-upload', 'archive:before-verify', 'archive:in-drop', 'archive:after-drop'];
    const scratch = path.join(db.dir, 'scratch');
    let leftByKill: string[] = [];
    for (const step of steps) {
      const killed = await cli(['retention', 'run'], step);
      expect(killed.signal, `${step}: ${killed.stderr}`).toBe('SIGKILL');
      await unchanged(`after a kill at ${step}`);
      // What the previous killed run left in the scratch folder was swept when this run started.
      const left = await readdir(scratch);
      for (const entry of leftByKill) expect(left, `${entry} after ${step}`).not.toContain(entry);
      if (step === 'archive:after-export') {
        // Killed with a month's Parquet files written: they stay in a private folder, not in the shared temporary one.
        expect(left).toEqual([expect.stringMatching(/^export-\d{4}-\d{2}\.\d+\./)]);
        expect((await stat(scratch)).mode & 0o777).toBe(0o700);
        expect((await stat(path.join(scratch, left[0]!))).mode & 0o777).toBe(0o700);
        const files = (await readdir(path.join(scratch, left[0]!), { recursive: true })).map(String);
        expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
      }
      leftByKill = left;
    }
    const finished = await cli(['retention', 'run', '--json']);
    expect(finished.code, finished.stderr).toBe(0);
    await unchanged('after the final run');
    expect(await readdir(scratch)).toEqual([]);

    // Catalog, manifests and files agree; every archived event is in exactly one part.
    const parts = await partsOf(db.sql, { states: ['dropped'] });
    expect(parts.map((p) => `${p.month.slice(0, 7)}`).sort()).toEqual([...ARCHIVED.map((m) => monthLabel(m)), monthLabel(16), monthLabel(14)].sort());
    for (const p of parts) {
      const manifest = JSON.parse(await readFile(path.join(db.dir, 'archive', p.manifest_key), 'utf8'));
      const data = await readFile(path.join(db.dir, 'archive', p.data_key));
      expect(createHash('sha256').update(data).digest('hex')).toBe(p.data_sha256);
      expect(manifest).toMatchObject({ row_count: p.row_count, min_seq: p.min_seq, max_seq: p.max_seq, seq_sum: p.seq_sum, files: [{ sha256: p.data_sha256, bytes: data.length }] });
    }

    // Each month's archive and drop is recorded once in each tenant's trail, however often the run was repeated.
    for (const t of tenants) {
      const trail = (await listEvents(db.sql, t.claims, { source: 'oms-audit-retention', limit: 100, order: 'asc' })).events;
      const months = (await partsOf(db.sql, { tenantId: t.id })).map((p) => p.month.slice(0, 7)).sort();
      expect(trail.filter((e) => e.event_type === 'ARCHIVE').map((e) => e.object_id).sort()).toEqual(months);
      expect(trail.filter((e) => e.event_type === 'PARTITION_DROP').map((e) => e.object_id).sort()).toEqual(months);
    }
    const report = await cli(['report', 'compliance', '--format', 'csv']);
    expect(report.code, report.stdout).toBe(0);
    expect(report.stdout.split('\r\n')[0]).toMatch(/^tenant_id,tenant_name,month,state/);
  });

  it('finishes an expiry and a restore after a kill', async () => {
    const t = await tenantWithHistory(db.sql, 'crash-expire', [28, 27, 8], 5);
    const name = (await db.sql`select name from oms_audit.tenants where id = ${t.id}`)[0]!.name as string;
    const hold = await cli(['hold', 'add', '--tenant', t.id, '--reason', 'pending litigation', '--from', `${monthLabel(27)}-01`, '--to', `${monthLabel(27)}-28`, '--json']);
    expect(hold.code, hold.stderr).toBe(0);
    const holdId = JSON.parse(hold.stdout).id as string;
    const policy = await cli(['retention', 'policy', '--tenant', name, '--hot-months', '3', '--total-years', '1', '--json']);
    expect(JSON.parse(policy.stdout)).toMatchObject({ hot_months: 3, total_years: 1 });
    const before = await allEvents(db.sql, t.claims, seed);

    const killed = await cli(['retention', 'run'], 'expire:after-delete');
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect((await partsOf(db.sql, { tenantId: t.id })).map((p) => p.state).sort()).toEqual(['dropped', 'dropped', 'expiring']);
    const rerun = await cli(['retention', 'run']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain(`kept (held by ${holdId})`);
    const parts = await partsOf(db.sql, { tenantId: t.id });
    expect(parts.map((p) => [p.month.slice(0, 7), p.state]).sort()).toEqual([[monthLabel(28), 'expired'], [monthLabel(27), 'dropped'], [monthLabel(8), 'dropped']].sort());
    expect(withoutMark(await allEvents(db.sql, t.claims, seed))).toEqual(before.filter((e) => !e.occurred_at.startsWith(monthLabel(28))));
    const expiries = await listEvents(db.sql, t.claims, { object_type: 'ARCHIVE', event_type: ['EXPIRE'], limit: 10, order: 'asc' });
    expect(expiries.events.map((e) => e.object_id)).toEqual([monthLabel(28)]);

    // A restore killed inside its transaction leaves nothing; the next one completes.
    const month = monthLabel(8);
    const killedRestore = await cli(['restore', '--tenant', t.id, '--month', month], 'restore:in-load');
    expect(killedRestore.signal).toBe('SIGKILL');
    expect((await db.sql`select count(*)::int as n from oms_audit.restores`)[0]!.n).toBe(0);
    expect((await db.sql`select count(*)::int as n from public.restored_events`)[0]!.n).toBe(0);
    const restored = await cli(['restore', '--tenant', t.id, '--month', month, '--reason', 'audit request', '--json']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ row_count: 5 });
    expect(withoutMark(await allEvents(db.sql, t.claims, seed))).toEqual(before.filter((e) => !e.occurred_at.startsWith(monthLabel(28))));
    const release = await cli(['restore', 'release', '--tenant', t.id, '--month', month]);
    expect(release.code, release.stderr).toBe(0);
    const released = await cli(['hold', 'release', '--id', holdId, '--reason', 'restore checked']);
    expect(released.code, released.stderr).toBe(0);
    expect((await db.sql`select released_by from oms_audit.legal_holds where id = ${holdId}`)[0]!.released_by).toBe('cli');
  });
});
