/**
 * GET /api/v1/retention/report?format=json|csv — the compliance report of the
 * caller's tenant: per month, events hot, archived, restored and expired,
 * archive hashes and when they were verified, legal holds, seq gaps.
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { tenantIdOf } from '@/server/auth/caller.ts';
import { db } from '@/server/db/client.ts';
import { env } from '@/server/env.ts';
import { checkTenantParam } from '@/server/http/tenant-param.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { complianceCsv, tenantCompliance } from '@/server/services/retention/report.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req) => {
  const caller = await authorize(req, 'retention:view');
  chargeRate(caller, 'read');
  const params = new URL(req.url).searchParams;
  checkTenantParam(params, caller);
  const format = params.get('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') throw new AuditError('invalid_request', 'format must be json or csv', [{ field: 'format', message: 'must be json or csv' }]);
  const report = await tenantCompliance(db(), tenantIdOf(caller)!, env().RETENTION_MIN_TOTAL_YEARS);
  if (format === 'json') return json({ generated_at: new Date().toISOString(), tenants: [report] });
  const month = new Date().toISOString().slice(0, 10);
  return new Response(complianceCsv({ generated_at: new Date().toISOString(), tenants: [report] }), {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="oms-audit-compliance-${report.tenant_id}-${month}.csv"`,
      'cache-control': 'no-store',
    },
  });
});
