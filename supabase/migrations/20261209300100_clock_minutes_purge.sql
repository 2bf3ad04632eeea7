-- Clock evidence kept for a bounded time (docs/clock.md, "How long it is kept").
--
-- clock_skew_minutes gains a row per tenant, source, credential and minute of
-- arrival, and nothing removed them. The figures are derived data (every one
-- can be recomputed from the events, which keep their own retention), so they
-- are purged after a retention the operator sets; the runtime role has no
-- delete right on the table and purges only through this function, which
-- refuses to touch the last two days (what the System page, the report API and
-- the metrics read) and deletes a bounded number of rows per call, so a run
-- never holds a long transaction on the write path's upsert target.
--
-- Each tenant's rows are found through its (tenant_id, minute, …) key: no
-- index is added to the table the write path updates.

create function oms_audit.purge_clock_skew_minutes(p_keep_days integer, p_limit integer)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  cutoff timestamptz;
  deleted integer;
begin
  if p_keep_days is null or p_keep_days < 2 or p_keep_days > 36600 then
    raise exception 'clock evidence is kept between 2 and 36600 days, not %', p_keep_days using errcode = '22023';
  end if;
  if p_limit is null or p_limit < 1 or p_limit > 100000 then
    raise exception 'a purge of clock evidence deletes between 1 and 100000 rows at a time, not %', p_limit using errcode = '22023';
  end if;
  cutoff := date_trunc('minute', now(), 'UTC') - make_interval(days => p_keep_days);
  delete from public.clock_skew_minutes
  where ctid = any (array(
    select m.ctid
    from oms_audit.tenants as t
    cross join lateral (
      select ctid from public.clock_skew_minutes
      where tenant_id = t.id and minute < cutoff
      limit p_limit) as m
    limit p_limit));
  get diagnostics deleted = row_count;
  return deleted;
end
$$;

comment on function oms_audit.purge_clock_skew_minutes(integer, integer) is
  'Deletes up to p_limit rows of clock_skew_minutes older than p_keep_days (at least 2) days; returns how many (docs/clock.md).';

revoke all on function oms_audit.purge_clock_skew_minutes(integer, integer) from public;
grant execute on function oms_audit.purge_clock_skew_minutes(integer, integer) to oms_audit_runtime;
