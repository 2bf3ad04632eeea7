/**
 * COPY streams sharing one snapshot: what verification relies on to read the
 * ledger and the events as two streams and still see the same committed events
 * on both sides while events keep arriving.
 */
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { copyOut } from './copy-out.ts';

const REPEATABLE_READ = { text: 'set transaction isolation level repeatable read, read only' };

async function lines(stream: Readable): Promise<string[]> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text.trim().split('\n');
}

describe('COPY out', () => {
  it('reads in a second COPY the snapshot the first exported, without the events committed after it', async () => {
    const t = await newTenant('copy-snapshot');
    const write = (n: number) =>
      appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: Array.from({ length: n }, () => event()) }, n), { ip: '10.0.0.1', userAgent: 'copy-test' }, 'cli');
    await write(3);
    const url = connectionUrl(testSql());
    let snapshot = '';
    const ledger = await copyOut(url, `copy (select seq from public.audit_ledger where tenant_id = '${t.id}' order by seq) to stdout`, {
      setup: [REPEATABLE_READ],
      exportSnapshot: (id) => (snapshot = id),
    });
    expect(snapshot).toMatch(/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i);
    await write(2);
    const events = await copyOut(url, `copy (select seq from public.audit_events where tenant_id = '${t.id}' order by seq) to stdout`, {
      setup: [REPEATABLE_READ, { text: `set transaction snapshot '${snapshot}'` }],
    });
    expect(await Promise.all([lines(ledger), lines(events)])).toEqual([
      ['1', '2', '3'],
      ['1', '2', '3'],
    ]);
    const [now] = await testSql()`select count(*)::int as n from public.audit_events where tenant_id = ${t.id}`;
    expect(now!.n).toBe(5);
  });
});
