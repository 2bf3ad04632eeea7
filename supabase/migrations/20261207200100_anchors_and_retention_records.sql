-- Anchoring outside the database, and signed retention records.
--
-- anchor_progress: per tenant and kind (checkpoints, retention records), how far
-- the anchors outside PostgreSQL (archive storage, RFC 3161 time stamps) have
-- been written. Bookkeeping only, to resume after a failure: verification reads
-- the anchors themselves, never this table.
create table oms_audit.anchor_progress (
  tenant_id uuid not null references oms_audit.tenants (id),
  kind text not null check (kind in ('checkpoint', 'retention_record')),
  -- The anchor location this progress is about; another location starts again from number 1.
  anchor_url text not null,
  -- Every number up to this one has its anchor object.
  anchored_through bigint not null default 0,
  -- Every number from timestamps_from up to this one has its time-stamp token; null: never time-stamped.
  timestamped_through bigint,
  timestamps_from bigint,
  -- The last failure (cleared by the next success), for the console and the sealer's log.
  failing_number bigint,
  last_error text,
  last_error_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, kind)
);

-- Why events may be absent from PostgreSQL: per tenant, a chain of records, each
-- signed with the operator's Ed25519 key over its canonical JSON body and anchored
-- like checkpoints. "archived": the events with these seqs are in this verified
-- archive file; "expired": they were deleted when the policy then in force ended
-- their retention, with no legal hold covering them (docs/retention.md).
create table oms_audit.retention_records (
  tenant_id uuid not null references oms_audit.tenants (id),
  number bigint not null check (number > 0),
  kind text not null check (kind in ('archived', 'expired')),
  month date not null check (extract(day from month) = 1),
  part int not null check (part >= 1),
  -- The canonical JSON body exactly as signed (its SHA-256 is record_hash).
  body text not null,
  record_hash bytea not null check (length(record_hash) = 32),
  signature bytea not null,
  issued_at timestamptz not null,
  primary key (tenant_id, number)
);
create index retention_records_part_idx on oms_audit.retention_records (tenant_id, month, part, kind);

comment on table oms_audit.retention_records is
  'Signed, anchored statements of why events are absent from PostgreSQL: archived (file SHA-256, seqs) or expired under the policy.';

create trigger retention_records_append_only
  before update or delete on oms_audit.retention_records
  for each row execute function oms_audit.refuse_change('retention_records');
create trigger retention_records_no_truncate
  before truncate on oms_audit.retention_records
  for each statement execute function oms_audit.refuse_change('retention_records');
-- Also with session_replication_role = replica.
alter table oms_audit.retention_records enable always trigger retention_records_append_only;
alter table oms_audit.retention_records enable always trigger retention_records_no_truncate;

-- Archive parts that had expired (or were expiring) before retention records existed:
-- the only parts whose expiry may be attested from the catalog ("catalog-at-upgrade").
-- Any part that expires later needs a record issued under the policy, before deletion.
create table oms_audit.expired_before_records (
  tenant_id uuid not null,
  month date not null,
  part int not null,
  data_sha256 text,
  expired_at timestamptz,
  primary key (tenant_id, month, part)
);
insert into oms_audit.expired_before_records (tenant_id, month, part, data_sha256, expired_at)
select tenant_id, month, part, data_sha256, expired_at from oms_audit.archive_parts
where state in ('expiring', 'expired') and dropped_at is not null;

revoke all on oms_audit.anchor_progress, oms_audit.retention_records, oms_audit.expired_before_records
  from public, anon, authenticated, service_role;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    grant select, insert, update on oms_audit.anchor_progress to oms_audit_runtime;
    grant select, insert on oms_audit.retention_records to oms_audit_runtime;
    grant select on oms_audit.expired_before_records to oms_audit_runtime;
  end if;
end $$;
