-- Clock evidence: the network round trips the sources report (docs/clock.md,
-- "Network delay"). A client that measures the round trip of its requests
-- sends the last one in X-Audit-Round-Trip-Ms; the write path keeps, per
-- tenant, source, credential and minute, how many events came with one and
-- the smallest and largest reported — next to the skew they bound. The
-- figures are what the sources said, not evidence in themselves, and never
-- loosen a flag.

alter table public.clock_skew_minutes
  add column round_trips integer not null default 0 check (round_trips >= 0),
  add column min_round_trip_us bigint,
  add column max_round_trip_us bigint,
  add constraint clock_skew_minutes_round_trips_bounded check (round_trips <= events and min_round_trip_us <= max_round_trip_us);

comment on column public.clock_skew_minutes.round_trips is
  'Events of the minute whose request reported its client''s last network round trip (X-Audit-Round-Trip-Ms).';
comment on column public.clock_skew_minutes.min_round_trip_us is
  'The smallest round trip reported in the minute (µs): an upper bound on the one-way delivery delay at its best.';

grant update (round_trips, min_round_trip_us, max_round_trip_us) on public.clock_skew_minutes to authenticated, service_role;
