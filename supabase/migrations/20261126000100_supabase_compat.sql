-- What Supabase provides and plain PostgreSQL lacks, created only where missing,
-- so this file runs unchanged on a Supabase project and on PostgreSQL 15–18.

-- The API roles. On Supabase they exist already (and service_role bypasses RLS).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

-- The connecting role must be able to SET ROLE authenticated for tenant-scoped work.
do $$
begin
  if not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'authenticated', 'member') then
    execute format('grant authenticated, anon, service_role to %I', current_user);
  end if;
end
$$;

-- auth.jwt(): the claims of the current request, as Supabase defines it.
create schema if not exists auth;
do $$
begin
  if not exists (
    select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'jwt'
  ) then
    create function auth.jwt() returns jsonb
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $fn$;
    grant usage on schema auth to anon, authenticated, service_role;
    grant execute on function auth.jwt() to anon, authenticated, service_role;
  end if;
end
$$;

-- oms-audit's private schema: not exposed through Supabase's Data API.
create schema if not exists oms_audit;
revoke all on schema oms_audit from public;
grant usage on schema oms_audit to authenticated, service_role;
