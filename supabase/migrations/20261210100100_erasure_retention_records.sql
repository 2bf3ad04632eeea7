-- Erasures in the signed retention records (docs/retention.md, "Erasures"): a record of kind
-- "erased" states which subject keys were destroyed, when and by whom, tied to the erasure's own
-- audit event. It names no archive part, so its month and part are null (and only its).
alter table oms_audit.retention_records drop constraint retention_records_kind_check;
alter table oms_audit.retention_records
  add constraint retention_records_kind_check check (kind in ('archived', 'expired', 'erased'));
alter table oms_audit.retention_records alter column month drop not null, alter column part drop not null;
alter table oms_audit.retention_records
  add constraint retention_records_part_named check ((kind = 'erased') = (month is null) and (month is null) = (part is null));
