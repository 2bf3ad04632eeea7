/**
 * Verification on demand is bounded: a batched tRPC request of 300 verify
 * calls, and many concurrent calls of one tenant, run one verification per
 * tenant at a time (callers share its report) and leave another tenant's
 * verification and export working; beyond the process's cap a verification
 * is refused with 503 + Retry-After. Over HTTP against a server of this test's own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { logEvents } from '@/server/services/ingest.ts';
import { hashPassword } from '@/server/auth/passwords.ts';
import { addMembership, createAccount } from '@/server/services/users.ts';
import { countEvents, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { trustedKeys } from './signing-key.ts';
import type { VerificationReport } from './verify.ts';
import { verifyTenantBounded } from './verify-runs.ts';

const PASSWORD = 'a long enough password';

interface Session {
  cookie: string;
  csrf: string;
}

let server: RunningServer;
let a: TestTenant;
let b: TestTenant;
/** Exports while a and b are verified (an export adds its record to the tenant's trail). */
let c: TestTenant;
let auditorA: Session;
let auditorB: Session;

async function signIn(tenant: TestTenant): Promise<Session> {
  const email = `auditor-${randomUUID()}@example.com`;
  const userId = (await createAccount(testSql(), { email, passwordHash: await hashPassword(PASSWORD), createdBy: 'test' }))!;
  await addMembership(testSql(), { tenantId: tenant.id, userId, role: 'auditor', createdBy: 'test' });
  // Sign-in is rate limited per client address.
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${server.baseUrl}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
    if (res.status === 429 && attempt < 8) {
      await new Promise((r) => setTimeout(r, (Number(res.headers.get('retry-after')) || 1) * 1000));
      continue;
    }
    expect(res.status, await res.clone().text()).toBe(200);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { cookie, csrf: decodeURIComponent(/oms_csrf=([^;]*)/.exec(cookie)?.[1] ?? '') };
  }
}

/** `calls` full integrity.verify calls in one batched tRPC request. */
async function verifyBatch(session: Session, calls: number): Promise<{ status: number; reports: VerificationReport[] }> {
  const res = await fetch(`${server.baseUrl}/api/trpc/${Array.from({ length: calls }, () => 'integrity.verify').join(',')}?batch=1`, {
    method: 'POST',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/json' },
    // Full verifications: the heavy kind these bounds are for.
    body: JSON.stringify(Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, { full: true }]))),
    signal: AbortSignal.timeout(300_000),
  });
  const body = (await res.json()) as { result?: { data: VerificationReport }; error?: unknown }[];
  return { status: res.status, reports: body.map((r) => r.result!.data) };
}

async function verifyOnce(session: Session): Promise<VerificationReport> {
  const { status, reports } = await verifyBatch(session, 1);
  expect(status).toBe(200);
  return reports[0]!;
}

/** A full CSV export through the REST route: its rows, and its manifest's status once recorded. */
async function exportAll(tenant: TestTenant): Promise<{ status: number; lines: number; manifest: { status: string; row_count: number } }> {
  const res = await fetch(`${server.baseUrl}/api/v1/audit/events/export?format=csv`, { headers: { authorization: `Bearer ${tenant.readKey}` }, signal: AbortSignal.timeout(300_000) });
  const text = await res.text();
  const manifestUrl = res.headers.get('x-audit-manifest');
  const manifest = manifestUrl ? await (await fetch(manifestUrl, { headers: { authorization: `Bearer ${tenant.readKey}` } })).json() : null;
  return { status: res.status, lines: text.split('\r\n').filter(Boolean).length, manifest };
}

/** Other tenants' verification and export went through (an exporting tenant's trail grows with the records of its exports). */
function expectWorking(verification: VerificationReport, exported: Awaited<ReturnType<typeof exportAll>>): void {
  expect(verification.ok).toBe(true);
  expect(verification.events_checked).toBeGreaterThanOrEqual(200);
  expect(exported.status).toBe(200);
  expect(exported.manifest).toMatchObject({ status: 'complete', row_count: exported.lines - 1 });
  expect(exported.lines).toBeGreaterThan(200);
}

async function recordedRuns(tenantId: string): Promise<number> {
  const [row] = await testSql()`select count(*)::int as n from oms_audit.integrity_verifications where tenant_id = ${tenantId}`;
  return row!.n as number;
}

async function withEvents(label: string, n: number): Promise<TestTenant> {
  const tenant = await newTenant(label);
  for (let i = 0; i < n; i += 500) {
    const events = parseBatch({ events: Array.from({ length: Math.min(500, n - i) }, () => event()) }, 500);
    await logEvents(testSql(), { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, events, { ip: null, userAgent: 'test' }, 'rest');
  }
  return tenant;
}

beforeAll(async () => {
  server = await startServer({
    databaseUrl: inject('databaseUrl'),
    env: {
      OMS_AUDIT_FUNCTIONS: 'false',
      OMS_AUDIT_SIGNING_KEY_FILE: inject('signingKeyFile'),
      RATE_LIMIT_READ_REQUESTS_PER_SEC: '100000',
      MAX_CONCURRENT_VERIFICATIONS: '2',
    },
  });
  [a, b, c] = await Promise.all([withEvents('verify-a', 3000), withEvents('verify-b', 200), withEvents('verify-c', 200)]);
  auditorA = await signIn(a);
  auditorB = await signIn(b);
}, 300_000);
afterAll(() => server?.stop());

describe('verification on demand', () => {
  it("runs one verification for 300 verify calls in one batched tRPC request, while another tenant's verify and export work", { timeout: 300_000 }, async () => {
    const runsBefore = await recordedRuns(a.id);
    // The trail holds the events written and the console's record of the sign-in.
    const eventsOfA = await countEvents(a.id);
    const [batch, otherVerify, otherExport] = await Promise.all([verifyBatch(auditorA, 300), verifyOnce(auditorB), exportAll(c)]);

    expect(batch.status).toBe(200);
    expect(batch.reports).toHaveLength(300);
    // Every call received the report of the one run.
    expect(new Set(batch.reports.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(batch.reports[0]).toMatchObject({ ok: true, events_checked: eventsOfA });
    expect(await recordedRuns(a.id)).toBe(runsBefore + 1);
    expect(await countEvents(a.id)).toBe(eventsOfA + 1);

    expectWorking(otherVerify, otherExport);
  });

  it("answers many concurrent verify calls of one tenant with full reports, while another tenant's verify and export work", { timeout: 300_000 }, async () => {
    const runsBefore = await recordedRuns(a.id);
    const eventsOfA = await countEvents(a.id);
    const [reports, otherVerify, otherExport] = await Promise.all([Promise.all(Array.from({ length: 40 }, () => verifyOnce(auditorA))), verifyOnce(auditorB), exportAll(c)]);
    // Each run is itself on the record (AUDIT_VERIFICATION), so a run that starts after earlier runs finished checks their events too.
    for (const report of reports) {
      expect(report).toMatchObject({ ok: true, problem_count: 0 });
      expect(report.events_checked).toBeGreaterThanOrEqual(eventsOfA);
      expect(report.events_checked).toBeLessThanOrEqual(eventsOfA + 40);
    }
    // One AUDIT_VERIFICATION event per run, not per call.
    expect(await countEvents(a.id)).toBe(eventsOfA + (await recordedRuns(a.id)) - runsBefore);
    // Never more runs than calls; calls that arrived together shared one.
    expect(await recordedRuns(a.id)).toBeLessThanOrEqual(runsBefore + 40);
    expectWorking(otherVerify, otherExport);
  });

  it("joins a tenant's running verification, and refuses one beyond the process's cap with 503 + Retry-After", async () => {
    const sql = testSql();
    const d = await withEvents('verify-d', 10);
    const options = { keys: trustedKeys(), record: false };
    // Runs are registered as they start: two running, the cap.
    const runA = verifyTenantBounded(sql, a.id, options, 2);
    const runB = verifyTenantBounded(sql, b.id, options, 2);
    expect(verifyTenantBounded(sql, a.id, options, 2)).toBe(runA);
    // An incremental request is answered by the full run going on (it covers more).
    expect(verifyTenantBounded(sql, a.id, { ...options, mode: 'incremental' }, 2)).toBe(runA);
    await expect(verifyTenantBounded(sql, d.id, options, 2)).rejects.toMatchObject({ status: 503, retryAfter: 10, message: expect.stringContaining('retry in 10 s') });
    // Another period of a tenant being verified waits for that run.
    await expect(verifyTenantBounded(sql, a.id, { ...options, to: '2999-01-01T00:00:00.000000Z' }, 2)).rejects.toMatchObject({ status: 429 });
    expect((await runA).ok).toBe(true);
    expect((await runB).ok).toBe(true);
    // Once they have finished, the third tenant's runs.
    expect(await verifyTenantBounded(sql, d.id, options, 2)).toMatchObject({ ok: true, events_checked: 10 });
  });
});
