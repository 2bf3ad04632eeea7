/** Shared helpers for integration tests: a database connection, fresh tenants with keys, HTTP calls. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import type { AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import type { TenantRole } from '@/server/auth/caller.ts';
import { hashPassword } from '@/server/auth/passwords.ts';
import { csrfTokenFor } from '@/server/auth/session.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { startSession } from '@/server/services/sessions.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { addMembership, createAccount, getUser, type ConsoleUser } from '@/server/services/users.ts';

export const baseUrl = () => inject('baseUrl');

let shared: Sql | undefined;
/** One pool per test file, as the runtime role (what the server connects as). */
export function testSql(): Sql {
  shared ??= connect(inject('databaseUrl'), { max: 8, prepare: inject('dbPrepare'), applicationName: 'oms-audit-test' });
  return shared;
}

let admin: Sql | undefined;
/** The superuser of the test database: for tests that play an attacker with every database right. */
export function adminSql(): Sql {
  admin ??= connect(inject('adminDatabaseUrl'), { max: 2, applicationName: 'oms-audit-test-admin' });
  return admin;
}

/**
 * Runs statements as an attacker with the database owner's or a superuser's
 * rights: the append-only triggers fire whatever session_replication_role
 * says, so the attacker switches them off (ALTER TABLE … DISABLE TRIGGER) for
 * the transaction, as the owner could. Tables are locked in the write path's
 * order (ledger before events), so concurrent writers wait rather than deadlock.
 */
export async function tamper(...statements: string[]): Promise<void> {
  const tables = ['public.audit_ledger', 'public.audit_events', 'oms_audit.checkpoints'];
  await adminSql().begin(async (tx) => {
    const triggers = await tx`
      select tgrelid::regclass::text as rel, tgname from pg_trigger
      where tgrelid = any(${tables}::regclass[]) and not tgisinternal and tgparentid = 0
        -- Not a guard: keeps the object/actor month maps, so planted rows show in histories as stored ones do.
        and tgname <> 'audit_events_months'
      order by array_position(${tables}::regclass[], tgrelid), tgname`;
    for (const t of triggers) await tx.unsafe(`alter table ${t.rel as string} disable trigger ${t.tgname as string}`);
    for (const statement of statements) await tx.unsafe(statement);
    for (const t of triggers) await tx.unsafe(`alter table ${t.rel as string} enable always trigger ${t.tgname as string}`);
  });
}

export interface TestTenant {
  id: string;
  name: string;
  /** events:write + events:read */
  key: string;
  keyId: string;
  writeKey: string;
  readKey: string;
}

export async function newTenant(label = 'tenant'): Promise<TestTenant> {
  const sql = testSql();
  const tenant = await createTenant(sql, `${label}-${randomUUID()}`);
  const both = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:write', 'events:read'], name: 'both' });
  const write = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:write'], name: 'write' });
  const read = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:read'], name: 'read' });
  return { id: tenant.id, name: tenant.name, key: both.key, keyId: both.id, writeKey: write.key, readKey: read.key };
}

export function event(overrides: Partial<AuditEventRequest> = {}): AuditEventRequest {
  return {
    actor_id: 'trader-7',
    actor_type: 'USER',
    object_type: 'ORDER',
    object_id: `ORD-${randomUUID().slice(0, 8)}`,
    event_type: 'CREATE',
    context: { symbol: 'AAPL', side: 'BUY', quantity: 100 },
    ...overrides,
  };
}

export async function call(method: string, path: string, options: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl()}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, headers: res.headers, body: json as any };
}

export async function countEvents(tenantId: string): Promise<number> {
  const [row] = await testSql()`select count(*)::int as n from public.audit_events where tenant_id = ${tenantId}`;
  return row!.n as number;
}

export const TEST_PASSWORD = 'a long enough password';

export interface TestMember {
  user: ConsoleUser;
  email: string;
  password: string;
  /** A recorded session of the member: its cookie header, CSRF token, bearer token and id. */
  cookie: string;
  csrf: string;
  token: string;
  sessionId: string;
}

/**
 * A person with an account (password TEST_PASSWORD) and a role in a tenant,
 * signed in once: the state an accepted invitation leaves, without the
 * invitation's own events in the tenant's trail.
 */
export async function newMember(tenantId: string, role: TenantRole, options: { email?: string } = {}): Promise<TestMember> {
  const sql = testSql();
  const email = options.email ?? `${role}-${randomUUID()}@example.com`;
  const userId = await createAccount(sql, { email, passwordHash: await hashPassword(TEST_PASSWORD), createdBy: 'test' });
  if (!userId) throw new Error(`${email} has an account already`);
  await addMembership(sql, { tenantId, userId, role, createdBy: 'test' });
  const user = (await getUser(sql, userId))!;
  const session = await startSession(sql, user, { ip: null, userAgent: 'test' }, 'password');
  return { user, email, password: TEST_PASSWORD, cookie: `oms_session=${encodeURIComponent(session.token)}`, csrf: csrfTokenFor(session.sessionId), token: session.token, sessionId: session.sessionId };
}
