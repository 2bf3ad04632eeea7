/**
 * /api/metrics and request ids against real servers: the shared one (no
 * METRICS_TOKEN: this machine only) and one of our own with a token, whose
 * counters no other test moves.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { call, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { metricsAccess } from './metrics.ts';

const TOKEN = `metrics-${crypto.randomUUID()}`;

/** Sample values of the Prometheus text format, keyed by `name{labels}` as printed. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('GET /api/metrics without METRICS_TOKEN', () => {
  it('serves clients on this machine, but not requests a proxy forwarded', async () => {
    const open = await call('GET', '/api/metrics');
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(open.body).toContain('# TYPE oms_audit_ingest_events_total counter');
    // A reverse proxy on this machine connects from loopback: what it forwarded stays out.
    const forwarded = await call('GET', '/api/metrics', { headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(forwarded.status).toBe(403);
  });
});

describe('who may scrape', () => {
  const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;
  it('goes by the socket address, never by a header a client can send', () => {
    expect(metricsAccess(req('127.0.0.1'), undefined).ok).toBe(true);
    expect(metricsAccess(req('::ffff:127.0.0.1'), undefined).ok).toBe(true);
    expect(metricsAccess(req('::1'), undefined).ok).toBe(true);
    expect(metricsAccess(req('203.0.113.9', { 'x-oms-observed-ip': '127.0.0.1' }), undefined).ok).toBe(false);
    expect(metricsAccess(req('203.0.113.9', { authorization: 'Bearer right-token-123456' }), 'right-token-123456').ok).toBe(true);
    expect(metricsAccess(req('127.0.0.1', { authorization: 'Bearer wrong' }), 'right-token-123456').ok).toBe(false);
  });
});

describe('GET /api/metrics with METRICS_TOKEN, and request ids', () => {
  let server: RunningServer;
  let dataDir: string;
  let tenant: TestTenant;
  const scrape = async (token: string | null = TOKEN) => {
    const res = await fetch(`${server.baseUrl}/api/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, text: await res.text() };
  };
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-metrics-'));
    server = await startServer({ databaseUrl: inject('databaseUrl'), dataDir, env: { METRICS_TOKEN: TOKEN, OMS_AUDIT_FUNCTIONS: 'false', API_KEY_CACHE_SECONDS: '0' } });
    tenant = await newTenant('metrics');
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a scrape without the token or with a wrong one, even from this machine', async () => {
    expect((await scrape(null)).status).toBe(401);
    expect((await scrape('not-the-token-at-all')).status).toBe(401);
    expect((await scrape()).status).toBe(200);
  });

  it('counts stored and refused writes, group commits and HTTP requests', async () => {
    const before = samples((await scrape()).text);
    expect((await post({ events: [event(), event(), event()] })).status).toBe(201);
    expect((await post({ events: [{ ...event(), actor_id: '' }] })).status).toBe(400);
    const after = samples((await scrape()).text);
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('oms_audit_ingest_events_total{path="rest",outcome="created"}')).toBe(3);
    expect(delta('oms_audit_ingest_batches_total{path="rest",outcome="ok"}')).toBe(1);
    expect(delta('oms_audit_ingest_batches_total{path="rest",outcome="invalid"}')).toBe(1);
    expect(delta('oms_audit_ingest_batch_seconds_count{path="rest"}')).toBe(1);
    expect(delta('oms_audit_group_commit_events_count')).toBe(1);
    // Requests are counted when their response has been handed to the socket, which may come a moment after the client reads it.
    const requests = async (status: number) =>
      (samples((await scrape()).text).get(`oms_audit_http_requests_total{route="/api/v1/audit/events",status="${status}"}`) ?? 0) -
      (before.get(`oms_audit_http_requests_total{route="/api/v1/audit/events",status="${status}"}`) ?? 0);
    await expect.poll(() => requests(201), { timeout: 5000 }).toBe(1);
    await expect.poll(() => requests(400), { timeout: 5000 }).toBe(1);
    expect(after.get('oms_audit_db_pool_max_connections')).toBe(10);
    expect(after.has('oms_audit_sealer_lag_seconds')).toBe(true);
    expect(after.has('oms_audit_archive_parts{state="verified"}')).toBe(true);
  });

  it('echoes x-request-id and records it on events that bring none; an event\'s own request_id wins', async () => {
    const requestId = `req-${crypto.randomUUID()}`;
    const own = event({ request_id: 'app-supplied-id' });
    const res = await post({ events: [event(), own] }, { 'x-request-id': requestId });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const { ids } = (await res.json()) as { ids: string[] };
    const rows = await testSql()`select id, request_id from public.audit_events where tenant_id = ${tenant.id} and id = any(${ids}::uuid[])`;
    const byId = new Map(rows.map((r) => [r.id as string, r.request_id as string]));
    expect(byId.get(ids[0]!)).toBe(requestId);
    expect(byId.get(ids[1]!)).toBe('app-supplied-id');

    // An unusable id is replaced by a fresh one, which the response names.
    const odd = await post({ events: [event()] }, { 'x-request-id': 'has spaces; and "quotes"' });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs one JSON line per request with its id, and no credential', async () => {
    const requestId = `log-${crypto.randomUUID()}`;
    expect((await post({ events: [event()] }, { 'x-request-id': requestId, cookie: 'oms_session=secret-cookie-value' })).status).toBe(201);
    await scrape();
    // The line is written when the response ends; give the pipe a moment.
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.request_id === requestId);
      if (!line) await new Promise((r) => setTimeout(r, 100));
    }
    expect(line).toMatchObject({ msg: 'request', method: 'POST', route: '/api/v1/audit/events', status: 201, service: 'oms-audit' });
    expect(line!.duration_ms).toEqual(expect.any(Number));
    const output = server.output();
    expect(output).not.toContain(tenant.key);
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain('secret-cookie-value');
  });
});
