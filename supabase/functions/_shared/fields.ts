/** The stored fields of an event, without the validation code (light enough for the standalone verifier). */

/**
 * Stored fields in canonical order: the order of CSV and Parquet columns,
 * of API responses and of the integrity hash's serialization.
 */
export const EVENT_FIELDS = [
  'id',
  'tenant_id',
  'seq',
  'occurred_at',
  'received_at',
  'actor_type',
  'actor_id',
  'object_type',
  'object_id',
  'event_type',
  'outcome',
  'source',
  'request_id',
  'ip_address',
  'user_agent',
  'device_fingerprint',
  'observed_ip',
  'observed_user_agent',
  'context',
  'schema_version',
  /** The credential that wrote the event (schema version 2 on; null before). */
  'written_by',
  /** Schema version 3 on: the sealed IP addresses and subject id of the event (docs/integrity.md, "Personal data"); null before. */
  'personal',
] as const;

export type EventField = (typeof EVENT_FIELDS)[number];
