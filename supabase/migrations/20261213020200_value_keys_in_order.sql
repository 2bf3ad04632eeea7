-- Two batches that add value index entries for the same values at once (sealing writers of one tenant, first sight
-- of the same traders' addresses) inserted them in each batch's own order: each could wait on the other's entry
-- (a unique-key conflict waits for the inserting transaction), and PostgreSQL ended one with a deadlock error,
-- which the client saw as a 500. The entries are now inserted in one order (value index, key id), so concurrent
-- adds wait on each other in that order and never in a cycle. Otherwise as in *_personal_value_tokens.sql.
create or replace function oms_audit.add_personal_value_keys(p_tenant uuid, p_values text[], p_keys uuid[])
returns void language sql security definer set search_path = pg_catalog, oms_audit as $$
  insert into oms_audit.personal_value_keys (tenant_id, value_index, key_id)
  select p_tenant, v.value_index, v.key_id
    from unnest(p_values, p_keys) as v(value_index, key_id)
   where v.key_id in (select k.key_id from oms_audit.subject_keys k
                       where k.tenant_id = p_tenant and k.key_id = any(p_keys) and k.erased_at is null
                       order by k.key_id
                       for share)
   order by v.value_index, v.key_id
  on conflict do nothing
$$;
