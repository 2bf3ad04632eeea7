-- The whole order, per tenant: the context keys under which this tenant's
-- events name the order they belong to (a fill's `order_id`, a child order's
-- `parent_order_id`, …). An object's page, its export and the `about` filter
-- gather the events holding the object's id under one of these keys. A tenant
-- without a row uses the default keys (order_id, parent_order_id,
-- client_order_id). Admins change them in the console; every change is an
-- AUDIT_RELATED_KEYS event of the tenant's trail, with the keys before and after.
--
-- Keys with an indexed column (order_id, parent_order_id, client_order_id,
-- symbol, account) are read through their index; any other key is matched
-- within the tenant's other conditions, without an index of its own.

create table public.related_order_keys (
  tenant_id uuid primary key,
  keys text[] not null
    check (cardinality(keys) between 1 and 10
      and array_position(keys, null) is null
      and array_to_string(keys, ',') ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}(,[A-Za-z_][A-Za-z0-9_]{0,63})*$'),
  updated_at timestamptz not null default now(),
  updated_by text not null
);

comment on table public.related_order_keys is
  'Per tenant, the context keys that relate events to an order (the whole order, the about filter).';

alter table public.related_order_keys enable row level security;

-- The tenant in the request's claims only (the console and the read path run as authenticated).
create policy related_order_keys_tenant on public.related_order_keys
  for all to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid)
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);

revoke all on public.related_order_keys from public, anon, authenticated, service_role;
grant select, insert on public.related_order_keys to authenticated, service_role;
grant update (keys, updated_at, updated_by) on public.related_order_keys to authenticated, service_role;

-- oms_audit_runtime (noinherit) reaches the table only as authenticated,
-- within one tenant's claims: it gets no grant or policy of its own.
