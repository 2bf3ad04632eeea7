-- Log streams: a tenant's trail delivered to its SIEM (HTTPS webhook, Splunk HEC,
-- Datadog, S3 NDJSON), at least once and in seq order, from a cursor kept here.
-- The cursor (delivered_seq) moves only after the receiver acknowledged a batch;
-- a batch being retried keeps its seq range (inflight_seq_from..to), so every
-- retry sends the same bytes under the same batch id. docs/streams.md.

create table oms_audit.log_streams (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references oms_audit.tenants (id),
  name text not null check (length(name) between 1 and 200),
  format text not null check (format in ('webhook', 'splunk_hec', 'datadog', 's3_ndjson')),
  -- Settings that are not secret (URL, index, bucket, …), validated by the server.
  settings jsonb not null default '{}'::jsonb,
  -- The credential (HMAC secret, HEC token, API key, S3 keys), AES-256-GCM encrypted
  -- with the server's stream secrets key; never returned by any API.
  secret bytea not null,
  -- After a webhook secret rotation, the previous secret also signs until this time.
  previous_secret bytea,
  previous_secret_until timestamptz,
  secret_set_at timestamptz not null default now(),
  batch_size integer not null default 500 check (batch_size between 1 and 1000),
  state text not null default 'active' check (state in ('active', 'paused')),
  paused_reason text,
  -- The first seq this stream delivers, and the last one a receiver acknowledged.
  start_seq bigint not null check (start_seq >= 1),
  delivered_seq bigint not null,
  inflight_seq_from bigint,
  inflight_seq_to bigint,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- Set at the first failure of a run of failures, cleared by the next acknowledged batch.
  failing_since timestamptz,
  last_error text,
  last_attempt_at timestamptz,
  last_success_at timestamptz,
  -- Events acknowledged by the receiver, re-sent ones included.
  delivered_events bigint not null default 0,
  -- One worker per stream across processes: a lease taken with FOR UPDATE SKIP LOCKED.
  lease_token uuid,
  lease_expires_at timestamptz,
  created_at timestamptz not null default now(),
  created_by text not null,
  check (delivered_seq >= start_seq - 1),
  check ((inflight_seq_from is null) = (inflight_seq_to is null)),
  check (inflight_seq_from is null or (inflight_seq_from = delivered_seq + 1 and inflight_seq_to >= inflight_seq_from))
);

create unique index log_streams_tenant_name_key on oms_audit.log_streams (tenant_id, lower(name));
create index log_streams_due_idx on oms_audit.log_streams (next_attempt_at) where state = 'active';

comment on table oms_audit.log_streams is
  'Per tenant, streams of sealed audit events to outside receivers, with their delivery cursor (docs/streams.md).';

revoke all on oms_audit.log_streams from public, anon, authenticated;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    grant select, insert, update, delete on oms_audit.log_streams to oms_audit_runtime;
  end if;
end $$;
