-- The network delay in a tenant's clock tolerance, measured (docs/clock.md,
-- "Network delay in the tolerance"): half the smallest network round trip any
-- of the tenant's sources reported over the last day, never more than
-- max_network_delay_ms, recalibrated by the server and each change recorded in
-- the trail. A tenant that sets its network delay by hand keeps it.
--
-- Rows that exist already were set by an admin: they keep their hand-set
-- delay (false); tenants without a row, and rows created from now on, are
-- measured by default.
alter table public.clock_tolerances
  add column network_delay_measured boolean not null default false,
  add column max_network_delay_ms integer not null default 50 check (max_network_delay_ms between 0 and 60000),
  -- What the measured delay was taken from: the round trip, its source, credential and minute, the window.
  add column network_delay_basis jsonb;
alter table public.clock_tolerances alter column network_delay_measured set default true;

comment on column public.clock_tolerances.network_delay_measured is
  'true: network_delay_ms is half the smallest network round trip the tenant''s sources reported over the last day, capped at max_network_delay_ms';

grant update (network_delay_measured, max_network_delay_ms, network_delay_basis) on public.clock_tolerances to authenticated, service_role;
