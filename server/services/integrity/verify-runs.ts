/**
 * Verification on demand, bounded: it reads a tenant's whole trail with
 * connections of its own (work_mem 256 MB each), so it runs at most once per
 * tenant at a time and at most MAX_CONCURRENT_VERIFICATIONS at once in the
 * process. Whoever asks while their tenant's verification runs receives that
 * run's report (its started_at says when it began) instead of starting
 * another, so neither a batched tRPC request of hundreds of calls nor many
 * clicks cost more than one run. A tenant's request beyond the process's cap
 * is answered 503 with Retry-After. Every transport that verifies on request
 * (tRPC, and so the console) calls verifyTenantBounded.
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { env } from '@/server/env.ts';
import { verifyTenant, type VerificationReport, type VerifyOptions } from './verify.ts';

/** Seconds a caller refused for the process's cap is asked to wait. */
export const VERIFY_RETRY_AFTER_SECONDS = 10;

interface Run {
  /** from/to and mode of the run: a caller asking for another scope does not share it. */
  scope: string;
  /** from/to alone. */
  period: string;
  report: Promise<VerificationReport>;
}

const holder = globalThis as typeof globalThis & { __omsAuditVerifications?: Map<string, Run> };
const runs = (holder.__omsAuditVerifications ??= new Map<string, Run>());

/** Tenants whose verification is running in this process. */
export function verificationsRunning(): number {
  return runs.size;
}

/**
 * Verifies a tenant, or joins the verification of it already running. Throws
 * 503 (Retry-After) when `maxConcurrent` other tenants are being verified, and
 * 429 when the tenant's running verification covers another scope.
 */
export function verifyTenantBounded(sql: Sql, tenantId: string, options: VerifyOptions, maxConcurrent = env().MAX_CONCURRENT_VERIFICATIONS): Promise<VerificationReport> {
  const period = JSON.stringify([options.from ?? null, options.to ?? null]);
  const scope = JSON.stringify([period, options.mode ?? 'full']);
  const running = runs.get(tenantId);
  if (running) {
    // An incremental request is answered by any running run of the whole trail (a full one covers more).
    if (running.scope === scope || (options.mode === 'incremental' && running.period === period && period === '[null,null]')) return running.report;
    return Promise.reject(new AuditError('rate_limited', 'A verification of this tenant over another period is running; retry when it has finished', [], VERIFY_RETRY_AFTER_SECONDS));
  }
  if (runs.size >= maxConcurrent) {
    return Promise.reject(new AuditError('unavailable', `${runs.size} verifications are running on this server, its limit; retry in ${VERIFY_RETRY_AFTER_SECONDS} s`, [], VERIFY_RETRY_AFTER_SECONDS));
  }
  const report = verifyTenant(sql, tenantId, options).finally(() => runs.delete(tenantId));
  runs.set(tenantId, { scope, period, report });
  return report;
}
