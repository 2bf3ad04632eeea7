/**
 * The per-minute clock evidence is kept for a bounded time: the server's
 * schedule purges minutes older than CLOCK_EVIDENCE_KEEP_DAYS through a
 * definer function, in bounded batches. The runtime role cannot delete the
 * figures itself, nor make the function remove the last two days (what the
 * System page, the report API and the metrics read).
 */
import { describe, expect, it } from 'vitest';
import { BACKGROUND_JOBS } from '@/server/background.ts';
import { parseEnv } from '@/server/env.ts';
import { adminSql, newTenant, testSql } from '@/test/fixtures.ts';
import { purgeClockMinutes } from './clock.ts';

const DAY = 86_400_000;

/** Plants one minute of figures `daysAgo` days back (the owner's rights: the runtime role inserts only through ingest). */
async function plantMinute(tenantId: string, daysAgo: number, source: string) {
  const minute = new Date(Math.floor((Date.now() - daysAgo * DAY) / 60_000) * 60_000).toISOString();
  await adminSql()`
    insert into public.clock_skew_minutes (tenant_id, minute, source, written_by, events, ahead_events, flagged_ahead, flagged_behind,
      min_skew_us, max_skew_us, sum_skew_us, buckets, ahead_limit_us, behind_limit_us)
    values (${tenantId}, ${minute}, ${source}, 'operator:test', 1, 0, 0, 0, 1000, 1000, 1000, ${'{0,0,0,0,0,0,1,0,0,0,0,0,0}'}::integer[], 50000, 50000)`;
}

async function sourcesLeft(tenantId: string): Promise<string[]> {
  const rows = await adminSql()`select source from public.clock_skew_minutes where tenant_id = ${tenantId} order by source`;
  return rows.map((r) => r.source as string);
}

describe('clock evidence retention', () => {
  it('purges minutes older than the retention in bounded batches, and keeps the rest', async () => {
    const tenant = await newTenant('clock-purge');
    for (const [days, source] of [[500, 'old-1'], [450, 'old-2'], [401, 'old-3'], [399, 'kept-399'], [3, 'kept-3'], [0, 'kept-now']] as const) {
      await plantMinute(tenant.id, days, source);
    }
    // One batch of 2 at a time: 2, then 1 (other tenants' old rows may be purged alongside; at least ours go).
    const first = Number((await testSql()`select oms_audit.purge_clock_skew_minutes(400, 2) as n`)[0]!.n);
    expect(first).toBe(2);
    expect((await sourcesLeft(tenant.id)).filter((s) => s.startsWith('old-'))).toHaveLength(1);
    await purgeClockMinutes(testSql(), 400, 2);
    expect(await sourcesLeft(tenant.id)).toEqual(['kept-3', 'kept-399', 'kept-now']);
  });

  it('runs on the server’s schedule with CLOCK_EVIDENCE_KEEP_DAYS', async () => {
    const tenant = await newTenant('clock-purge-job');
    await plantMinute(tenant.id, 10, 'older');
    await plantMinute(tenant.id, 5, 'newer');
    const job = BACKGROUND_JOBS.find((j) => j.name === 'clock evidence')!;
    const env = parseEnv({ ...process.env, CLOCK_EVIDENCE_KEEP_DAYS: '7' });
    expect(job.everyMs(env)).toBeGreaterThan(0);
    await job.run(testSql(), env);
    expect(await sourcesLeft(tenant.id)).toEqual(['newer']);
  });

  it('cannot be used by the runtime role to remove recent evidence, nor deleted around', async () => {
    const tenant = await newTenant('clock-purge-attack');
    await plantMinute(tenant.id, 1, 'yesterday');
    await expect(testSql()`select oms_audit.purge_clock_skew_minutes(1, 100)`).rejects.toThrow(/kept between 2 and 36600 days, not 1/);
    await expect(testSql()`select oms_audit.purge_clock_skew_minutes(0, 100)`).rejects.toThrow(/kept between 2 and 36600 days/);
    await expect(testSql()`select oms_audit.purge_clock_skew_minutes(30, 1000000)`).rejects.toThrow(/between 1 and 100000 rows/);
    await expect(testSql()`delete from public.clock_skew_minutes where tenant_id = ${tenant.id}`).rejects.toThrow(/permission denied/);
    await expect(testSql()`truncate public.clock_skew_minutes`).rejects.toThrow(/permission denied|must be owner/);
    expect(await sourcesLeft(tenant.id)).toEqual(['yesterday']);
  });
});
