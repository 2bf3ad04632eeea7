/**
 * The authorization matrix: every tRPC procedure of the router and every REST
 * route on disk, called over real HTTP with every kind of credential, against
 * the outcome the table below states. A procedure or route without a row fails
 * the test by name, so nothing new ships without a rule.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { signSessionToken } from '@/server/auth/jwt.ts';
import { csrfTokenFor } from '@/server/auth/session.ts';
import { createApiKey, revokeApiKey } from '@/server/services/api-keys.ts';
import { startSession } from '@/server/services/sessions.ts';
import { createStream } from '@/server/services/streams/streams.ts';
import { appRouter } from '@/server/routers/_app.ts';
import { baseUrl, event, newMember, newTenant, testSql, type TestMember, type TestTenant } from '@/test/fixtures.ts';

const PASSWORD = 'a long enough password';

const CREDENTIALS = [
  'none',
  'revokedKey',
  'readKey',
  'writeKey',
  'otherTenantKey',
  'viewer',
  'auditor',
  'admin',
  /** The admin's cookie session without the CSRF token. */
  'adminNoCsrf',
  'otherTenantUser',
  'expiredJwt',
  'wrongSecretJwt',
  'algNoneJwt',
] as const;
type Credential = (typeof CREDENTIALS)[number];

/** ok: passed authorization (the input may still give 400/404); 404: the other tenant's resource is not found. */
type Outcome = 'ok' | 401 | 403 | 404;
type Row = Record<Credential, Outcome>;

const UNAUTHENTICATED: Credential[] = ['none', 'revokedKey', 'expiredJwt', 'wrongSecretJwt', 'algNoneJwt'];
const ROLES = { viewer: ['viewer'], auditor: ['auditor'], admin: ['admin', 'adminNoCsrf', 'otherTenantUser'] } as const;

/**
 * One row: who gets through (public routes: everyone, whatever they
 * present); everyone else authenticated gets 403, the unauthenticated 401. `idOfTenantA`: the input names a resource of tenant A,
 * so credentials of tenant B that pass the check find nothing (404).
 */
function rule(allowed: Credential[], options: { mutation?: boolean; idOfTenantA?: boolean } = {}): Row {
  const row = {} as Row;
  for (const c of CREDENTIALS) {
    if (!allowed.includes(c)) row[c] = UNAUTHENTICATED.includes(c) ? 401 : 403;
    // A cookie session that changes something without the CSRF token is refused.
    else if (c === 'adminNoCsrf' && options.mutation) row[c] = 403;
    else if (options.idOfTenantA && (c === 'otherTenantKey' || c === 'otherTenantUser')) row[c] = 404;
    else row[c] = 'ok';
  }
  return row;
}

const writers: Credential[] = ['writeKey', 'otherTenantKey'];
const readers: Credential[] = ['readKey', 'otherTenantKey', 'viewer', 'auditor', ...ROLES.admin];
const exporters: Credential[] = ['readKey', 'otherTenantKey', 'auditor', ...ROLES.admin];
const retentionViewers = exporters;
const verifiers: Credential[] = ['auditor', ...ROLES.admin];
const admins: Credential[] = [...ROLES.admin];
const users: Credential[] = ['viewer', 'auditor', ...ROLES.admin];
const anyone: Credential[] = [...CREDENTIALS];
const authenticated = CREDENTIALS.filter((c) => !UNAUTHENTICATED.includes(c));

/** Per tRPC procedure: the expected outcome per credential. */
const PROCEDURE_RULES: Record<string, Row> = {
  'events.logBulk': rule(writers, { mutation: true }),
  'events.log': rule(writers, { mutation: true }),
  'events.list': rule(readers),
  'events.get': rule(readers, { idOfTenantA: true }),
  'events.objectHistory': rule(readers),
  'events.count': rule(readers),
  'events.activity': rule(admins),
  'events.facets': rule(readers),
  'events.shape': rule(readers),
  'session.me': rule(authenticated),
  'apiKeys.list': rule(admins),
  'apiKeys.create': rule(admins, { mutation: true }),
  'apiKeys.revoke': rule(admins, { mutation: true, idOfTenantA: true }),
  'users.list': rule(admins),
  'users.invitations': rule(admins),
  'users.invite': rule(admins, { mutation: true }),
  'users.revokeInvitation': rule(admins, { mutation: true, idOfTenantA: true }),
  'users.setRole': rule(admins, { mutation: true, idOfTenantA: true }),
  'users.disable': rule(admins, { mutation: true, idOfTenantA: true }),
  'users.enable': rule(admins, { mutation: true, idOfTenantA: true }),
  'users.remove': rule(admins, { mutation: true, idOfTenantA: true }),
  // A console user's own account: their sessions and password; API keys have none.
  'account.sessions': rule(users),
  'account.endSession': rule(users, { mutation: true }),
  'account.changePassword': rule(users, { mutation: true }),
  'savedSearches.list': rule(readers),
  // Saved searches belong to console users: API keys are refused even with events:read.
  'savedSearches.create': rule(users, { mutation: true }),
  'savedSearches.remove': rule(users, { mutation: true }),
  'exports.list': rule(exporters),
  'exports.manifest': rule(exporters, { idOfTenantA: true }),
  'integrity.status': rule(readers),
  'integrity.proof': rule(readers, { idOfTenantA: true }),
  'integrity.verify': rule(verifiers, { mutation: true }),
  'retention.policy': rule(retentionViewers),
  'retention.setPolicy': rule(admins, { mutation: true }),
  'retention.holds': rule(retentionViewers),
  'retention.addHold': rule(admins, { mutation: true }),
  'retention.releaseHold': rule(admins, { mutation: true, idOfTenantA: true }),
  'retention.months': rule(retentionViewers),
  'retention.report': rule(retentionViewers),
  'retention.restores': rule(retentionViewers),
  'retention.restore': rule(admins, { mutation: true }),
  'retention.releaseRestore': rule(admins, { mutation: true }),
  'personalData.settings': rule(admins),
  'personalData.preview': rule(admins),
  'personalData.erase': rule(admins, { mutation: true }),
  'system.overview': rule(admins),
  'streams.list': rule(admins),
  'streams.create': rule(admins, { mutation: true }),
  'streams.pause': rule(admins, { mutation: true, idOfTenantA: true }),
  'streams.resume': rule(admins, { mutation: true, idOfTenantA: true }),
  'streams.changeSecret': rule(admins, { mutation: true, idOfTenantA: true }),
  'streams.remove': rule(admins, { mutation: true, idOfTenantA: true }),
  'clock.report': rule(readers),
  'clock.event': rule(readers, { idOfTenantA: true }),
  'clock.tolerance': rule(readers),
  'clock.setTolerance': rule(admins, { mutation: true }),
  'relatedKeys.get': rule(readers),
  'relatedKeys.set': rule(admins, { mutation: true }),
};

/** Per REST route (path as on disk) and method. The tRPC endpoint is covered procedure by procedure. */
const ROUTE_RULES: Record<string, Row | 'trpc'> = {
  'POST /api/auth/sign-in': rule(anyone),
  // Sign-out ends the presented session (each credential brings a fresh one here); without one it only clears cookies.
  'POST /api/auth/sign-out': rule(anyone),
  // The invitation's secret is the credential: anyone may present one (an unknown one is 404).
  'POST /api/auth/invitation': rule(anyone),
  'POST /api/auth/invitation/accept': rule(anyone),
  // Only console users switch tenants; tenant A is not one of the other tenant's user's.
  'POST /api/auth/tenant': { ...rule(users, { mutation: true }), readKey: 401, writeKey: 401, otherTenantKey: 401, otherTenantUser: 403 },
  'GET /api/health': rule(anyone),
  'GET /api/integrity/public-key': rule(anyone),
  'GET /api/trpc/[trpc]': 'trpc',
  'POST /api/trpc/[trpc]': 'trpc',
  'GET /api/v1/audit/checkpoints': rule(readers),
  'GET /api/v1/audit/events': rule(readers),
  'POST /api/v1/audit/events': rule(writers, { mutation: true }),
  'GET /api/v1/audit/events/[id]': rule(readers, { idOfTenantA: true }),
  'GET /api/v1/audit/events/[id]/proof': rule(readers, { idOfTenantA: true }),
  'GET /api/v1/audit/events/export': rule(exporters),
  'GET /api/v1/audit/exports/[id]/manifest': rule(exporters, { idOfTenantA: true }),
  'GET /api/v1/retention/report': rule(retentionViewers),
  'GET /api/v1/audit/clock': rule(readers),
  'GET /api/v1/openapi.json': rule(anyone),
};

/** Every route file under app/api with the methods it exports. */
function restRoutesOnDisk(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'route.ts') {
        const source = readFileSync(full, 'utf8');
        const methods = new Set<string>();
        for (const m of source.matchAll(/export\s+(?:const|async\s+function|function)\s+(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\b/g)) methods.add(m[1]!);
        for (const m of source.matchAll(/export\s*\{([^}]*)\}/g)) for (const n of m[1]!.matchAll(/\bas\s+(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\b/g)) methods.add(n[1]!);
        const route = '/' + path.relative('app', path.dirname(full)).split(path.sep).join('/');
        for (const method of methods) found.push(`${method} ${route}`);
      }
    }
  };
  walk(path.join('app', 'api'));
  return found.sort();
}

function procedures(): { name: string; type: 'query' | 'mutation' }[] {
  const record = (appRouter as unknown as { _def: { procedures: Record<string, { _def: { type: 'query' | 'mutation' | 'subscription' } }> } })._def.procedures;
  return Object.entries(record).map(([name, p]) => {
    if (p._def.type === 'subscription') throw new Error(`${name}: subscriptions need a rule of their own`);
    return { name, type: p._def.type };
  });
}

interface Session {
  jar: string;
  csrf: string;
}

async function signIn(email: string): Promise<Session> {
  // Sign-in is rate limited per client address; other test files sign in from the same one.
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${baseUrl()}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
    if (res.status === 429 && attempt < 8) {
      await new Promise((r) => setTimeout(r, (Number(res.headers.get('retry-after')) || 1) * 1000));
      continue;
    }
    expect(res.status, await res.clone().text()).toBe(200);
    const jar = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { jar, csrf: decodeURIComponent(/oms_csrf=([^;]*)/.exec(jar)?.[1] ?? '') };
  }
}

const asSession = (m: TestMember): Session => ({ jar: m.cookie, csrf: m.csrf });

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface World {
  a: TestTenant;
  b: TestTenant;
  headers: Record<Credential, (mutation: boolean) => Record<string, string>>;
  eventId: string;
  exportId: string;
  holdId: string;
  spareKeyId: string;
  spareUserId: string;
  invitationId: string;
  members: Partial<Record<Credential, TestMember>>;
  streamId: string;
}

let world: World;

beforeAll(async () => {
  const [a, b] = await Promise.all([newTenant('authz-a'), newTenant('authz-b')]);
  const sql = testSql();
  const revoked = await createApiKey(sql, { tenantId: a.id, scopes: ['events:write', 'events:read'], name: 'revoked' });
  await revokeApiKey(sql, { id: revoked.id });
  const spareKey = await createApiKey(sql, { tenantId: a.id, scopes: ['events:read'], name: 'spare' });
  const make = (tenantId: string, role: 'viewer' | 'auditor' | 'admin') => newMember(tenantId, role, { email: `authz-${role}-${randomUUID()}@example.com` });
  const [viewerMember, auditorMember, adminMember, otherAdminMember, spareMember] = await Promise.all([make(a.id, 'viewer'), make(a.id, 'auditor'), make(a.id, 'admin'), make(b.id, 'admin'), make(a.id, 'viewer')]);
  const [admin, spare] = [adminMember.user, spareMember.user];
  // Over HTTP, as a browser signs in (the other members come with a recorded session).
  const sessions = { viewer: asSession(viewerMember), auditor: asSession(auditorMember), admin: await signIn(admin.email), otherTenantUser: asSession(otherAdminMember) };
  const members = { viewer: viewerMember, auditor: auditorMember, admin: adminMember, adminNoCsrf: adminMember, otherTenantUser: otherAdminMember };

  const claims = { email: admin.email, role: 'authenticated', sid: 'forged', app_metadata: { tenants: [{ tenant_id: a.id, role: 'admin' }] } };
  const expired = (await signSessionToken({ userId: admin.id, email: admin.email, sessionId: 'expired', tenants: [{ tenant_id: a.id, role: 'admin' }], hours: -1 })).token;
  const wrongSecret = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(admin.id)
    .setAudience('authenticated')
    .setIssuer('oms-audit')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(randomBytes(48));
  const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, sub: admin.id, aud: 'authenticated', iss: 'oms-audit', exp: Math.floor(Date.now() / 1000) + 3600 })}.`;

  const key = (k: string) => () => ({ authorization: `Bearer ${k}` });
  const cookie = (s: Session, csrf = true) => (mutation: boolean) => ({ cookie: s.jar, ...(mutation && csrf ? { 'x-csrf-token': s.csrf } : {}) });
  const jwt = (t: string) => () => ({ authorization: `Bearer ${t}`, 'x-oms-tenant': a.id });
  const headers: World['headers'] = {
    none: () => ({}),
    revokedKey: key(revoked.key),
    readKey: key(a.readKey),
    writeKey: key(a.writeKey),
    otherTenantKey: key(b.key),
    viewer: cookie(sessions.viewer),
    auditor: cookie(sessions.auditor),
    admin: cookie(sessions.admin),
    adminNoCsrf: cookie(sessions.admin, false),
    otherTenantUser: cookie(sessions.otherTenantUser),
    expiredJwt: jwt(expired),
    wrongSecretJwt: jwt(wrongSecret),
    algNoneJwt: jwt(unsigned),
  };

  // Resources of tenant A that the id-taking procedures and routes name.
  const posted = await fetch(`${baseUrl()}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event({ object_id: 'AUTHZ-1' })] }) });
  const eventId = ((await posted.json()) as { ids: string[] }).ids[0]!;
  const exported = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=jsonl`, { headers: { authorization: `Bearer ${a.readKey}` } });
  await exported.arrayBuffer();
  const exportId = exported.headers.get('x-audit-export-id');
  expect(exportId, 'export id header').toMatch(/^[0-9a-f-]{36}$/);
  const hold = await fetch(`${baseUrl()}/api/trpc/retention.addHold`, { method: 'POST', headers: { ...headers.admin(true), 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'matrix' }) });
  expect(hold.status).toBe(200);
  const holdId = ((await hold.json()) as { result: { data: { id: string } } }).result.data.id;
  const invited = await fetch(`${baseUrl()}/api/trpc/users.invite`, { method: 'POST', headers: { ...headers.admin(true), 'content-type': 'application/json' }, body: JSON.stringify({ email: `matrix-${randomUUID()}@example.com`, role: 'viewer' }) });
  expect(invited.status).toBe(200);
  const invitationId = ((await invited.json()) as { result: { data: { invitation: { id: string } } } }).result.data.invitation.id;
  const { stream } = await createStream(sql, a.id, { format: 'webhook', name: 'matrix', url: 'https://siem.example.com/hook' }, { actorType: 'SERVICE', actorId: 'matrix', principal: 'test', writer: { kind: 'operator', name: 'test' }, source: 'test', method: 'cli', observed: { ip: null, userAgent: null } });
  world = { a, b, headers, eventId, exportId: exportId!, holdId, spareKeyId: spareKey.id, spareUserId: spare.id, invitationId, members, streamId: stream.id };
});

/** A minimal valid input per procedure; one that names a resource names tenant A's. */
function inputOf(name: string, w: World): unknown {
  const inputs: Record<string, unknown> = {
    'events.logBulk': { events: [event()] },
    'events.log': event(),
    'events.list': { limit: 1 },
    'events.get': { id: w.eventId },
    'events.objectHistory': { object_type: 'ORDER', object_id: 'AUTHZ-1' },
    'events.count': {},
    'events.shape': {},
    'apiKeys.create': { name: 'matrix', scopes: ['events:read'] },
    'apiKeys.revoke': { id: w.spareKeyId },
    'users.invite': { email: `matrix-${randomUUID()}@example.com`, role: 'viewer' },
    'users.revokeInvitation': { id: w.invitationId },
    'users.setRole': { user_id: w.spareUserId, role: 'auditor' },
    'users.disable': { user_id: w.spareUserId },
    'users.enable': { user_id: w.spareUserId },
    'users.remove': { user_id: w.spareUserId },
    'account.endSession': { id: 'not-a-session-of-mine' },
    // Refused after authorization (an empty current password): the matrix changes nobody's password.
    'account.changePassword': { current_password: '', new_password: 'x' },
    'savedSearches.create': { name: 'matrix', query: 'object_id=AUTHZ-1' },
    'savedSearches.remove': { id: randomUUID() },
    'exports.manifest': { id: w.exportId },
    'integrity.proof': { id: w.eventId },
    'retention.setPolicy': { total_years: 7 },
    'retention.holds': {},
    'retention.addHold': { reason: 'matrix' },
    'retention.releaseHold': { id: w.holdId, reason: 'matrix' },
    'retention.restore': { month: '2001-01' },
    'retention.releaseRestore': { month: '2001-01' },
    // Refused after authorization (the confirmation differs): the matrix erases nobody.
    'personalData.erase': { subject_id: 'matrix-subject', reason: 'matrix', confirm: 'not the subject' },
    'personalData.preview': { subject_id: 'matrix-subject' },
    'streams.create': { format: 'webhook', name: `matrix-${randomUUID()}`, url: 'https://siem.example.com/hook' },
    'streams.pause': { id: w.streamId },
    'streams.resume': { id: w.streamId },
    'streams.changeSecret': { id: w.streamId },
    'streams.remove': { id: w.streamId },
    'clock.event': { id: w.eventId },
    // The defaults again: the matrix changes no tenant's tolerance.
    'clock.setTolerance': { tolerance_ms: 50, network_delay_ms: 0 },
    // The default keys again: the matrix changes no tenant's whole order.
    'relatedKeys.set': { keys: ['order_id', 'parent_order_id', 'client_order_id'] },
  };
  return inputs[name];
}

function restRequest(route: string, w: World): { path: string; body?: unknown } {
  const [method, pattern] = route.split(' ') as [string, string];
  const resolved = pattern.replace('/exports/[id]', `/exports/${w.exportId}`).replace('[id]', w.eventId);
  const bodies: Record<string, unknown> = {
    'POST /api/auth/sign-in': {},
    'POST /api/auth/sign-out': {},
    'POST /api/auth/invitation': { token: 'omsi_not-an-invitation' },
    'POST /api/auth/invitation/accept': { token: 'omsi_not-an-invitation', as: 'new_account', password: PASSWORD },
    'POST /api/auth/tenant': { tenant_id: w.a.id },
    'POST /api/v1/audit/events': { events: [event()] },
  };
  const query: Record<string, string> = { 'GET /api/v1/audit/events/export': '?format=jsonl', 'GET /api/v1/audit/events': '?limit=1' };
  return { path: resolved + (query[route] ?? ''), body: method === 'POST' ? bodies[route] : undefined };
}

interface Result {
  label: string;
  want: Outcome;
  status: number;
  text: string;
  credential: Credential;
}

/** Headers of a credential; `freshSession`: a console user's new session of its own (for sign-out, which ends it). */
async function headersOf(credential: Credential, mutation: boolean, freshSession: boolean): Promise<Record<string, string>> {
  const member = world.members[credential];
  if (!freshSession || !member) return world.headers[credential](mutation);
  const session = await startSession(testSql(), member.user, { ip: null, userAgent: 'matrix' }, 'password');
  const csrf: Record<string, string> = credential === 'adminNoCsrf' || !mutation ? {} : { 'x-csrf-token': csrfTokenFor(session.sessionId) };
  return { cookie: `oms_session=${encodeURIComponent(session.token)}`, ...csrf };
}

async function send(label: string, credential: Credential, want: Outcome, method: string, url: string, body: unknown, mutation: boolean): Promise<Result> {
  const headers: Record<string, string> = { ...(await headersOf(credential, mutation, label === 'POST /api/auth/sign-out')) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl()}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { label: `${label} as ${credential}`, want, status: res.status, text: await res.text(), credential };
}

function check(results: Result[]) {
  const failures: string[] = [];
  for (const r of results) {
    const denied = r.status === 401 || r.status === 403;
    const ok = r.want === 'ok' ? !denied && r.status < 500 : r.status === r.want;
    if (!ok) failures.push(`${r.label}: expected ${r.want}, got ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status >= 500) failures.push(`${r.label}: server error ${r.status}`);
    // Whatever another tenant's credential is told, tenant A never appears in it.
    if ((r.credential === 'otherTenantKey' || r.credential === 'otherTenantUser') && r.text.includes(world.a.id)) failures.push(`${r.label}: shows tenant A`);
    if (r.status >= 400 && /at .*\.(ts|js):\d+/.test(r.text)) failures.push(`${r.label}: stack trace in the response`);
  }
  expect(failures).toEqual([]);
}

async function inBatches<T>(tasks: (() => Promise<T>)[], size = 8): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < tasks.length; i += size) out.push(...(await Promise.all(tasks.slice(i, i + size).map((t) => t()))));
  return out;
}

describe('authorization matrix', () => {
  it('has a rule for every tRPC procedure and every REST route, and none for what no longer exists', () => {
    const names = procedures().map((p) => p.name);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !(n in PROCEDURE_RULES)), 'tRPC procedures without a rule').toEqual([]);
    expect(Object.keys(PROCEDURE_RULES).filter((n) => !names.includes(n)), 'rules for procedures that do not exist').toEqual([]);
    const routes = restRoutesOnDisk();
    expect(routes).toContain('POST /api/v1/audit/events');
    expect(routes.filter((r) => !(r in ROUTE_RULES)), 'REST routes without a rule').toEqual([]);
    expect(Object.keys(ROUTE_RULES).filter((r) => !routes.includes(r)), 'rules for routes that do not exist').toEqual([]);
  });

  it('gives every credential exactly its outcome on every tRPC procedure', { timeout: 120_000 }, async () => {
    const tasks = procedures().flatMap(({ name, type }) => {
      const row = PROCEDURE_RULES[name]!;
      return CREDENTIALS.map((credential) => () => {
        const input = inputOf(name, world);
        if (type === 'query') {
          const url = `/api/trpc/${name}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`;
          return send(name, credential, row[credential], 'GET', url, undefined, false);
        }
        return send(name, credential, row[credential], 'POST', `/api/trpc/${name}`, input ?? {}, true);
      });
    });
    check(await inBatches(tasks));
  });

  it('gives every credential exactly its outcome on every REST route', { timeout: 120_000 }, async () => {
    const tasks = restRoutesOnDisk().flatMap((route) => {
      const row = ROUTE_RULES[route]!;
      if (row === 'trpc') return [];
      const [method] = route.split(' ') as [string];
      return CREDENTIALS.map((credential) => () => {
        const { path: url, body } = restRequest(route, world);
        return send(route, credential, row[credential], method, url, body, method !== 'GET');
      });
    });
    check(await inBatches(tasks));
  });
});
