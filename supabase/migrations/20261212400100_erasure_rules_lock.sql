-- One lock per tenant over the rules an erasure is checked against (docs/personal-data.md, "Erasure"): the
-- tenant's legal holds, its retention policy and its declaration of personal data (outside_retention).
--
-- An erasure takes the lock in the transaction that destroys the subject's keys, and checks the holds and the
-- policy there, after taking it. Every write to those three tables takes the same lock, by trigger, whichever path
-- writes (the console, the CLI, the REST API or a direct statement): a hold placed or a policy changed while an
-- erasure is being checked waits until the erasure has committed (the erasure is then visible to it), and an erasure
-- started while such a change is uncommitted waits for it and is checked against it. Never both: an erasure cannot
-- destroy keys on the strength of a check that a concurrent hold or policy change has made stale.
--
-- The lock is a transaction-level advisory lock, keyed as the retention policy's own (a policy change already
-- serialised on it): nothing is held beyond the transaction, and readers never wait for it.

create function oms_audit.lock_erasure_rules(p_tenant uuid) returns void
language sql security definer set search_path = pg_catalog as $$
  select pg_advisory_xact_lock(hashtext('oms_audit.retention_policy'), hashtext(p_tenant::text))
$$;

create function oms_audit.erasure_rules_written() returns trigger
language plpgsql security definer set search_path = pg_catalog as $$
begin
  if tg_op = 'DELETE' then
    perform oms_audit.lock_erasure_rules(old.tenant_id);
    return old;
  end if;
  perform oms_audit.lock_erasure_rules(new.tenant_id);
  if tg_op = 'UPDATE' and new.tenant_id is distinct from old.tenant_id then
    perform oms_audit.lock_erasure_rules(old.tenant_id);
  end if;
  return new;
end $$;

create trigger legal_holds_erasure_rules before insert or update or delete on oms_audit.legal_holds
  for each row execute function oms_audit.erasure_rules_written();
alter table oms_audit.legal_holds enable always trigger legal_holds_erasure_rules;
create trigger retention_policies_erasure_rules before insert or update or delete on oms_audit.retention_policies
  for each row execute function oms_audit.erasure_rules_written();
alter table oms_audit.retention_policies enable always trigger retention_policies_erasure_rules;
create trigger personal_data_settings_erasure_rules before insert or update or delete on oms_audit.personal_data_settings
  for each row execute function oms_audit.erasure_rules_written();
alter table oms_audit.personal_data_settings enable always trigger personal_data_settings_erasure_rules;

revoke all on function oms_audit.lock_erasure_rules(uuid) from public;
revoke all on function oms_audit.erasure_rules_written() from public;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    grant execute on function oms_audit.lock_erasure_rules(uuid) to oms_audit_runtime;
  end if;
end $$;
