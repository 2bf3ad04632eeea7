/**
 * GET /api/v1/audit/events/export?format=csv|jsonl|parquet[&excel=true][&bundle=true][&expected_rows=N][&personal=stored|opened|masked]&<the list endpoint's filters>[&order=asc|desc]
 * Streams every matching event, hot and archived months alike (oldest first by
 * default). The manifest's URL is in the X-Audit-Manifest header. With
 * bundle=true: a zip with the file, its signed manifest, checkpoints, proofs
 * and the standalone verifier (docs/export-format.md). API keys need
 * events:read; console users the auditor or admin role. With DATABASE_READ_URL
 * the rows are read from the replica once it has caught up (manifest.read_from).
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { claimsOf, seesPersonalData, type Caller } from '@/server/auth/caller.ts';
import { observedClient } from '@/server/auth/credentials.ts';
import { db, readSource } from '@/server/db/client.ts';
import { log } from '@/server/observability/log.ts';
import { bundleResponse, exportResponse } from '@/server/http/export-response.ts';
import { authorize, chargeRate, route } from '@/server/http/rest.ts';
import { checkTenantParam } from '@/server/http/tenant-param.ts';
import { startExport, type Exporter } from '@/server/services/export.ts';
import { parseExportRequest } from '@/server/services/exports/request.ts';
import { getTenant } from '@/server/services/tenants.ts';

export const dynamic = 'force-dynamic';

function exporterOf(caller: Caller): Exporter {
  if (caller.kind === 'user') return { kind: 'user', user_id: caller.userId, email: caller.email };
  if (caller.kind === 'api_key') return { kind: 'api_key', key_id: caller.keyId };
  throw new AuditError('unauthorized', 'Authentication required');
}

export const GET = route(async (req) => {
  const caller = await authorize(req, 'events:export');
  chargeRate(caller, 'read');
  const params = new URL(req.url).searchParams;
  checkTenantParam(params, caller);
  const request = parseExportRequest(params, { allow: ['tenant_id'] });
  // Refused before anything starts (no manifest, no record of an export): never silently masked.
  if (request.personal === 'opened' && !seesPersonalData(caller)) {
    throw new AuditError('forbidden', 'personal=opened needs the right to see personal data (console auditors and admins, API keys); ask for personal=masked or stored');
  }
  const claims = claimsOf(caller);
  const sql = db();
  const tenant = await getTenant(sql, claims.tenant_id);
  // Rows from a caught-up replica when DATABASE_READ_URL is set (else the primary); the manifest is written on the primary.
  const reads = await readSource();
  const started = await startExport(sql, claims, { ...request, exporter: exporterOf(caller), tenantName: tenant?.name }, reads);
  log().info({ export_id: started.id, read_from: reads.database, primary_lsn: reads.primaryLsn, reason: reads.reason }, `export reads from the ${reads.database}`);
  if (request.bundle) return bundleResponse(req, sql, claims.tenant_id, started, observedClient(req.headers));
  return exportResponse(req, sql, claims.tenant_id, started, observedClient(req.headers));
});
