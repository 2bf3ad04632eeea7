-- A batch sealed under a subject's key must not be stored once an erasure has destroyed that key
-- (docs/personal-data.md, "Erasure"). The write path seals a batch before its transaction; an erasure can
-- check the subject's events, destroy its keys and commit in between. The writer therefore calls this
-- function in its transaction after its insert has taken the tenant's sequence lock, which an erasure also
-- takes (after its checks, until it commits):
--   - an erasure that committed before the writer got the lock is visible to this call (a new statement, a new
--     snapshot): the call raises OA001, the transaction rolls back, and the writer seals the batch again under
--     the subject's new key;
--   - an erasure that takes the lock after the writer waits for the writer's commit, and its re-check of the
--     events stored since its first check then counts this batch (holds, retention) before anything is destroyed.
-- Either way no event is stored under a key destroyed by an erasure that did not check it.
-- The tenant comes from the request's claims, never from an argument.

create function oms_audit.require_live_subject_keys(p_key_ids uuid[]) returns void
language plpgsql volatile security definer set search_path = pg_catalog as $$
declare
  t uuid := nullif((select auth.jwt()) ->> 'tenant_id', '')::uuid;
  gone uuid[];
begin
  if t is null then
    raise exception 'no tenant_id in request.jwt.claims' using errcode = '42501';
  end if;
  select array_agg(key_id order by key_id) into gone
    from oms_audit.subject_keys
   where tenant_id = t and key_id = any(p_key_ids) and erased_at is not null;
  if gone is not null then
    raise exception 'subject keys % were destroyed by an erasure after this batch was sealed; seal it again', gone
      using errcode = 'OA001';
  end if;
end $$;

revoke all on function oms_audit.require_live_subject_keys(uuid[]) from public;
grant execute on function oms_audit.require_live_subject_keys(uuid[]) to authenticated, service_role;
