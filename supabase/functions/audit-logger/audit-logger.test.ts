/**
 * The audit-logger edge function under real Deno (served by the test server as
 * npm start serves it, or started alone), against the test PostgreSQL, called
 * the way apps call it: supabase-js functions.invoke, or plain fetch.
 */
import { randomUUID } from 'node:crypto';
import { createClient, FunctionsHttpError } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { revokeApiKey } from '@/server/services/api-keys.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { call, countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';
import { startFunction, type RunningFunction } from '@/test/functions.ts';

const functionsBaseUrl = () => inject('functionsBaseUrl');
const functionUrl = () => `${functionsBaseUrl()}/functions/v1/audit-logger`;

/** Node 20 has no WebSocket; the function calls never open Supabase Realtime. */
class NoRealtime {
  constructor() {
    throw new Error('realtime is not used');
  }
}

function supabase(key: string, url = functionsBaseUrl(), headers: Record<string, string> = {}) {
  return createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: NoRealtime as never }, global: { headers } });
}

async function invoke(key: string, body: unknown, options: { url?: string; headers?: Record<string, string> } = {}) {
  const { data, error } = await supabase(key, options.url, options.headers).functions.invoke('audit-logger', { body: body as Record<string, unknown> });
  if (!error) return { status: 201, body: data };
  expect(error).toBeInstanceOf(FunctionsHttpError);
  const res = (error as FunctionsHttpError).context as Response;
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function seqs(tenantId: string): Promise<number[]> {
  const rows = await testSql()`select seq from public.audit_events where tenant_id = ${tenantId} order by seq`;
  return rows.map((r) => r.seq as number);
}

describe('audit-logger edge function', () => {
  it('stores a batch of 1000 events through supabase-js and answers like the REST bulk endpoint', async () => {
    const t = await newTenant();
    const events = Array.from({ length: 1000 }, (_, i) => event({ id: randomUUID(), object_id: `ORD-${i}` }));
    const res = await invoke(t.key, { events });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ created_count: 1000, duplicate_count: 0, duplicate_ids: [], method: 'edge_function', duration_ms: expect.any(Number) });
    expect(res.body.ids).toEqual(events.map((e) => e.id));
    expect(await seqs(t.id)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));

    const rest = await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event()] } });
    expect(Object.keys(res.body).sort()).toEqual(Object.keys(rest.body).sort());

    // The same batch again: stored once, reported as duplicates.
    const again = await invoke(t.key, { events });
    expect(again.body).toMatchObject({ created_count: 0, duplicate_count: 1000 });
    expect(await countEvents(t.id)).toBe(1001);
  });

  it('refuses 1001 events with 413 and stores nothing', async () => {
    const t = await newTenant();
    const res = await invoke(t.key, { events: Array.from({ length: 1001 }, () => event()) });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'batch_too_large', message: expect.stringContaining('1000') });
    expect(await countEvents(t.id)).toBe(0);
  });

  it('names every invalid event and stores none of the batch', async () => {
    const t = await newTenant();
    const res = await invoke(t.key, { events: [event(), event({ ip_address: '999.1.1.1' }), event({ object_id: 'a\nb' })] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', issues: [{ index: 1, field: 'ip_address' }, { index: 2, field: 'object_id' }] });
    expect(await countEvents(t.id)).toBe(0);
  });

  it('answers malformed JSON and oversized bodies with JSON errors', async () => {
    const t = await newTenant();
    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      fetch(functionUrl(), { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', ...headers }, body });
    const malformed = await post('{"events": [');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'malformed_json' } });

    const big = await post(JSON.stringify({ events: [event({ context: { blob: 'x'.repeat(9 * 1024 * 1024) } })] }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'body_too_large' } });
    expect(await countEvents(t.id)).toBe(0);
  });

  it('refuses an unknown, revoked or read-only key, and anonymous calls', async () => {
    const t = await newTenant();
    const unknown = await invoke('omsk_' + 'z'.repeat(32), { events: [event()] });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('unauthorized');

    const readOnly = await invoke(t.readKey, { events: [event()] });
    expect(readOnly.status).toBe(403);

    const key = await createApiKey(testSql(), { tenantId: t.id, scopes: ['events:write'] });
    expect((await invoke(key.key, { events: [event()] })).status).toBe(201);
    await revokeApiKey(testSql(), { id: key.id });
    const revoked = await invoke(key.key, { events: [event()] });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.message).toContain('revoked');

    const anonymous = await fetch(functionUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [event()] }) });
    expect(anonymous.status).toBe(401);
    expect(await countEvents(t.id)).toBe(1);
  });

  it("refuses a tenant A key writing tenant B's events, by payload or by header", async () => {
    const [a, b] = await Promise.all([newTenant('a'), newTenant('b')]);
    const byPayload = await invoke(a.key, { events: [event(), event({ tenant_id: b.id })] });
    expect(byPayload.status).toBe(403);
    expect(byPayload.body.error).toMatchObject({ code: 'tenant_mismatch', issues: [{ index: 1, field: 'tenant_id' }] });
    const byHeader = await invoke(a.key, { events: [event()] }, { headers: { 'x-oms-tenant-id': b.id } });
    expect(byHeader.status).toBe(403);
    expect(await countEvents(a.id)).toBe(0);
    expect(await countEvents(b.id)).toBe(0);
  });

  it('answers CORS preflights and lets browsers read errors', async () => {
    const preflight = await fetch(functionUrl(), {
      method: 'OPTIONS',
      headers: { origin: 'https://oms.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, apikey, content-type, x-client-info' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization.*apikey.*content-type.*x-client-info/);
    const denied = await fetch(functionUrl(), { method: 'POST', headers: { origin: 'https://oms.example' }, body: '{}' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('records the connection it saw, not a forwarded address a client made up', async () => {
    const t = await newTenant();
    const res = await invoke(t.key, { events: [event()] }, { headers: { 'x-forwarded-for': '203.0.113.9', 'user-agent': 'edge-client/1' } });
    const [row] = await testSql()`select host(observed_ip) as ip, observed_user_agent from public.audit_events where id = ${res.body.ids[0]}`;
    expect(row).toEqual({ ip: '127.0.0.1', observed_user_agent: 'edge-client/1' });
  });
});

describe('audit-logger with a service-role token', () => {
  const secret = `jwt-secret-${randomUUID()}`;
  let fn: RunningFunction;
  beforeAll(async () => {
    fn = await startFunction({ databaseUrl: inject('databaseUrl'), env: { OMS_AUDIT_JWT_SECRET: secret } });
  });
  afterAll(() => fn?.stop());

  const token = (role: string, key = secret) =>
    new SignJWT({ role, iss: 'supabase' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(key));

  it('writes for the tenant named in x-oms-tenant-id, and only with a valid service-role token', async () => {
    const t = await newTenant();
    const service = await token('service_role');
    const ok = await invoke(service, { events: [event(), event()] }, { url: fn.baseUrl, headers: { 'x-oms-tenant-id': t.id } });
    expect(ok.status).toBe(201);
    expect(ok.body.created_count).toBe(2);
    expect(await countEvents(t.id)).toBe(2);

    const noTenant = await invoke(service, { events: [event()] }, { url: fn.baseUrl });
    expect(noTenant.status).toBe(400);
    expect(noTenant.body.error.issues[0].field).toBe('x-oms-tenant-id');
    const unknownTenant = await invoke(service, { events: [event()] }, { url: fn.baseUrl, headers: { 'x-oms-tenant-id': randomUUID() } });
    expect(unknownTenant.status).toBe(404);
    const anon = await invoke(await token('anon'), { events: [event()] }, { url: fn.baseUrl, headers: { 'x-oms-tenant-id': t.id } });
    expect(anon.status).toBe(401);
    const forged = await invoke(await token('service_role', `another-${secret}`), { events: [event()] }, { url: fn.baseUrl, headers: { 'x-oms-tenant-id': t.id } });
    expect(forged.status).toBe(401);
    expect(await countEvents(t.id)).toBe(2);
  });
});

describe('audit-logger on a privileged database URL', () => {
  // As on a Supabase project where only SUPABASE_DB_URL (the postgres role) is given.
  let privileged: RunningFunction;
  let allowed: RunningFunction;
  beforeAll(async () => {
    [privileged, allowed] = await Promise.all([
      startFunction({ databaseUrl: '', env: { OMS_AUDIT_DB_URL: '', SUPABASE_DB_URL: inject('adminDatabaseUrl') } }),
      startFunction({ databaseUrl: inject('adminDatabaseUrl'), env: { OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: 'true' } }),
    ]);
  });
  afterAll(() => Promise.all([privileged?.stop(), allowed?.stop()]));

  it('refuses to write as a role that could change the trail, says why in its log, and writes when explicitly allowed', async () => {
    const t = await newTenant();
    const refused = await invoke(t.writeKey, { events: [event()] }, { url: privileged.baseUrl });
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toContain('its database role may change the audit trail (SUPABASE_DB_URL)');
    expect(privileged.output()).toContain('SUPABASE_DB_URL connects as postgres, which oms-audit will not serve as: it is a superuser');
    expect(privileged.output()).toContain('Set OMS_AUDIT_DB_URL to the URL of the oms_audit_runtime role');
    expect(await countEvents(t.id)).toBe(0);

    const written = await invoke(t.writeKey, { events: [event()] }, { url: allowed.baseUrl });
    expect(written.status).toBe(201);
    expect(allowed.output()).toContain('writing anyway (OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true)');
    expect(await countEvents(t.id)).toBe(1);
  });
});
