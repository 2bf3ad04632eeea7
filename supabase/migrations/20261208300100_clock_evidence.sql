-- Clock evidence (docs/clock.md): per source and writing credential, the
-- distribution of received_at − occurred_at by minute of arrival, and each
-- tenant's tolerance for a source's clock.
--
-- clock_skew_minutes is derived data: every figure in it can be recomputed
-- from the events themselves (occurred_at, received_at, source and written_by
-- are all covered by the event hash), so a changed row is detectable by
-- anyone holding the trail. The write path adds to it with one upsert per
-- batch and source (supabase/functions/_shared/clock.ts); nothing in it is
-- client data, and no event is changed.

create table public.clock_tolerances (
  tenant_id uuid primary key,
  -- How far a source's clock may be from ours (FINRA 4590 / CAT: 50 ms of NIST).
  tolerance_ms integer not null default 50 check (tolerance_ms between 0 and 60000),
  -- One-way network delay from the tenant's sources to oms-audit, added to the
  -- tolerance for clocks that are behind (a delivery delay looks like a slow clock).
  network_delay_ms integer not null default 0 check (network_delay_ms between 0 and 60000),
  updated_at timestamptz not null default now(),
  updated_by text not null
);

comment on table public.clock_tolerances is
  'Per tenant, the tolerance for a source clock and the network delay allowed for (docs/clock.md).';

create table public.clock_skew_minutes (
  tenant_id uuid not null,
  -- The minute (UTC) of received_at.
  minute timestamptz not null,
  -- The events' source (null: the events named none) and the credential that wrote them.
  source text,
  written_by text not null,
  -- Events that carried their own occurred_at (an event without one is stamped
  -- with received_at and says nothing about the source's clock).
  events integer not null check (events > 0),
  -- occurred_at later than received_at: the source's clock is ahead of ours.
  ahead_events integer not null,
  -- Beyond the tolerance in force when they arrived: ahead by more than
  -- tolerance_ms, or behind by more than tolerance_ms + network_delay_ms.
  flagged_ahead integer not null,
  flagged_behind integer not null,
  -- received_at − occurred_at in microseconds.
  min_skew_us bigint not null,
  max_skew_us bigint not null,
  sum_skew_us bigint not null,
  -- Counts per bucket of received_at − occurred_at (edges in docs/clock.md and clock.ts).
  buckets integer[] not null,
  -- The limits (µs) the last batch of this minute was flagged under.
  ahead_limit_us bigint not null,
  behind_limit_us bigint not null,
  check (flagged_ahead <= ahead_events and ahead_events <= events and flagged_behind <= events)
);

create unique index clock_skew_minutes_key
  on public.clock_skew_minutes (tenant_id, minute, source, written_by) nulls not distinct;

comment on table public.clock_skew_minutes is
  'Per tenant, minute of arrival, source and writing credential: the distribution of received_at − occurred_at (docs/clock.md).';

alter table public.clock_tolerances enable row level security;
alter table public.clock_skew_minutes enable row level security;

-- The tenant in the request's claims only (the write path and the console run as authenticated).
create policy clock_tolerances_tenant on public.clock_tolerances
  for all to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid)
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy clock_skew_minutes_tenant on public.clock_skew_minutes
  for all to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid)
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);

revoke all on public.clock_tolerances, public.clock_skew_minutes from public, anon, authenticated, service_role;
grant select, insert on public.clock_tolerances, public.clock_skew_minutes to authenticated, service_role;
grant update (tolerance_ms, network_delay_ms, updated_at, updated_by) on public.clock_tolerances to authenticated, service_role;
grant update (events, ahead_events, flagged_ahead, flagged_behind, min_skew_us, max_skew_us, sum_skew_us, buckets, ahead_limit_us, behind_limit_us)
  on public.clock_skew_minutes to authenticated, service_role;

-- The runtime role reads every tenant's figures for the metrics scrape; it
-- writes them only as authenticated, within a tenant's claims.
create policy clock_tolerances_runtime_select on public.clock_tolerances for select to oms_audit_runtime using (true);
create policy clock_skew_minutes_runtime_select on public.clock_skew_minutes for select to oms_audit_runtime using (true);
grant select on public.clock_tolerances, public.clock_skew_minutes to oms_audit_runtime;
