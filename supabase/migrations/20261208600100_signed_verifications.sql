-- Verification results signed with the operator's key, so that a later verification may build on
-- an earlier one (incremental verification) without trusting the database for what was verified.
alter table oms_audit.integrity_verifications
  add column kind text not null default 'full' check (kind in ('full', 'incremental', 'range')),
  -- RFC 8785 JSON of the signed result (docs/integrity.md, "Incremental verification"); null for results from before.
  add column record text,
  -- Base64 Ed25519 signature over `record`, and the signing key's id.
  add column signature text,
  add column key_id text;

comment on column oms_audit.integrity_verifications.record is
  'Canonical JSON of the signed verification result; an incremental verification builds only on a record whose signature verifies with a trusted key.';
