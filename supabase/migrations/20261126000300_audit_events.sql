-- The audit store: audit_events (partitioned by month of occurred_at) and the
-- per-tenant ledger (seq → id, event hash) that makes every tenant's trail an
-- unbroken, deduplicated sequence.

-- Refuses UPDATE, DELETE and TRUNCATE for every role, superusers included,
-- unless the trigger is deliberately disabled.
create function oms_audit.refuse_change() returns trigger
language plpgsql
as $$
begin
  raise exception '% is append-only: % is not allowed', tg_argv[0], tg_op
    using errcode = '42501',
          hint = 'Audit records are immutable; whole archived months leave only through the retention path.';
end
$$;

create table public.audit_events (
  id uuid not null,
  tenant_id uuid not null,
  seq bigint not null,
  occurred_at timestamptz not null,
  received_at timestamptz not null,
  schema_version smallint not null default 1,
  -- Identifiers compare byte-wise ("C"): faster indexes, the same order on every server.
  actor_type text collate "C" not null,
  actor_id text collate "C" not null,
  object_type text collate "C" not null,
  object_id text collate "C" not null,
  event_type text collate "C" not null,
  outcome text not null check (outcome in ('success', 'failure')),
  source text collate "C",
  request_id text collate "C",
  ip_address inet,
  user_agent text,
  device_fingerprint text,
  observed_ip inet,
  observed_user_agent text,
  context jsonb not null default '{}'::jsonb,
  -- Keyset pages walk (tenant, occurred_at, seq); seq breaks ties and is unique per tenant.
  primary key (tenant_id, occurred_at, seq)
) partition by range (occurred_at);

comment on table public.audit_events is
  'Append-only audit events, one partition per UTC month of occurred_at. ip_address/user_agent are the event''s own values or, when the event gave none, the connection''s; observed_ip/observed_user_agent are always what the server saw of the connection.';

-- An object's history: WHERE tenant, type, id ORDER BY occurred_at, seq.
create index audit_events_object_idx on public.audit_events (tenant_id, object_type, object_id, occurred_at, seq);
-- An actor's activity.
create index audit_events_actor_idx on public.audit_events (tenant_id, actor_id, occurred_at, seq);

create trigger audit_events_append_only
  before update or delete on public.audit_events
  for each row execute function oms_audit.refuse_change('audit_events');
create trigger audit_events_no_truncate
  before truncate on public.audit_events
  for each statement execute function oms_audit.refuse_change('audit_events');

-- The ledger: one row per stored event, in seq order. Its unique (tenant_id, id)
-- is what makes retries idempotent across every month partition.
create table public.audit_ledger (
  tenant_id uuid not null,
  seq bigint not null check (seq > 0),
  id uuid not null,
  occurred_at timestamptz not null,
  event_hash bytea not null check (length(event_hash) = 32),
  primary key (tenant_id, seq),
  unique (tenant_id, id)
);

comment on table public.audit_ledger is
  'One row per audit event: its per-tenant seq, id, partition key and SHA-256 of its canonical form.';

create trigger audit_ledger_append_only
  before update or delete on public.audit_ledger
  for each row execute function oms_audit.refuse_change('audit_ledger');
create trigger audit_ledger_no_truncate
  before truncate on public.audit_ledger
  for each statement execute function oms_audit.refuse_change('audit_ledger');

-- Locks the caller's tenant sequence for the rest of the transaction and returns
-- its last seq. The tenant comes from the request's claims, never from an argument.
create function oms_audit.lock_tenant_sequence() returns bigint
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  t uuid := nullif((select auth.jwt()) ->> 'tenant_id', '')::uuid;
  s bigint;
begin
  if t is null then
    raise exception 'no tenant_id in request.jwt.claims' using errcode = '42501';
  end if;
  select last_seq into s from oms_audit.tenant_sequences where tenant_id = t for update;
  if not found then
    insert into oms_audit.tenant_sequences (tenant_id) values (t) on conflict do nothing;
    select last_seq into s from oms_audit.tenant_sequences where tenant_id = t for update;
  end if;
  return s;
end
$$;

-- Refuses ledger rows that do not continue their tenant's sequence exactly
-- (no gap, no overlap), then advances it.
create function oms_audit.advance_tenant_sequence() returns trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  r record;
begin
  for r in
    select tenant_id, min(seq) as lo, max(seq) as hi, count(*) as n from new_rows group by tenant_id
  loop
    update oms_audit.tenant_sequences s
       set last_seq = r.hi
     where s.tenant_id = r.tenant_id and s.last_seq = r.lo - 1 and r.hi - r.lo + 1 = r.n;
    if not found then
      raise exception 'audit_ledger: seq % to % of tenant % does not continue the tenant''s sequence', r.lo, r.hi, r.tenant_id
        using errcode = 'OA001',
              hint = 'Call oms_audit.lock_tenant_sequence() first and number events from the value it returns.';
    end if;
  end loop;
  return null;
end
$$;

create trigger audit_ledger_sequence
  after insert on public.audit_ledger
  referencing new table as new_rows
  for each statement execute function oms_audit.advance_tenant_sequence();

-- Creates the partition for the UTC month containing p_month, if missing.
-- CREATE + ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on audit_events,
-- so it does not wait for (or block) running reads and writes.
create function oms_audit.ensure_month_partition(p_month date) returns text
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  first_day date := date_trunc('month', p_month)::date;
  part text := 'audit_events_' || to_char(first_day, 'YYYY_MM');
  lo timestamptz := first_day::timestamp at time zone 'UTC';
  hi timestamptz := (first_day + interval '1 month')::timestamp at time zone 'UTC';
begin
  if to_regclass('oms_audit.' || part) is not null then
    return part;
  end if;
  perform pg_advisory_xact_lock(hashtext('oms_audit.ensure_month_partition'));
  if to_regclass('oms_audit.' || part) is not null then
    return part;
  end if;
  execute format('create table oms_audit.%I (like public.audit_events including defaults including constraints)', part);
  execute format('alter table public.audit_events attach partition oms_audit.%I for values from (%L) to (%L)', part, lo, hi);
  -- Reached directly (not through audit_events), a partition shows nothing to API roles.
  execute format('alter table oms_audit.%I enable row level security', part);
  execute format('revoke all on oms_audit.%I from public, anon, authenticated, service_role', part);
  execute format('create trigger no_truncate before truncate on oms_audit.%I for each statement execute function oms_audit.refuse_change(%L)', part, 'audit_events');
  return part;
end
$$;

-- Creates this month's partition and the next `months_ahead` (run daily by the server; pg_cron on Supabase).
create function oms_audit.ensure_partitions_ahead(months_ahead int default 3) returns setof text
language sql
security definer
set search_path = pg_catalog
as $$
  select oms_audit.ensure_month_partition((date_trunc('month', now() at time zone 'UTC') + make_interval(months => m))::date)
  from generate_series(0, months_ahead) as m
$$;

-- Row-level security: the authenticated role sees and writes only the tenant in its claims.
alter table public.audit_events enable row level security;
alter table public.audit_ledger enable row level security;

create policy audit_events_tenant_select on public.audit_events
  for select to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy audit_events_tenant_insert on public.audit_events
  for insert to authenticated
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy audit_ledger_tenant_select on public.audit_ledger
  for select to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy audit_ledger_tenant_insert on public.audit_ledger
  for insert to authenticated
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);

-- Privileges: read and append, nothing else (Supabase grants ALL on new public tables by default).
revoke all on public.audit_events, public.audit_ledger from public, anon, authenticated, service_role;
grant select, insert on public.audit_events, public.audit_ledger to authenticated, service_role;

revoke all on function oms_audit.lock_tenant_sequence() from public;
revoke all on function oms_audit.advance_tenant_sequence() from public;
revoke all on function oms_audit.ensure_month_partition(date) from public;
revoke all on function oms_audit.ensure_partitions_ahead(int) from public;
revoke all on function oms_audit.refuse_change() from public;
grant execute on function oms_audit.lock_tenant_sequence() to authenticated, service_role;
grant execute on function oms_audit.ensure_month_partition(date) to service_role;
grant execute on function oms_audit.ensure_partitions_ahead(int) to service_role;

select oms_audit.ensure_partitions_ahead(3);
