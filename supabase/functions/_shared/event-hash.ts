/**
 * The event hash: the RFC 6962 leaf hash of the event, SHA-256(0x00 ‖ canonical
 * JSON), where the canonical JSON (RFC 8785) holds the stored fields of the
 * event's schema version except `seq`. `seq` is not hashed because the tenant's
 * ledger binds each hash to its position; every other field, context included,
 * is, so a change to any of them changes the hash. Being the Merkle leaf itself,
 * it needs no second hashing when checkpoints are built or checked.
 *
 * The hashed form depends on the event's `schema_version`, so events written
 * under an earlier version keep verifying exactly as they were written:
 *   1: actor_id … user_agent (19 fields); IPv6 as hex groups (ipV1Form); no written_by
 *      (a version 1 event that has one is serialized with it, so it no longer verifies)
 *   2: the same fields and `written_by`; IP addresses as PostgreSQL shows them
 *   3: the fields of version 2 and `personal` (an object or null); personal values
 *      are sealed envelopes (personal-data.ts), so the hash covers ciphertext only
 * docs/integrity.md is the normative description, with test vectors.
 */
import * as crypto from 'node:crypto';
import { canonicalIp, ipV1Form } from './ip.ts';
import { canonicalJson } from './canonical-json.ts';

/** Versions whose hashed form this module knows. */
export const EVENT_HASH_VERSIONS = [1, 2, 3] as const;

export function isHashVersion(version: unknown): version is (typeof EVENT_HASH_VERSIONS)[number] {
  return version === 1 || version === 2 || version === 3;
}

export interface HashableEvent {
  id: string;
  tenant_id: string;
  occurred_at: string;
  received_at: string;
  actor_type: string;
  actor_id: string;
  object_type: string;
  object_id: string;
  event_type: string;
  outcome: string;
  source: string | null;
  request_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  device_fingerprint: string | null;
  observed_ip: string | null;
  observed_user_agent: string | null;
  context: unknown;
  schema_version: number;
  /** Hashed from version 2 on; absent or null in version 1 events. */
  written_by?: string | null;
  /** Version 3: the sealed IP addresses and subject id (or null); absent before. */
  personal?: unknown;
}

// Printable ASCII other than " and \ serializes as itself; anything else goes through JSON.stringify.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const str = (v: string | null | undefined) => (v === null || v === undefined ? 'null' : PLAIN.test(v) ? '"' + v + '"' : JSON.stringify(v));
const ipV1 = (v: string | null) => (v === null ? 'null' : str(ipV1Form(v) ?? v));
const ipV2 = (v: string | null) => (v === null ? 'null' : str(canonicalIp(v) ?? v));

/**
 * The canonical serialization. Keys appear in JCS order (sorted by UTF-16 code
 * units); writing them out by hand gives the same bytes as canonicalizing the
 * whole object, and is faster on the ingest path. `contextJson` and
 * `personalJson` may be passed when the caller already holds
 * canonicalJson(e.context) and canonicalJson(e.personal).
 */
export function canonicalEventJson(e: HashableEvent, contextJson?: string, personalJson?: string): string {
  const version = e.schema_version;
  if (!isHashVersion(version)) throw new RangeError(`unknown event schema version ${String(version)}`);
  const ip = version === 1 ? ipV1 : ipV2;
  return (
    '{"actor_id":' + str(e.actor_id) +
    ',"actor_type":' + str(e.actor_type) +
    ',"context":' + (contextJson ?? canonicalJson(e.context ?? {})) +
    ',"device_fingerprint":' + str(e.device_fingerprint) +
    ',"event_type":' + str(e.event_type) +
    ',"id":' + str(e.id) +
    ',"ip_address":' + ip(e.ip_address) +
    ',"object_id":' + str(e.object_id) +
    ',"object_type":' + str(e.object_type) +
    ',"observed_ip":' + ip(e.observed_ip) +
    ',"observed_user_agent":' + str(e.observed_user_agent) +
    ',"occurred_at":' + str(e.occurred_at) +
    ',"outcome":' + str(e.outcome) +
    // Before version 3 events have no personal object: one that shows one gets a hash no genuine event has.
    (version === 3 || e.personal != null ? ',"personal":' + (e.personal == null ? 'null' : (personalJson ?? canonicalJson(e.personal))) : '') +
    ',"received_at":' + str(e.received_at) +
    ',"request_id":' + str(e.request_id) +
    ',"schema_version":' + String(version) +
    ',"source":' + str(e.source) +
    ',"tenant_id":' + str(e.tenant_id) +
    ',"user_agent":' + str(e.user_agent) +
    // Version 1 events have no written_by: one that shows one gets a hash no genuine version 1 event has.
    (version === 1 && (e.written_by ?? null) === null ? '}' : ',"written_by":' + str(e.written_by) + '}')
  );
}

/** The 0x00 byte that marks a Merkle leaf (RFC 6962), as a string prefix of the hashed text. */
const LEAF_PREFIX = '\u0000';

// crypto.hash (Node ≥ 20.12, 21.7) skips the Hash object; older runtimes and Deno fall back.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
/** Hex SHA-256 of a string's UTF-8 bytes (event hashes, API key lookups). */
export const sha256Hex: (data: string) => string = oneShot
  ? (data) => oneShot('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data, 'utf8').digest('hex');

/** Hex SHA-256(0x00 ‖ canonical JSON): the event's hash and Merkle leaf. */
export function eventHash(e: HashableEvent, contextJson?: string, personalJson?: string): string {
  return sha256Hex(LEAF_PREFIX + canonicalEventJson(e, contextJson, personalJson));
}
