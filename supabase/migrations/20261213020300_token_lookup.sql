-- Searches by value token (docs/personal-data.md, "Search cost") run as `authenticated` under row-level security,
-- and PostgreSQL evaluates an operator that is not leakproof, such as jsonb's ?|, only after the policy's condition,
-- never as an index condition: the tokens' GIN index (audit_events_personal_tokens_idx) served no search, and every
-- search by a sealed value read the tenant's events one by one, testing each one's `personal` object.
--
-- This function reads the positions (occurred_at, seq) of the caller's tenant's events that carry any of the tokens,
-- through that index, as its owner: the tenant is the one of the caller's claims, exactly as the policy allows, so it
-- shows nothing the caller could not read. Searches then join those positions to the events by the primary key.
create function oms_audit.events_with_tokens(p_tokens text[]) returns table (occurred_at timestamptz, seq bigint)
language sql stable security definer set search_path = pg_catalog rows 100 as $$
  select e.occurred_at, e.seq
    from public.audit_events e
   where e.tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid
     and e.personal ? 'tokens' and (e.personal -> 'tokens') ?| p_tokens
$$;

revoke all on function oms_audit.events_with_tokens(text[]) from public;
grant execute on function oms_audit.events_with_tokens(text[]) to authenticated;
