/**
 * The outbox's SQL, installed in the OMS's own PostgreSQL database (not
 * oms-audit's): the schema `oms_audit_outbox` with the queue of events waiting
 * for the relay, the events the server refused (parked), and the functions
 * every writer goes through. The script is idempotent: `oms-audit outbox init`
 * and installOutbox() run it, and teams with their own migration tool can
 * take it as it is (`oms-audit outbox init --print`).
 *
 * - `oms_audit_outbox.log(event jsonb) → uuid` checks what can be checked
 *   without the server (a JSON object with the five required fields as
 *   non-empty strings, an id that is a UUID), gives the event its id (UUID v7)
 *   and occurred_at (now, to the µs, UTC) unless it has them, and inserts it in
 *   the caller's transaction. It is SECURITY DEFINER: writers need EXECUTE on
 *   it, never a right on the tables, so an OMS role can add events but cannot
 *   read, change or remove the queue.
 * - `oms_audit_outbox.log_many(events jsonb) → uuid[]` does the same for an array.
 * - `oms_audit_outbox.try_lead() → boolean` takes the session advisory lock
 *   that makes one relay the leader of this outbox.
 */

/** Version of the outbox's tables and functions; a relay refuses an outbox it does not know. */
export const OUTBOX_SCHEMA_VERSION = 1;

/** The schema everything of the outbox lives in. */
export const OUTBOX_SCHEMA = 'oms_audit_outbox';

/** The advisory lock key of the relay leader: classid "omsa" (0x6f6d7361), objid 1. */
export const RELAY_LOCK_KEY = [0x6f6d7361, 1] as const;

const REQUIRED_FIELDS = ['actor_type', 'actor_id', 'object_type', 'object_id', 'event_type'] as const;

const SCRIPT = `
create schema if not exists oms_audit_outbox;
comment on schema oms_audit_outbox is 'oms-audit transactional outbox: audit events committed with the OMS''s own changes, shipped to oms-audit by the relay';

create table if not exists oms_audit_outbox.schema_version (
  version integer primary key,
  installed_at timestamptz not null default now()
);
insert into oms_audit_outbox.schema_version (version) values (${OUTBOX_SCHEMA_VERSION}) on conflict do nothing;

-- The queue: one row per event, in the order of position; a row leaves once the server stored the event.
-- A queue table sees as many deletes as inserts: vacuum it after a fixed number of dead rows, not a fraction.
create table if not exists oms_audit_outbox.audit_outbox (
  position bigint generated always as identity primary key,
  id uuid not null,
  event jsonb not null,
  created_at timestamptz not null default clock_timestamp()
) with (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

-- Events the server refused (invalid for its contract): kept with the server's answer until someone acts.
create table if not exists oms_audit_outbox.audit_outbox_parked (
  position bigint primary key,
  id uuid not null,
  event jsonb not null,
  created_at timestamptz not null,
  parked_at timestamptz not null default clock_timestamp(),
  error jsonb not null
);

-- What oms-audit's server would refuse that can be told here, cheaply: null when there is nothing to say.
create or replace function oms_audit_outbox.problem(event jsonb) returns text
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $fn$
declare
  field text;
begin
  if event is null or jsonb_typeof(event) <> 'object' then
    return format('an audit event must be a JSON object, not %s', coalesce(jsonb_typeof(event), 'SQL null'));
  end if;
  foreach field in array array[${REQUIRED_FIELDS.map((f) => `'${f}'`).join(', ')}] loop
    if jsonb_typeof(event -> field) is distinct from 'string' or event ->> field = '' then
      return format('%s is required (a non-empty string)', field);
    end if;
  end loop;
  if coalesce(jsonb_typeof(event -> 'id'), 'null') <> 'null'
     and (jsonb_typeof(event -> 'id') <> 'string'
          or (event ->> 'id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') then
    return 'id must be a UUID (or absent: the outbox assigns one)';
  end if;
  if coalesce(jsonb_typeof(event -> 'occurred_at'), 'null') not in ('null', 'string') then
    return 'occurred_at must be a string, ISO 8601 with a zone (or absent: the time of logging)';
  end if;
  return null;
end
$fn$;

create or replace function oms_audit_outbox.log(event jsonb) returns uuid
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $fn$
declare
  logged_at timestamptz := clock_timestamp();
  problem text := oms_audit_outbox.problem(event);
  event_id uuid;
begin
  if problem is not null then
    raise exception 'oms-audit outbox: %', problem using errcode = '22023',
      hint = 'The event was not logged; the transaction cannot commit as it is.';
  end if;
  if coalesce(jsonb_typeof(event -> 'id'), 'null') = 'null' then
    -- UUID v7: 48 bits of Unix time in ms, then random bits (version 7, RFC 9562 variant).
    event_id := encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                  placing substring(int8send(floor(extract(epoch from logged_at) * 1000)::bigint) from 3) from 1 for 6),
                  52, 1), 53, 1), 'hex')::uuid;
    event := event || jsonb_build_object('id', event_id);
  else
    event_id := (event ->> 'id')::uuid;
  end if;
  if coalesce(jsonb_typeof(event -> 'occurred_at'), 'null') = 'null' then
    event := event || jsonb_build_object('occurred_at', to_char(logged_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  end if;
  insert into oms_audit_outbox.audit_outbox (id, event, created_at) values (event_id, event, logged_at);
  return event_id;
end
$fn$;

create or replace function oms_audit_outbox.log_many(events jsonb) returns uuid[]
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $fn$
declare
  problem text;
  ids uuid[];
begin
  if events is null or jsonb_typeof(events) <> 'array' then
    raise exception 'oms-audit outbox: log_many takes a JSON array of events' using errcode = '22023';
  end if;
  for i in 0 .. jsonb_array_length(events) - 1 loop
    problem := oms_audit_outbox.problem(events -> i);
    if problem is not null then
      raise exception 'oms-audit outbox: event %: %', i, problem using errcode = '22023',
        hint = 'No event was logged; the transaction cannot commit as it is.';
    end if;
  end loop;
  select coalesce(array_agg(oms_audit_outbox.log(e) order by n), '{}') into ids
  from jsonb_array_elements(events) with ordinality as t(e, n);
  return ids;
end
$fn$;

create or replace function oms_audit_outbox.try_lead() returns boolean
language sql volatile
as $fn$ select pg_try_advisory_lock(${RELAY_LOCK_KEY[0]}, ${RELAY_LOCK_KEY[1]}) $fn$;

revoke all on function oms_audit_outbox.problem(jsonb) from public;
revoke all on function oms_audit_outbox.log(jsonb) from public;
revoke all on function oms_audit_outbox.log_many(jsonb) from public;
`;

/** Quotes a role name as an SQL identifier. */
export function quoteIdent(name: string): string {
  if (!name || name.includes('\u0000')) throw new Error(`Not a role name: ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}

export interface OutboxGrants {
  /** Roles the OMS writes as: they may call log() and log_many(), nothing else. */
  writerRoles?: readonly string[];
  /** Roles relays connect as: they read and remove queued events, park refused ones, and lead. */
  relayRoles?: readonly string[];
}

/** The installation script, with grants for the roles named (the installing role owns everything). */
export function outboxSql(grants: OutboxGrants = {}): string {
  const writers = (grants.writerRoles ?? []).map(quoteIdent);
  const relays = (grants.relayRoles ?? []).map(quoteIdent);
  const lines: string[] = [];
  for (const role of writers) {
    lines.push(`grant usage on schema oms_audit_outbox to ${role};`);
    lines.push(`grant execute on function oms_audit_outbox.log(jsonb), oms_audit_outbox.log_many(jsonb) to ${role};`);
  }
  for (const role of relays) {
    lines.push(`grant usage on schema oms_audit_outbox to ${role};`);
    lines.push(`grant select on oms_audit_outbox.schema_version to ${role};`);
    lines.push(`grant select, delete on oms_audit_outbox.audit_outbox to ${role};`);
    lines.push(`grant select, insert on oms_audit_outbox.audit_outbox_parked to ${role};`);
  }
  return `${SCRIPT.trim()}\n${lines.length ? `\n${lines.join('\n')}\n` : ''}`;
}
