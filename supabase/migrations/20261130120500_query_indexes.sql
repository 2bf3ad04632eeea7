-- Context fields that compliance searches filter on most: the instrument, the
-- account and the client's order id. A filter such as context.symbol=AAPL is a
-- jsonb containment test; on its own it can only be answered by walking the
-- tenant's time index and testing every row (slow for rare values) or by a GIN
-- index that returns matches in no useful order (slow for common values).
--
-- Each field gets a stored generated column holding its text and a btree per
-- tenant in (occurred_at, seq) order, so a filtered page is a short index range
-- walked in keyset order whatever the value's frequency. Columns rather than
-- expression indexes because reads run under row-level security: PostgreSQL
-- only uses leakproof conditions as index conditions before the tenant policy
-- has been checked, and `=` on a text column is leakproof while `context ->>
-- 'symbol'` is not. The query service adds `context_symbol = value` beside the
-- containment test for string values (see server/services/context-filter.ts).
--
-- Partial indexes (rows that carry the field): events without it cost no index
-- entry. Low-cardinality fields (venue, side) need no index: their matches are
-- dense enough that the time index with a filter finds a page quickly.
--
-- Adding stored columns rewrites existing partitions once (minutes per 10M rows).

alter table public.audit_events
  add column context_symbol text collate "C" generated always as (context ->> 'symbol') stored,
  add column context_account text collate "C" generated always as (context ->> 'account') stored,
  add column context_client_order_id text collate "C" generated always as (context ->> 'client_order_id') stored;

comment on column public.audit_events.context_symbol is 'context->>''symbol'', for indexed context filters.';
comment on column public.audit_events.context_account is 'context->>''account'', for indexed context filters.';
comment on column public.audit_events.context_client_order_id is 'context->>''client_order_id'', for indexed context filters.';

create index audit_events_context_symbol_idx on public.audit_events
  (tenant_id, context_symbol, occurred_at, seq) where context_symbol is not null;
create index audit_events_context_account_idx on public.audit_events
  (tenant_id, context_account, occurred_at, seq) where context_account is not null;
create index audit_events_context_client_order_id_idx on public.audit_events
  (tenant_id, context_client_order_id, occurred_at, seq) where context_client_order_id is not null;

-- Event-type filters (CANCEL, RISK_REJECT, …) walk the tenant's events of that
-- type in keyset order. Without this index a rare type in a large tenant makes
-- the planner scan whole month partitions, other tenants' rows included.
create index audit_events_event_type_idx on public.audit_events (tenant_id, event_type, occurred_at, seq);

-- Restored archive months are searched with the same conditions.
alter table public.restored_events
  add column context_symbol text collate "C" generated always as (context ->> 'symbol') stored,
  add column context_account text collate "C" generated always as (context ->> 'account') stored,
  add column context_client_order_id text collate "C" generated always as (context ->> 'client_order_id') stored;

-- New month partitions copy the generation expressions too.
create or replace function oms_audit.ensure_month_partition(p_month date) returns text
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
  execute format('create table oms_audit.%I (like public.audit_events including defaults including constraints including generated)', part);
  execute format('alter table public.audit_events attach partition oms_audit.%I for values from (%L) to (%L)', part, lo, hi);
  -- Reached directly (not through audit_events), a partition shows nothing to API roles.
  execute format('alter table oms_audit.%I enable row level security', part);
  execute format('revoke all on oms_audit.%I from public, anon, authenticated, service_role', part);
  execute format('create trigger no_truncate before truncate on oms_audit.%I for each statement execute function oms_audit.refuse_change(%L)', part, 'audit_events');
  return part;
end
$$;

revoke all on function oms_audit.ensure_month_partition(date) from public;
grant execute on function oms_audit.ensure_month_partition(date) to service_role;
