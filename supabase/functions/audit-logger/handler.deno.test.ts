/**
 * The function's handler under Deno: everything decided before the database
 * is asked (routing, CORS, limits, credentials that name no tenant), and a
 * database that cannot be reached (503, retry later). Storing events against
 * real PostgreSQL is covered by audit-logger.test.ts, which runs this
 * function under Deno from vitest.
 */
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { LIMITS } from '../_shared/limits.ts';
import { parseConfig } from './config.ts';
import { createAuditLogger } from './handler.ts';

const SECRET = 'test-jwt-secret-with-at-least-32-characters';
// Nothing listens on port 1: every database call fails at once with ECONNREFUSED.
const env = { SUPABASE_DB_URL: 'postgres://nobody:secret@127.0.0.1:1/none', SUPABASE_JWT_SECRET: SECRET, DB_POOL_MAX: '1' };
const URL_ = 'http://localhost/functions/v1/audit-logger';
const oneEvent = JSON.stringify({ events: [{ actor_id: 'a', actor_type: 'USER', object_type: 'ORDER', object_id: 'o', event_type: 'CREATE' }] });

async function withHandler(fn: (handler: ReturnType<typeof createAuditLogger>) => Promise<void>, overrides: Record<string, string> = {}) {
  const handler = createAuditLogger(parseConfig({ ...env, ...overrides }));
  try {
    await fn(handler);
  } finally {
    await handler.sql.end({ timeout: 1 });
  }
}

function token(claims: Record<string, unknown>, secret = SECRET, expires = '5m') {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(expires).sign(new TextEncoder().encode(secret));
}

async function errorOf(res: Response) {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = await res.json();
  assert.ok(body.error, JSON.stringify(body));
  return body.error as { code: string; message: string; issues?: { field: string }[] };
}

Deno.test('answers a CORS preflight for the headers supabase-js sends', () =>
  withHandler(async (handler) => {
    const res = await handler(new Request(URL_, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } }));
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods')!, /POST/);
    for (const header of ['authorization', 'apikey', 'content-type', 'x-client-info', 'x-oms-tenant-id']) {
      assert.match(res.headers.get('access-control-allow-headers')!, new RegExp(header));
    }
  }));

Deno.test('allows only the configured origins when a list is set', () =>
  withHandler(
    async (handler) => {
      const ok = await handler(new Request(URL_, { method: 'OPTIONS', headers: { origin: 'https://oms.example' } }));
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://oms.example');
      const other = await handler(new Request(URL_, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } }));
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    },
    { CORS_ALLOWED_ORIGINS: 'https://oms.example, https://ops.example' },
  ));

Deno.test('answers other paths and methods with JSON errors', () =>
  withHandler(async (handler) => {
    const missing = await handler(new Request('http://localhost/functions/v1/other', { method: 'POST', body: oneEvent }));
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, 'not_found');
    const get = await handler(new Request(URL_));
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
    assert.equal((await errorOf(get)).code, 'method_not_allowed');
    // Supabase hands the function its path without /functions/v1.
    const hosted = await handler(new Request('http://localhost/audit-logger', { method: 'POST', body: oneEvent }));
    assert.equal(hosted.status, 401);
    await hosted.body?.cancel();
  }));

Deno.test('refuses a body declared larger than the limit before looking at the credential', () =>
  withHandler(async (handler) => {
    const res = await handler(new Request(URL_, { method: 'POST', headers: { 'content-length': String(LIMITS.edgeBodyBytes + 1) }, body: oneEvent }));
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'body_too_large');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  }));

Deno.test('wants a credential, and refuses the anon key, user tokens and forged or expired tokens', () =>
  withHandler(async (handler) => {
    const post = (headers: Record<string, string>) => handler(new Request(URL_, { method: 'POST', headers, body: oneEvent }));
    const none = await post({});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="oms-audit"');
    assert.equal((await errorOf(none)).code, 'unauthorized');
    assert.equal((await post({ authorization: 'Basic abc' })).status, 401);
    for (const jwt of [
      await token({ role: 'anon' }),
      await token({ role: 'authenticated', sub: 'user-1' }),
      await token({ role: 'service_role' }, 'another-secret-that-is-long-enough-too'),
      await token({ role: 'service_role' }, SECRET, '-1m'),
    ]) {
      const res = await post({ authorization: `Bearer ${jwt}`, apikey: jwt, 'x-oms-tenant-id': crypto.randomUUID() });
      assert.equal(res.status, 401, jwt);
      await res.body?.cancel();
    }
  }));

Deno.test('a service-role token must name its tenant', () =>
  withHandler(async (handler) => {
    const jwt = await token({ role: 'service_role' });
    const missing = await handler(new Request(URL_, { method: 'POST', headers: { authorization: `Bearer ${jwt}` }, body: oneEvent }));
    assert.equal(missing.status, 400);
    assert.equal((await errorOf(missing)).issues?.[0]?.field, 'x-oms-tenant-id');
    const bad = await handler(new Request(URL_, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'x-oms-tenant-id': 'acme' }, body: oneEvent }));
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  }));

Deno.test('the JWT secret may be given as OMS_AUDIT_JWT_SECRET (hosted projects reserve SUPABASE_ names)', () =>
  withHandler(
    async (handler) => {
      const jwt = await token({ role: 'service_role' });
      const res = await handler(new Request(URL_, { method: 'POST', headers: { authorization: `Bearer ${jwt}` }, body: oneEvent }));
      // Verified: it gets as far as asking for the tenant.
      assert.equal(res.status, 400);
      assert.equal((await errorOf(res)).issues?.[0]?.field, 'x-oms-tenant-id');
    },
    { SUPABASE_JWT_SECRET: '', OMS_AUDIT_JWT_SECRET: SECRET },
  ));

Deno.test('service-role tokens are refused when no JWT secret is configured', () =>
  withHandler(
    async (handler) => {
      const jwt = await token({ role: 'service_role' });
      const res = await handler(new Request(URL_, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'x-oms-tenant-id': crypto.randomUUID() }, body: oneEvent }));
      assert.equal(res.status, 401);
      assert.match((await errorOf(res)).message, /API keys only/);
    },
    { SUPABASE_JWT_SECRET: '' },
  ));

Deno.test('an unreachable database is a 503 to retry, not a failure', () =>
  withHandler(async (handler) => {
    const res = await handler(new Request(URL_, { method: 'POST', headers: { authorization: `Bearer omsk_${'a'.repeat(32)}` }, body: oneEvent }));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal((await errorOf(res)).code, 'unavailable');
  }));

Deno.test("connects with OMS_AUDIT_DB_URL (the runtime role's URL) before Supabase's SUPABASE_DB_URL, and wants one of them", () => {
  const runtime = 'postgres://oms_audit_runtime:pw@db.example:6543/postgres';
  const both = parseConfig({ OMS_AUDIT_DB_URL: runtime, SUPABASE_DB_URL: 'postgres://postgres:pw@db.example:5432/postgres' });
  assert.equal(both.databaseUrl, runtime);
  assert.equal(both.databaseUrlVariable, 'OMS_AUDIT_DB_URL');
  assert.equal(parseConfig({ SUPABASE_DB_URL: runtime }).databaseUrlVariable, 'SUPABASE_DB_URL');
  assert.throws(() => parseConfig({}), /OMS_AUDIT_DB_URL: required: the URL of the oms_audit_runtime role/);
  assert.throws(() => parseConfig({ OMS_AUDIT_DB_URL: 'mysql://x' }), /OMS_AUDIT_DB_URL: must be a postgres/);
});
