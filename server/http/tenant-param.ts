import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { tenantIdOf, type Caller } from '@/server/auth/caller.ts';

/**
 * The seed's clients put tenant_id in the query string. The tenant always
 * comes from the credential; a tenant_id naming another tenant is refused
 * (403), as it is in a write.
 */
export function checkTenantParam(params: URLSearchParams, caller: Caller): void {
  const asked = params.get('tenant_id');
  if (asked === null) return;
  if (asked.toLowerCase() !== tenantIdOf(caller)) {
    throw new AuditError('tenant_mismatch', 'tenant_id names another tenant than the credential\'s', [{ field: 'tenant_id', message: 'differs from the tenant of the credential' }]);
  }
}
