/**
 * The search shape over archived months, through the real server: a month
 * archived to Parquet and dropped from PostgreSQL is still in the histogram
 * and the value counts, counted exactly from its archive; when its archive
 * cannot be read the answer names the month as not counted, with the reason,
 * and marks the bars it touches as short — never a silently short chart.
 * The last microsecond before an open range's end has its bar too.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filtersOf, parseListInput } from '@/supabase/functions/_shared/filters.ts';
import { call, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { searchShape } from './search-shape.ts';
import { archiveSharedMonth } from '@/test/retention.ts';

// Months of this test file alone (the whole partition is archived).
const EARLIER = '2002-02';
const ARCHIVED = '2002-03';
const HOT = '2002-04';

let work: string;
let t: TestTenant;

type Shape = {
  bucket_seconds: number;
  buckets: { start: string; count: number; exact: boolean; short: boolean }[];
  facets: Record<string, { value: string | null; count: number }[]>;
  exact: boolean;
  archived_months: { month: string; counted: boolean }[];
  archive_error: string | null;
};

async function shape(input: Record<string, unknown>): Promise<Shape> {
  const res = await call('GET', `/api/trpc/events.shape?input=${encodeURIComponent(JSON.stringify(input))}`, { key: t.readKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.result.data as Shape;
}

const total = (s: Shape) => s.buckets.reduce((a, b) => a + b.count, 0);
const inMonth = (s: Shape, month: string) => s.buckets.filter((b) => b.start.startsWith(month));

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-archived-shape-'));
  t = await newTenant('archived-shape');
  const events = [
    ...Array.from({ length: 12 }, (_, i) => event({ occurred_at: `${ARCHIVED}-${String(3 + i).padStart(2, '0')}T10:00:00.000000Z`, event_type: i % 3 ? 'FILL' : 'CANCEL', actor_id: 'archived-trader' })),
    ...Array.from({ length: 5 }, (_, i) => event({ occurred_at: `${HOT}-${String(3 + i).padStart(2, '0')}T10:00:00.000000Z`, event_type: 'CREATE', actor_id: 'hot-trader' })),
    ...Array.from({ length: 3 }, (_, i) => event({ occurred_at: `${EARLIER}-${String(3 + i).padStart(2, '0')}T10:00:00.000000Z`, event_type: 'AMEND', actor_id: 'earlier-trader' })),
  ];
  expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events } })).status).toBe(201);
  await archiveSharedMonth(testSql(), work, EARLIER);
  await archiveSharedMonth(testSql(), work, ARCHIVED);
}, 900_000);

afterAll(() => rm(work, { recursive: true, force: true }));

describe('search shape over archived months', () => {
  it('counts an archived month from its archive, in the bars and the value counts', async () => {
    const [hot] = await testSql()`select count(*)::int as n from public.audit_events where tenant_id = ${t.id} and occurred_at < ${`${HOT}-01`}::timestamptz`;
    expect(hot!.n).toBe(0);
    for (const input of [{ from: `${ARCHIVED}-01`, to: `${HOT}-30` }, { actor_type: 'USER', from: `${ARCHIVED}-01` }]) {
      const s = await shape(input);
      expect(s.archived_months).toEqual([{ month: ARCHIVED, counted: true }]);
      expect(s.archive_error).toBeNull();
      expect(s.exact).toBe(true);
      expect(total(s)).toBe(17);
      expect(inMonth(s, ARCHIVED).reduce((a, b) => a + b.count, 0)).toBe(12);
      expect(s.buckets.some((b) => b.short)).toBe(false);
      expect(s.facets.event_type).toEqual([
        { value: 'FILL', count: 8 },
        { value: 'CREATE', count: 5 },
        { value: 'CANCEL', count: 4 },
      ]);
      expect(s.facets.actor_id).toEqual([
        { value: 'archived-trader', count: 12 },
        { value: 'hot-trader', count: 5 },
      ]);
    }
    // The filter applies inside the archive too.
    const fills = await shape({ event_type: 'FILL' });
    expect(total(fills)).toBe(8);
    expect(fills.facets.event_type).toEqual([{ value: 'FILL', count: 8 }]);
  });

  it('names a month whose archive cannot be read and marks its bars short', async () => {
    const [part] = await testSql()`select storage_url, data_key from oms_audit.archive_parts where tenant_id = ${t.id} and state = 'dropped' and month = ${`${ARCHIVED}-01`}::date`;
    const file = path.join(new URL(part!.storage_url as string).pathname, part!.data_key as string);
    await rename(file, `${file}.away`);
    try {
      const s = await shape({ from: `${ARCHIVED}-01`, to: `${HOT}-30` });
      expect(s.archived_months).toEqual([{ month: ARCHIVED, counted: false }]);
      expect(s.archive_error).toContain(ARCHIVED);
      expect(s.exact).toBe(false);
      expect(total(s)).toBe(5);
      expect(inMonth(s, ARCHIVED).length).toBeGreaterThan(0);
      expect(inMonth(s, ARCHIVED).every((b) => b.short)).toBe(true);
      expect(inMonth(s, HOT).filter((b) => b.start >= `${HOT}-02`).some((b) => b.short)).toBe(false);

      // Another archived month that can be read is still counted: only the unreadable one is named.
      const both = await shape({ from: `${EARLIER}-01`, to: `${HOT}-30` });
      expect(both.archived_months).toEqual([
        { month: EARLIER, counted: true },
        { month: ARCHIVED, counted: false },
      ]);
      expect(both.archive_error).toContain(ARCHIVED);
      expect(both.archive_error).not.toContain(EARLIER);
      expect(total(both)).toBe(8);
      expect(inMonth(both, EARLIER).reduce((a, b) => a + b.count, 0)).toBe(3);
      expect(inMonth(both, EARLIER).filter((b) => b.start < `${EARLIER}-20`).some((b) => b.short)).toBe(false);
      expect(both.facets.event_type).toContainEqual({ value: 'AMEND', count: 3 });
    } finally {
      await rename(`${file}.away`, file);
    }
  });
});

describe('search shape over archived months, within its budget', () => {
  it('answers at its budget when an archive does not answer, naming the month as not read in time and marking its bars short', async () => {
    const [part] = await testSql()`select storage_url, data_key from oms_audit.archive_parts where tenant_id = ${t.id} and state = 'dropped' and month = ${`${EARLIER}-01`}::date`;
    const file = path.join(new URL(part!.storage_url as string).pathname, part!.data_key as string);
    // The archive's file does not answer (a stalled mount): a named pipe that nobody writes.
    await rename(file, `${file}.away`);
    execFileSync('mkfifo', [file]);
    try {
      const claims = { tenant_id: t.id, sub: 'test', role: 'authenticated' as const };
      const s = await searchShape(testSql(), claims, filtersOf(parseListInput({ from: `${EARLIER}-01`, to: `${ARCHIVED}-01` })), { budgetMs: 1500 });
      expect(s.unavailable).toBeNull();
      expect(s.archived_months).toEqual([{ month: EARLIER, counted: false }]);
      expect(s.archive_error).toMatch(new RegExp(`^The archived months ${EARLIER} were not read, so their events are not counted: ${EARLIER}: not read within the 1500 ms budget`));
      expect(s.exact).toBe(false);
      expect(s.buckets.reduce((a, b) => a + b.count, 0)).toBe(0);
      expect(inMonth(s, EARLIER).length).toBeGreaterThan(0);
      expect(inMonth(s, EARLIER).every((b) => b.short)).toBe(true);
    } finally {
      // Let the stalled read end (opened read-write, the pipe never blocks; closed, the reader sees its end), then put the archive back.
      await (await open(file, 'r+')).close();
      await rm(file);
      await rename(`${file}.away`, file);
    }
  });
});

describe('search shape range', () => {
  it('gives the last event of an open range its bar, when it sits on a bar boundary', async () => {
    const u = await newTenant('shape-boundary');
    // 0 s and 180 s: 5-second bars, the second event exactly at the start of bar 36.
    const events = [0, 60, 180].map((s) => event({ occurred_at: new Date(Date.UTC(2026, 10, 3, 14, 0, s)).toISOString(), event_type: 'CREATE' }));
    expect((await call('POST', '/api/v1/audit/events', { key: u.key, body: { events } })).status).toBe(201);
    const res = await call('GET', `/api/trpc/events.shape?input=${encodeURIComponent(JSON.stringify({ event_type: 'CREATE' }))}`, { key: u.readKey });
    const s = res.body.result.data as Shape;
    expect(total(s)).toBe(3);
    expect(s.buckets.at(-1)).toMatchObject({ start: '2026-11-03T14:03:00.000Z', count: 1 });
  });
});
