/**
 * Scheduled verification (the server's background job, INTEGRITY_VERIFY_EVERY_MINUTES):
 * each tenant in turn, incremental — what was sealed since its last signed
 * verification — or full once the full verification that chain rests on is
 * older than INTEGRITY_FULL_VERIFY_EVERY_HOURS, so that events verified long
 * ago are checked again. Runs through verifyTenantBounded, sharing the
 * process's cap with verifications on request.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { trustedKeys } from './signing-key.ts';
import { trustedBase } from './verify-record.ts';
import { verifyTenantBounded } from './verify-runs.ts';

/** Whether a tenant's next scheduled verification must be full. */
export function fullDue(fullVerifiedAt: string | null, env: Env, now = Date.now()): boolean {
  if (!fullVerifiedAt) return true;
  return env.INTEGRITY_FULL_VERIFY_EVERY_HOURS > 0 && now - Date.parse(fullVerifiedAt) >= env.INTEGRITY_FULL_VERIFY_EVERY_HOURS * 3600_000;
}

/** Verifies every tenant once; returns what failed or found problems, by tenant. */
export async function verifyOnSchedule(sql: Sql, env: Env): Promise<string[]> {
  const keys = trustedKeys();
  const failed: string[] = [];
  for (const { id } of await sql`select id from oms_audit.tenants order by id`) {
    const tenantId = id as string;
    try {
      const base = await trustedBase(sql, tenantId, keys);
      const mode = fullDue(base?.record.ok ? base.record.full_verified_at : null, env) ? 'full' : 'incremental';
      const report = await verifyTenantBounded(sql, tenantId, { keys, mode, env, verifiedBy: 'oms-audit-server' }, Math.max(1, env.MAX_CONCURRENT_VERIFICATIONS));
      if (!report.ok) failed.push(`${tenantId}: ${report.problem_count} problem(s) found by ${report.kind} verification, the first: ${report.problems[0]?.detail}`);
    } catch (err) {
      failed.push(`${tenantId}: ${(err as Error).message}`);
    }
  }
  return failed;
}
