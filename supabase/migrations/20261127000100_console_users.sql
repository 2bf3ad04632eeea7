-- Console users, their role in each tenant, the searches they share, and the
-- manifests of the exports they make.

-- People who sign in to the console. Passwords are kept as scrypt hashes
-- (scrypt$N$r$p$salt$hash); a user provisioned by an external identity
-- provider (Supabase Auth) has none.
create table oms_audit.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (length(email) between 3 and 320 and email = lower(email) and email like '%_@_%'),
  password_hash text,
  created_at timestamptz not null default now(),
  created_by text,
  disabled_at timestamptz
);
create unique index users_email_key on oms_audit.users (email);

-- A user's role in a tenant: viewer (search, inspect), auditor (+ export, verify),
-- admin (+ API keys, users, retention).
create table oms_audit.tenant_memberships (
  tenant_id uuid not null references oms_audit.tenants (id),
  user_id uuid not null references oms_audit.users (id),
  role text not null check (role in ('viewer', 'auditor', 'admin')),
  created_at timestamptz not null default now(),
  created_by text,
  primary key (tenant_id, user_id)
);
-- Sign-in and every console request read a user's memberships.
create index tenant_memberships_user_idx on oms_audit.tenant_memberships (user_id);

revoke all on oms_audit.users, oms_audit.tenant_memberships from public, anon, authenticated;

-- Named filter sets shared within a tenant. `query` is the console's URL query string.
create table public.saved_searches (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null,
  name text not null check (length(name) between 1 and 200),
  query text not null check (length(query) <= 4000),
  created_by uuid not null,
  created_by_email text not null,
  created_at timestamptz not null default now()
);
create index saved_searches_tenant_idx on public.saved_searches (tenant_id, created_at desc);

-- One row per export: its manifest (who, when, filters, row count, time range, SHA-256).
-- Written as `streaming` when the export starts and completed when its last byte is sent.
create table public.audit_exports (
  id uuid primary key,
  tenant_id uuid not null,
  status text not null check (status in ('streaming', 'complete', 'failed')),
  -- json, not jsonb: the manifest keeps the documented key order.
  manifest json not null,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
create index audit_exports_tenant_idx on public.audit_exports (tenant_id, created_at desc);

alter table public.saved_searches enable row level security;
alter table public.audit_exports enable row level security;

create policy saved_searches_tenant on public.saved_searches
  for all to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid)
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy audit_exports_tenant on public.audit_exports
  for all to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid)
  with check (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);

revoke all on public.saved_searches, public.audit_exports from public, anon, authenticated, service_role;
grant select, insert, delete on public.saved_searches to authenticated, service_role;
-- A manifest is completed once (status, sha256, row count); it is never deleted.
grant select, insert, update on public.audit_exports to authenticated, service_role;
