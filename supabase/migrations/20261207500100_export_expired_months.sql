-- The caller's tenant's archive parts (tenant from the request's claims) whose
-- retention ended and whose files were deleted (state expiring or expired),
-- overlapping [p_from, p_to). An export lists these months in its manifest:
-- their events were removed on purpose and are not in the file, so the file
-- says so instead of looking complete.
create function oms_audit.tenant_expired_parts(p_from timestamptz, p_to timestamptz)
returns table (month date, part int, state text, row_count bigint, min_seq bigint, max_seq bigint)
language sql
stable
security definer
set search_path = pg_catalog
as $$
  select p.month, p.part, p.state, p.row_count, p.min_seq, p.max_seq
  from oms_audit.archive_parts p
  where p.tenant_id = nullif((select auth.jwt()) ->> 'tenant_id', '')::uuid
    and p.state in ('expiring', 'expired')
    and (p_from is null or p.max_occurred_at >= p_from)
    and (p_to is null or p.min_occurred_at < p_to)
  order by p.month, p.part
$$;
revoke all on function oms_audit.tenant_expired_parts(timestamptz, timestamptz) from public;
grant execute on function oms_audit.tenant_expired_parts(timestamptz, timestamptz) to authenticated, service_role;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    grant execute on function oms_audit.tenant_expired_parts(timestamptz, timestamptz) to oms_audit_runtime;
  end if;
end $$;
