-- Provenance: which credential wrote each event. The server sets written_by on
-- every event it stores from schema version 2 on (api_key:<id>, service_role,
-- user:<id>, console[:<user id>], operator:<name>), and the version 2 event hash
-- covers it, so it cannot be changed unnoticed. Version 1 events have none.
-- Adding a nullable column without a default changes only the catalog: no
-- partition is rewritten.
alter table public.audit_events add column written_by text collate "C";
alter table public.restored_events add column written_by text collate "C";

comment on column public.audit_events.written_by is
  'The credential that wrote the event: api_key:<key id>, service_role, user:<user id>, console:<user id>, console, operator:<name>. Null for schema version 1 events. Covered by the event hash from schema version 2 on.';

-- No grant is needed: the privileges on these tables are table-wide and cover the new column.
