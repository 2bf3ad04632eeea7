-- Signed checkpoints over each tenant's ledger, and the record of verifications.

create table oms_audit.checkpoints (
  tenant_id uuid not null references oms_audit.tenants (id),
  number bigint not null check (number > 0),
  seq_from bigint not null,
  seq_to bigint not null,
  event_count bigint not null,
  merkle_root bytea not null check (length(merkle_root) = 32),
  prev_hash bytea not null check (length(prev_hash) = 32),
  sealed_at timestamptz not null,
  key_id text not null,
  checkpoint_hash bytea not null check (length(checkpoint_hash) = 32),
  signature bytea not null,
  primary key (tenant_id, number),
  unique (tenant_id, seq_to),
  check (seq_from >= 1 and seq_to >= seq_from and event_count = seq_to - seq_from + 1)
);

comment on table oms_audit.checkpoints is
  'Per tenant, consecutive seq ranges of the ledger: Merkle root of their event hashes, the previous checkpoint''s hash, an Ed25519 signature.';

create trigger checkpoints_append_only
  before update or delete on oms_audit.checkpoints
  for each row execute function oms_audit.refuse_change('checkpoints');
create trigger checkpoints_no_truncate
  before truncate on oms_audit.checkpoints
  for each statement execute function oms_audit.refuse_change('checkpoints');

-- What each verification found, for the console and for auditors.
create table oms_audit.integrity_verifications (
  id bigint generated always as identity primary key,
  tenant_id uuid not null references oms_audit.tenants (id),
  started_at timestamptz not null,
  finished_at timestamptz not null,
  ok boolean not null,
  events_checked bigint not null,
  checkpoints_checked bigint not null,
  problem_count bigint not null,
  -- The first problems found (at most 100), as the verifier reports them.
  problems jsonb not null default '[]'::jsonb,
  scope jsonb not null default '{}'::jsonb,
  verified_by text not null
);
create index integrity_verifications_tenant_idx on oms_audit.integrity_verifications (tenant_id, finished_at desc);

revoke all on oms_audit.checkpoints, oms_audit.integrity_verifications from public, anon, authenticated;
