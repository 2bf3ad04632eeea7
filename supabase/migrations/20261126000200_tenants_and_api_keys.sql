-- Tenants and the API keys that apps use to write and read their tenant's events.

create table oms_audit.tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);
create unique index tenants_name_key on oms_audit.tenants (lower(name));

-- The last seq handed out per tenant. Its row lock serializes a tenant's writers,
-- which keeps seq gap-free and in commit order.
create table oms_audit.tenant_sequences (
  tenant_id uuid primary key references oms_audit.tenants (id),
  last_seq bigint not null default 0 check (last_seq >= 0)
);

-- Keys are shown once; only a SHA-256 of the secret is kept (the secret has
-- 192 random bits, so a fast hash is enough).
create table oms_audit.api_keys (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references oms_audit.tenants (id),
  name text not null check (length(name) between 1 and 200),
  prefix text not null,
  secret_hash bytea not null unique,
  scopes text[] not null check (cardinality(scopes) > 0 and scopes <@ array['events:write', 'events:read']::text[]),
  created_at timestamptz not null default now(),
  created_by text,
  revoked_at timestamptz,
  last_used_at timestamptz
);
create index api_keys_tenant_idx on oms_audit.api_keys (tenant_id, created_at desc);

revoke all on all tables in schema oms_audit from public, anon, authenticated;
