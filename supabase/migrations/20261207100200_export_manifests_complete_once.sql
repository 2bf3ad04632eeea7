-- An export's manifest is what a regulator compares the file with. It is
-- written when the export starts and completed once, when its last byte is
-- sent (or it fails); from then on it does not change, for any role
-- (`authenticated` may UPDATE the table only to complete a manifest).

create function oms_audit.refuse_completed_manifest_change() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if old.status <> 'streaming' or new.id <> old.id or new.tenant_id <> old.tenant_id then
    raise exception 'audit_exports: the manifest of export % is % and does not change any more', old.id, old.status
      using errcode = '42501';
  end if;
  return new;
end
$$;
revoke all on function oms_audit.refuse_completed_manifest_change() from public;

create trigger audit_exports_complete_once
  before update on public.audit_exports
  for each row execute function oms_audit.refuse_completed_manifest_change();
alter table public.audit_exports enable always trigger audit_exports_complete_once;
