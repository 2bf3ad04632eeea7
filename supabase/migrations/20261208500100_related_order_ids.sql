-- The whole order: an order's page and the `about` filter gather the events
-- whose context names the order (order_id, parent_order_id, client_order_id)
-- beside the order's own events, e.g. its fills (EXECUTION) and allocations.
-- client_order_id already has an indexed column (*_query_indexes.sql); this
-- adds the same for order_id and parent_order_id: a stored generated column
-- and a partial btree per tenant in (occurred_at, seq) order, so "everything
-- about ORD-1" is a few short index ranges OR-ed together, whatever the size
-- of the tenant. Columns rather than expression indexes for the reason given
-- there (only leakproof conditions are index conditions under row-level
-- security). Rows that name no order cost no index entry.
--
-- Adding stored columns rewrites existing partitions once (minutes per 10M rows).
-- New month partitions copy the generation expressions (`including generated`).

alter table public.audit_events
  add column context_order_id text collate "C" generated always as (context ->> 'order_id') stored,
  add column context_parent_order_id text collate "C" generated always as (context ->> 'parent_order_id') stored;

comment on column public.audit_events.context_order_id is 'context->>''order_id'', for the whole order (about filter).';
comment on column public.audit_events.context_parent_order_id is 'context->>''parent_order_id'', for the whole order (about filter).';

create index audit_events_context_order_id_idx on public.audit_events
  (tenant_id, context_order_id, occurred_at, seq) where context_order_id is not null;
create index audit_events_context_parent_order_id_idx on public.audit_events
  (tenant_id, context_parent_order_id, occurred_at, seq) where context_parent_order_id is not null;

-- Restored archive months are searched with the same conditions.
alter table public.restored_events
  add column context_order_id text collate "C" generated always as (context ->> 'order_id') stored,
  add column context_parent_order_id text collate "C" generated always as (context ->> 'parent_order_id') stored;
