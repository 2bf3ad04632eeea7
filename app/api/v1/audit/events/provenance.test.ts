/**
 * Every event says which credential wrote it (written_by, covered by the event
 * hash), on every entry point; the console's own records (AUDIT_* types, the
 * console's source) cannot be written by an app.
 */
import { parse } from 'csv-parse/sync';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { startFunction, type RunningFunction } from '@/test/functions.ts';
import { baseUrl, call, countEvents, event, newMember, newTenant, testSql } from '@/test/fixtures.ts';

const functionUrl = () => `${inject('functionsBaseUrl')}/functions/v1/audit-logger`;

async function post(url: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  // tRPC puts the field issues under error.data; REST and the edge function under error.
  const error = json.error as { code?: string; message?: string; issues?: unknown[]; data?: { issues?: unknown[] } } | undefined;
  return { status: res.status, json, issues: (error?.issues ?? error?.data?.issues ?? []) as { index?: number; field: string }[] };
}

describe("the console's own records are reserved", () => {
  it('refuses AUDIT_* event types and the console source from an API key on REST, single events, tRPC and the edge function', async () => {
    const t = await newTenant('reserved');
    const batch = { events: [event(), event({ event_type: 'AUDIT_SIGN_IN' }), event({ source: 'oms-audit-console' })] };
    for (const url of [`${baseUrl()}/api/v1/audit/events`, `${baseUrl()}/api/trpc/events.logBulk`, functionUrl()]) {
      const res = await post(url, t.writeKey, batch);
      expect(res.status, url).toBe(400);
      expect(res.issues.map((i) => [i.index, i.field]), url).toEqual([
        [1, 'event_type'],
        [2, 'source'],
      ]);
    }
    for (const url of [`${baseUrl()}/api/v1/audit/event`, `${baseUrl()}/api/trpc/events.log`]) {
      const typed = await post(url, t.writeKey, event({ event_type: 'audit_export' }));
      expect(typed.status, url).toBe(400);
      expect(typed.issues[0], url).toMatchObject({ field: 'event_type' });
      const sourced = await post(url, t.writeKey, event({ source: 'OMS-AUDIT-CONSOLE' }));
      expect(sourced.status, url).toBe(400);
      expect(sourced.issues[0], url).toMatchObject({ field: 'source' });
    }
    expect(await countEvents(t.id)).toBe(0);
  });

  it('refuses them from a service-role token on the edge function too', async () => {
    const secret = `jwt-secret-${randomUUID()}`;
    const fn: RunningFunction = await startFunction({ databaseUrl: inject('databaseUrl'), env: { OMS_AUDIT_JWT_SECRET: secret } });
    try {
      const t = await newTenant('reserved-service');
      const token = await new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(secret));
      const refused = await post(fn.url, token, { events: [event({ event_type: 'AUDIT_VIEW' })] }, { 'x-oms-tenant-id': t.id });
      expect(refused.status).toBe(400);
      expect(refused.issues).toEqual([expect.objectContaining({ index: 0, field: 'event_type' })]);
      const stored = await post(fn.url, token, { events: [event()] }, { 'x-oms-tenant-id': t.id });
      expect(stored.status).toBe(201);
      const [row] = await testSql()`select written_by from public.audit_events where tenant_id = ${t.id}`;
      expect(row).toEqual({ written_by: 'service_role' });
    } finally {
      await fn.stop();
    }
  });
});

describe('provenance', () => {
  let t: Awaited<ReturnType<typeof newTenant>>;
  let keyId: string;
  beforeAll(async () => {
    t = await newTenant('provenance');
    [{ id: keyId }] = (await testSql()`select id from oms_audit.api_keys where tenant_id = ${t.id} and name = 'write'`) as unknown as [{ id: string }];
  });

  it('records the API key that wrote an event on every entry point, hashed and returned by the read API', async () => {
    const writes = [
      await post(`${baseUrl()}/api/v1/audit/events`, t.writeKey, { events: [event()] }),
      await post(`${baseUrl()}/api/v1/audit/event`, t.writeKey, event()),
      await post(`${baseUrl()}/api/trpc/events.logBulk`, t.writeKey, { events: [event()] }),
      await post(functionUrl(), t.writeKey, { events: [event()] }),
    ];
    const ids = writes.map((w) => ((w.json.result as { data: { ids: string[] } } | undefined)?.data.ids ?? (w.json.ids as string[]))[0]!);
    for (const id of ids) {
      const { body } = await call('GET', `/api/v1/audit/events/${id}`, { key: t.readKey });
      expect(body).toMatchObject({ id, schema_version: 2, written_by: `api_key:${keyId}` });
      const [ledger] = await testSql()`select encode(event_hash, 'hex') as hash from public.audit_ledger where tenant_id = ${t.id} and id = ${id}`;
      expect(eventHash(body)).toBe(ledger!.hash);
      expect(eventHash({ ...body, written_by: 'console' })).not.toBe(ledger!.hash);
    }
  });

  it('exports written_by as a column of CSV and a key of JSON Lines', async () => {
    const csv = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv`, { headers: { authorization: `Bearer ${t.readKey}` } });
    const [columns, cells] = parse(await csv.text()) as string[][];
    expect(columns!.slice(-3)).toEqual(['written_by', 'personal', 'clock_flag']);
    expect(cells!.length).toBe(columns!.length);
    expect(cells!.slice(-3, -1)).toEqual([`api_key:${keyId}`, '']);
    const jsonl = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=jsonl`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(JSON.parse((await jsonl.text()).split('\n')[0]!)).toMatchObject({ written_by: `api_key:${keyId}` });
  });

  it("records the console's own records as written by the console for the signed-in user", async () => {
    const { user, email, password } = await newMember(t.id, 'auditor', { email: `provenance-${randomUUID()}@example.com` });
    expect((await call('POST', '/api/auth/sign-in', { body: { email, password } })).status).toBe(200);
    const [row] = await testSql()`select event_type, source, written_by from public.audit_events where tenant_id = ${t.id} and event_type = 'AUDIT_SIGN_IN'`;
    expect(row).toEqual({ event_type: 'AUDIT_SIGN_IN', source: 'oms-audit-console', written_by: `console:${user.id}` });
  });
});
