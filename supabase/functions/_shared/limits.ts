/** Limits of the event contract. Every entry point enforces these same numbers. */
export const LIMITS = {
  /** Events per call on tRPC `events.logBulk` and `POST /api/v1/audit/events`. */
  apiBatch: 500,
  /** Events per call on the audit-logger edge function. */
  edgeBatch: 1000,
  /** Serialized `context` size in UTF-8 bytes. */
  contextBytes: 32 * 1024,
  /** Nesting depth of `context`. */
  contextDepth: 32,
  /** `actor_id`, `object_id`. */
  identifierLength: 256,
  /** `request_id`, `source`, `device_fingerprint`. */
  shortTextLength: 128,
  userAgentLength: 1024,
  /** `actor_type`, `object_type`, `event_type`. */
  typeNameLength: 64,
  /** Events dated further ahead than this are refused. */
  futureSkewMicros: 5 * 60 * 1_000_000,
  /** Events dated before this are refused (a typo, not a backfill). */
  earliestOccurredAt: '2000-01-01T00:00:00.000000Z',
  /** Request body sizes. */
  apiBodyBytes: 4 * 1024 * 1024,
  edgeBodyBytes: 8 * 1024 * 1024,
  /** One event (`POST /api/v1/audit/event`): a full context and every field, with room to spare. */
  eventBodyBytes: 64 * 1024,
  /** Rows per page when listing. */
  maxPageSize: 1000,
  defaultPageSize: 100,
} as const;

/**
 * Version of the event contract that new events are written under. It also
 * selects the event hash's form (docs/integrity.md): 1 — the fields up to
 * schema_version; 2 — those and written_by, IP addresses as PostgreSQL shows them.
 */
export const SCHEMA_VERSION = 2;
