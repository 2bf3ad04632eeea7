/**
 * Write admission by bytes, attacked with waves of maximum-size batches
 * against server processes of this test's own (default memory settings): the
 * process's resident memory, sampled from /proc while the wave lasts, stays
 * under MEMORY_LIMIT_MB; every answer is 201 or 503 with Retry-After; every
 * batch is stored whole or not at all, and everything acknowledged exactly once.
 * The audit-logger edge function, a process of its own, is held to its own bound.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { countEvents, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { startFunction, type RunningFunction } from '@/test/functions.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { batchTemplate, postBatch, sendWave, type BatchTemplate, type WaveResult } from '@/test/write-wave.ts';
import { isWriteRequest } from './admission.ts';

/** The server's default MEMORY_LIMIT_MB, and the edge function's. */
const SERVER_BOUND_MB = 768;
const FUNCTION_BOUND_MB = 256;
const WAVE = 600;

const occurredAt = new Date(Date.now() - 60_000).toISOString();

/** A batch of `events` events whose body is as close to `bodyBytes` as the contract allows (one long context string each). */
function batchOf(events: number, bodyBytes: number): BatchTemplate {
  const make = (fill: number) =>
    batchTemplate(Array.from({ length: events }, (_, i) => ({ actor_id: `trader-${i % 50}`, actor_type: 'USER', object_type: 'ORDER', object_id: `ORD-${i}`, event_type: 'CREATE', occurred_at: occurredAt, context: { note: 'x'.repeat(fill) } })));
  const empty = make(0);
  const template = make(Math.min(LIMITS.contextBytes - 16, Math.floor((bodyBytes - empty.bodyBytes) / events)));
  expect(template.bodyBytes).toBeLessThanOrEqual(bodyBytes);
  return template;
}

/** Every batch stored whole or not at all; every acknowledged event stored exactly once. */
async function expectStoredExactlyOnce(tenantId: string, result: WaveResult): Promise<void> {
  const rows = await testSql()`select id::text from public.audit_events where tenant_id = ${tenantId}`;
  const stored = new Set(rows.map((r) => r.id as string));
  expect(stored.size).toBe(rows.length);
  for (const id of result.acknowledged) expect(stored.has(id)).toBe(true);
  for (const batch of result.batches) {
    const kept = batch.filter((id) => stored.has(id)).length;
    expect([0, batch.length]).toContain(kept);
  }
}

/** The server's metrics, by `name{labels}` as printed. */
async function metricsOf(server: RunningServer): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.baseUrl}/api/metrics`)).text();
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
  );
}

function summary(result: WaveResult, pid: number): string {
  return `${JSON.stringify(Object.fromEntries(result.statuses))}, peak RSS ${Math.round(result.peakRssMb.get(pid)!)} MB`;
}

describe('write admission', () => {
  it('knows which requests store events', () => {
    expect(isWriteRequest('POST', '/api/v1/audit/events')).toBe(true);
    expect(isWriteRequest('POST', '/api/v1/audit/event')).toBe(true);
    expect(isWriteRequest('POST', '/api/trpc/events.logBulk')).toBe(true);
    expect(isWriteRequest('POST', '/api/trpc/events.list,events.log?batch=1')).toBe(true);
    expect(isWriteRequest('GET', '/api/v1/audit/events?limit=5')).toBe(false);
    expect(isWriteRequest('POST', '/api/trpc/events.list')).toBe(false);
    expect(isWriteRequest('POST', '/api/trpc/savedSearches.create')).toBe(false);
    // A malformed escape is no reason to fail.
    expect(isWriteRequest('POST', '/api/trpc/%E0%A4%A,events.logBulk')).toBe(true);
    expect(isWriteRequest('POST', '/api/trpc/%E0%A4%A')).toBe(false);
  });
});

describe('a wave of maximum-size batches against the server', () => {
  let server: RunningServer;
  let t: TestTenant;
  beforeAll(async () => {
    server = await startServer({
      databaseUrl: inject('databaseUrl'),
      env: { OMS_AUDIT_FUNCTIONS: 'false', RATE_LIMIT_WRITE_EVENTS_PER_SEC: '100000000', RATE_LIMIT_READ_REQUESTS_PER_SEC: '100000' },
    });
    t = await newTenant('wave');
  });
  afterAll(() => server?.stop());

  it(`keeps ${WAVE} concurrent 4 MiB batches under the memory bound, answering only 201 or 503, while reads still answer`, { timeout: 600_000 }, async () => {
    const pid = server.process.pid!;
    const template = batchOf(LIMITS.apiBatch, LIMITS.apiBodyBytes);
    const wave = sendWave({ url: `${server.baseUrl}/api/v1/audit/events`, headers: { authorization: `Bearer ${t.writeKey}` }, template, requests: WAVE, pids: [pid] });
    // A read in the middle of the wave.
    await new Promise((r) => setTimeout(r, 2000));
    const read = await fetch(`${server.baseUrl}/api/v1/audit/events?limit=10`, { headers: { authorization: `Bearer ${t.readKey}` }, signal: AbortSignal.timeout(120_000) });
    const result = await wave;
    console.log(`4 MiB wave: ${summary(result, pid)}`);

    expect(read.status).toBe(200);
    expect(Object.fromEntries(result.unanswered)).toEqual({});
    expect([...result.statuses.keys()].sort()).toEqual([201, 503]);
    expect([...result.retryAfter]).toEqual(['1']);
    expect(result.peakRssMb.get(pid)).toBeLessThan(SERVER_BOUND_MB);
    await expectStoredExactlyOnce(t.id, result);
    // Every refusal is counted, and every charge given back.
    await expect.poll(() => metricsOf(server), { timeout: 30_000 }).toMatchObject({
      'oms_audit_ingest_batches_total{path="rest",outcome="unavailable"}': result.statuses.get(503),
      oms_audit_write_bytes_in_flight: 0,
      oms_audit_write_requests_in_flight: 0,
    });
  });

  it(`keeps ${WAVE} concurrent batches of 500 order events (~330 KiB) under the bound`, { timeout: 600_000 }, async () => {
    const pid = server.process.pid!;
    const tenant = await newTenant('wave-orders');
    const template = batchOf(LIMITS.apiBatch, 330 * 1024);
    const result = await sendWave({ url: `${server.baseUrl}/api/v1/audit/events`, headers: { authorization: `Bearer ${tenant.writeKey}` }, template, requests: WAVE, pids: [pid] });
    console.log(`330 KiB wave: ${summary(result, pid)}`);
    expect(Object.fromEntries(result.unanswered)).toEqual({});
    expect([...result.statuses.keys()].every((s) => s === 201 || s === 503)).toBe(true);
    expect(result.statuses.get(201)).toBeGreaterThan(0);
    expect(result.peakRssMb.get(pid)).toBeLessThan(SERVER_BOUND_MB);
    await expectStoredExactlyOnce(tenant.id, result);
  });

  it('charges chunked bodies (no Content-Length) as the largest body until they have arrived', { timeout: 600_000 }, async () => {
    const pid = server.process.pid!;
    const tenant = await newTenant('wave-chunked');
    const template = batchOf(LIMITS.apiBatch, LIMITS.apiBodyBytes);
    const result = await sendWave({ url: `${server.baseUrl}/api/v1/audit/events`, headers: { authorization: `Bearer ${tenant.writeKey}` }, template, requests: 200, pids: [pid], chunked: true });
    console.log(`chunked 4 MiB wave: ${summary(result, pid)}`);
    expect(Object.fromEntries(result.unanswered)).toEqual({});
    expect([...result.statuses.keys()].sort()).toEqual([201, 503]);
    expect(result.peakRssMb.get(pid)).toBeLessThan(SERVER_BOUND_MB);
    await expectStoredExactlyOnce(tenant.id, result);
  });

  it('survives a write whose procedure path has a malformed escape', async () => {
    const res = await fetch(`${server.baseUrl}/api/trpc/%E0%A4%A,events.logBulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    // Next.js answers the path itself; what matters here is that the process is still there to answer.
    expect(res.status).not.toBe(201);
    expect((await fetch(`${server.baseUrl}/api/health`)).status).toBe(200);
    expect(server.process.exitCode).toBeNull();
  });

  it('refuses a chunked tRPC body beyond the limit with 413, and stores nothing', async () => {
    const tenant = await newTenant('trpc-chunked');
    const template = batchOf(LIMITS.apiBatch, LIMITS.apiBodyBytes);
    // The batch as tRPC input, with far more than the limit of padding after it, sent chunked.
    const padded = { ...template, parts: [...template.parts.slice(0, -1), Buffer.concat([template.parts.at(-1)!, Buffer.from(' '.repeat(LIMITS.apiBodyBytes))])] };
    const { answer } = await postBatch(`${server.baseUrl}/api/trpc/events.logBulk`, { authorization: `Bearer ${tenant.writeKey}` }, padded, { chunked: true });
    expect(answer?.status).toBe(413);
    expect(JSON.parse(answer!.body)).toMatchObject({ error: { code: 'body_too_large' } });
    expect(await countEvents(tenant.id)).toBe(0);
  });
});

describe('a wave of maximum-size batches against the edge function', () => {
  let fn: RunningFunction;
  beforeAll(async () => {
    fn = await startFunction({ databaseUrl: inject('databaseUrl'), env: { RATE_LIMIT_WRITE_EVENTS_PER_SEC: '100000000' } });
  });
  afterAll(() => fn?.stop());

  it(`keeps the function's process under its own bound (${FUNCTION_BOUND_MB} MB by default), answering only 201 or 503`, { timeout: 600_000 }, async () => {
    const pid = fn.process.pid!;
    const tenant = await newTenant('edge-wave');
    const template = batchOf(LIMITS.edgeBatch, LIMITS.edgeBodyBytes);
    const result = await sendWave({ url: fn.url, headers: { authorization: `Bearer ${tenant.writeKey}`, 'x-request-id': randomUUID() }, template, requests: 200, pids: [pid] });
    console.log(`edge function 8 MiB wave: ${summary(result, pid)}`);
    expect(Object.fromEntries(result.unanswered)).toEqual({});
    expect([...result.statuses.keys()].sort()).toEqual([201, 503]);
    expect([...result.retryAfter]).toEqual(['1']);
    expect(result.peakRssMb.get(pid)).toBeLessThan(FUNCTION_BOUND_MB);
    await expectStoredExactlyOnce(tenant.id, result);
  });
});
