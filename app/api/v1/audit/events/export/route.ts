/**
 * GET /api/v1/audit/events/export?format=csv|jsonl[&excel=true][&bundle=true]&<the list endpoint's filters>[&order=asc|desc]
 * Streams every matching event (oldest first by default). The manifest's URL is
 * in the X-Audit-Manifest header. With bundle=true: a zip with the file, its
 * signed manifest, checkpoints, proofs and the standalone verifier. API keys need events:read; console users the
 * auditor or admin role.
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { filtersFromSearchParams, filtersOf } from '@/supabase/functions/_shared/filters.ts';
import { claimsOf, type Caller } from '@/server/auth/caller.ts';
import { observedClient } from '@/server/auth/credentials.ts';
import { db } from '@/server/db/client.ts';
import { bundleResponse, exportResponse } from '@/server/http/export-response.ts';
import { authorize, chargeRate, route } from '@/server/http/rest.ts';
import { checkTenantParam } from '@/server/http/tenant-param.ts';
import { EXPORT_FORMATS, startExport, type ExportFormat, type Exporter } from '@/server/services/export.ts';
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
  const format = (params.get('format') ?? 'csv').toLowerCase();
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new AuditError('invalid_request', 'format must be csv or jsonl', [{ field: 'format', message: 'must be csv or jsonl' }]);
  }
  const bundleParam = params.get('bundle');
  if (bundleParam !== null && !['true', 'false', '1', '0'].includes(bundleParam)) {
    throw new AuditError('invalid_request', 'bundle must be true or false', [{ field: 'bundle', message: 'must be true or false' }]);
  }
  const excelParam = params.get('excel');
  if (excelParam !== null && !['true', 'false', '1', '0'].includes(excelParam)) {
    throw new AuditError('invalid_request', 'excel must be true or false', [{ field: 'excel', message: 'must be true or false' }]);
  }
  if (params.has('cursor') || params.has('limit')) {
    throw new AuditError('invalid_request', 'An export holds every matching event: it takes no cursor or limit', [{ field: params.has('cursor') ? 'cursor' : 'limit', message: 'is not accepted by exports' }]);
  }
  const input = filtersFromSearchParams(params, { allow: ['tenant_id', 'format', 'excel', 'bundle'] });
  const claims = claimsOf(caller);
  const sql = db();
  const tenant = await getTenant(sql, claims.tenant_id);
  const started = await startExport(sql, claims, {
    format: format as ExportFormat,
    excel: excelParam === 'true' || excelParam === '1',
    filters: filtersOf(input),
    order: params.has('order') ? input.order : 'asc',
    exporter: exporterOf(caller),
    tenantName: tenant?.name,
  });
  if (bundleParam === 'true' || bundleParam === '1') return bundleResponse(req, sql, claims.tenant_id, started, observedClient(req.headers));
  return exportResponse(req, sql, claims.tenant_id, started, observedClient(req.headers));
});
