-- Console identities that stay in their tenant: people join a tenant by
-- invitation and set their own password; sign-ins are sessions recorded here,
-- so sign-out, "sign out everywhere", a password change and an admin disabling
-- a member take effect on the next request, whatever a token issued earlier says.

-- A member can be disabled in one tenant (by that tenant's admins) without
-- touching their account or their other tenants.
alter table oms_audit.tenant_memberships
  add column disabled_at timestamptz,
  add column disabled_by text;

-- One row per console sign-in. The JWT's `sid` claim names the row; a token
-- whose row is revoked or expired is refused.
create table oms_audit.console_sessions (
  id text primary key check (length(id) between 16 and 64),
  user_id uuid not null references oms_audit.users (id),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text check (length(revoked_reason) <= 200),
  ip inet,
  user_agent text check (length(user_agent) <= 1024),
  -- How the session began: password sign-in or accepting an invitation.
  method text not null check (method in ('password', 'invitation'))
);
-- "My sessions", "sign out everywhere", password change: the user's live sessions.
create index console_sessions_user_idx on oms_audit.console_sessions (user_id, created_at desc) where revoked_at is null;

-- Invitations to a tenant. The link's secret is shown once (and mailed); only
-- its SHA-256 is kept (the secret has 256 random bits, so a fast hash is enough).
create table oms_audit.invitations (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references oms_audit.tenants (id),
  email text not null check (length(email) between 3 and 320 and email = lower(email) and email like '%_@_%'),
  role text not null check (role in ('viewer', 'auditor', 'admin')),
  token_hash bytea not null unique check (length(token_hash) = 32),
  created_at timestamptz not null default now(),
  created_by text not null,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by uuid references oms_audit.users (id),
  revoked_at timestamptz,
  revoked_by text,
  check (expires_at > created_at),
  check (accepted_at is null or revoked_at is null)
);
create index invitations_tenant_idx on oms_audit.invitations (tenant_id, created_at desc);
create index invitations_pending_idx on oms_audit.invitations (tenant_id, email) where accepted_at is null and revoked_at is null;

revoke all on oms_audit.console_sessions, oms_audit.invitations from public, anon, authenticated;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    grant select, insert on oms_audit.console_sessions to oms_audit_runtime;
    grant update (revoked_at, revoked_reason) on oms_audit.console_sessions to oms_audit_runtime;
    grant select, insert on oms_audit.invitations to oms_audit_runtime;
    grant update (accepted_at, accepted_by, revoked_at, revoked_by) on oms_audit.invitations to oms_audit_runtime;
    grant select, insert on oms_audit.users to oms_audit_runtime;
    -- Own password changes and transparent upgrades of old hashes.
    grant update (password_hash) on oms_audit.users to oms_audit_runtime;
    grant select, insert, delete on oms_audit.tenant_memberships to oms_audit_runtime;
    grant update (role, disabled_at, disabled_by) on oms_audit.tenant_memberships to oms_audit_runtime;
  end if;
end $$;
