-- The console's ingest-rate chart counts a tenant's events by received_at over
-- the last hour. received_at grows with the physical order of each month
-- partition, so a BRIN index finds the recent blocks for a few pages of index
-- and almost nothing per insert (unlike a B-tree on the hot write path).
create index audit_events_received_brin on public.audit_events using brin (received_at);
