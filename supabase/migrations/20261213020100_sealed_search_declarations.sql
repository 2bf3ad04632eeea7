-- Equality searches on sealed values (docs/personal-data.md, "Search cost") compare a value's column only on the
-- events whose actor is stored in clear, where an event with a sealed actor can never hold that value in clear. For a
-- declared context member that holds only if every declaration since the tenant's first declared it: a member added
-- later (or removed and added again) is in clear in the events sealed while it was not declared.
--
-- This column keeps the context paths declared in every declaration since the first (the first declaration's paths,
-- narrowed by each later one). Null: not known (a tenant that declared before this column existed): its members are
-- compared on every event, as before.
alter table oms_audit.personal_data_settings add column context_paths_throughout text[];

comment on column oms_audit.personal_data_settings.context_paths_throughout is
  'The context paths declared in every declaration since the first (null: declared before this was kept). A sealed-actor event never holds these members in clear.';
