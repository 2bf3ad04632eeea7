/**
 * The oms-audit event contract: one definition for every entry point
 * (tRPC, REST, the audit-logger edge function, the SDK, exports).
 */
import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { parseTimestamp } from './timestamps.ts';
import { canonicalIp } from './ip.ts';
import { AuditError, invalid, issuesFromZod } from './errors.ts';

export { LIMITS, SCHEMA_VERSION } from './limits.ts';

export { EVENT_FIELDS, type EventField } from './fields.ts';

export const OUTCOMES = ['success', 'failure'] as const;
export type Outcome = (typeof OUTCOMES)[number];

// C0 and C1 control characters and DEL: CR/LF/tab in an identifier break logs and CSV consumers.
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

function printable(max: number) {
  return z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters (CR, LF, tab, …)')
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode');
}

/** ORDER, STATUS_CHANGE, … accepted in any case, stored upper-case. A new name needs no migration. */
export const typeName = z
  .string()
  .max(LIMITS.typeNameLength, `must be at most ${LIMITS.typeNameLength} characters`)
  .transform((s) => s.toUpperCase())
  .pipe(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an identifier of letters, digits and underscores, starting with a letter (e.g. ORDER, STATUS_CHANGE)'));

export const uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID')
  .transform((s) => s.toLowerCase());

export const outcome = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(OUTCOMES, { error: 'must be "success" or "failure"' }));

/** An event timestamp: ISO 8601 with a zone, at most µs, not before 2000, at most 5 minutes ahead. */
export const occurredAt = z.string().transform((s, ctx) => {
  const parsed = parseTimestamp(s);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  }
  const { iso, micros } = parsed.value;
  if (iso < LIMITS.earliestOccurredAt) {
    ctx.addIssue({ code: 'custom', message: `must not be before ${LIMITS.earliestOccurredAt}` });
    return z.NEVER;
  }
  const nowMicros = (performance.timeOrigin + performance.now()) * 1000;
  if (micros > nowMicros + LIMITS.futureSkewMicros) {
    ctx.addIssue({ code: 'custom', message: 'is more than 5 minutes in the future' });
    return z.NEVER;
  }
  return iso;
});

export const ipAddress = z.string().transform((s, ctx) => {
  const ip = canonicalIp(s);
  if (ip === null) {
    ctx.addIssue({ code: 'custom', message: 'must be an IPv4 or IPv6 address (no prefix length or zone)' });
    return z.NEVER;
  }
  return ip;
});

/** A problem inside `context`, at its JSON path below `context`. */
interface ContextProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Walks a JSON value: depth, NUL characters, lone surrogates (PostgreSQL's
 * jsonb refuses both) and numbers that are not finite. HTTP bodies were
 * already held to the same rules as text (strict-json.ts); this covers
 * values handed over in-process. Adds to `size.bound` an upper bound of the
 * value's JSON in UTF-8 bytes (a string's code unit takes at most 6: \uXXXX),
 * so that a context well under the limit is not serialized just to be measured.
 * The path of a problem is built only when there is one.
 */
function contextProblem(value: unknown, depth: number, size: { bound: number }): ContextProblem | null {
  if (depth > LIMITS.contextDepth) return { path: [], message: `is nested deeper than ${LIMITS.contextDepth} levels` };
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { path: [], message: 'must not contain NUL characters' };
    if (!value.isWellFormed()) return { path: [], message: 'must be well-formed Unicode (it contains a lone surrogate)' };
    size.bound += value.length * 6 + 2;
    return null;
  }
  if (typeof value === 'number') {
    size.bound += 24;
    return Number.isFinite(value) ? null : { path: [], message: 'must contain only finite numbers' };
  }
  if (value === null || typeof value === 'boolean') {
    size.bound += 5;
    return null;
  }
  if (Array.isArray(value)) {
    size.bound += 2 + value.length;
    for (let i = 0; i < value.length; i++) {
      const problem = contextProblem(value[i], depth + 1, size);
      if (problem) return (problem.path.unshift(i), problem);
    }
    return null;
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    size.bound += 2 + keys.length;
    for (const key of keys) {
      if (key.includes('\u0000') || !key.isWellFormed()) return { path: [key], message: 'is a key with NUL characters or malformed Unicode' };
      size.bound += key.length * 6 + 3;
      const problem = contextProblem(record[key], depth + 1, size);
      if (problem) return (problem.path.unshift(key), problem);
    }
    return null;
  }
  return { path: [], message: 'must contain only JSON values' };
}

export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Free-form structured detail (order fields, before/after). Null means {}. */
export const context = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
  .nullish()
  .transform((value, ctx) => {
    const obj = value ?? {};
    const size = { bound: 0 };
    const problem = contextProblem(obj, 1, size);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
      return z.NEVER;
    }
    // Serialized and counted only when the walk's upper bound does not already show it short enough.
    if (size.bound > LIMITS.contextBytes && utf8Length(JSON.stringify(obj)) > LIMITS.contextBytes) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${LIMITS.contextBytes} bytes as JSON` });
      return z.NEVER;
    }
    return obj;
  });

/** One audit event as a client sends it. */
export const auditEventInput = z.strictObject({
  id: uuid.nullish(),
  tenant_id: uuid.nullish(),
  occurred_at: occurredAt.nullish(),
  actor_type: typeName,
  actor_id: printable(LIMITS.identifierLength),
  object_type: typeName,
  object_id: printable(LIMITS.identifierLength),
  event_type: typeName,
  outcome: outcome.nullish(),
  source: printable(LIMITS.shortTextLength).nullish(),
  request_id: printable(LIMITS.shortTextLength).nullish(),
  ip_address: ipAddress.nullish(),
  user_agent: printable(LIMITS.userAgentLength).nullish(),
  device_fingerprint: printable(LIMITS.shortTextLength).nullish(),
  /** The data subject the event concerns besides its actor (the client whose order it is); sealed, docs/personal-data.md. */
  subject_id: printable(LIMITS.identifierLength).nullish(),
  context,
});

export type AuditEventInput = z.output<typeof auditEventInput>;
export type AuditEventRequest = z.input<typeof auditEventInput>;

/** `{"events": [...]}`: the bulk body of REST, tRPC and the edge function. */
export function batchSchema(maxEvents: number) {
  return z.strictObject({
    events: z.array(auditEventInput).min(1, 'must contain at least one event').max(maxEvents, `must contain at most ${maxEvents} events`),
  });
}

/** A stored event as every read API returns it. */
export interface AuditEvent {
  id: string;
  tenant_id: string;
  seq: number;
  occurred_at: string;
  received_at: string;
  actor_type: string;
  actor_id: string;
  object_type: string;
  object_id: string;
  event_type: string;
  outcome: Outcome;
  source: string | null;
  request_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  device_fingerprint: string | null;
  observed_ip: string | null;
  observed_user_agent: string | null;
  context: Record<string, unknown>;
  schema_version: number;
  /** The credential that wrote the event (api_key:<id>, service_role, user:<id>, console[:<user id>], operator:<name>); null before schema version 2. */
  written_by: string | null;
  /** Schema version 3: the references of the IP addresses and subject id, and the seals by key id, as stored (docs/personal-data.md); null before. */
  personal: Record<string, unknown> | null;
  /**
   * Set by read paths that open sealed personal data: the subject id, and the
   * fields (JSON pointers) shown as "[erased]" because their subject's key was destroyed.
   */
  personal_data?: { subject_id: string | null; erased: string[] };
}

/** What every bulk write answers (the seed's "response with performance metrics"). */
export interface IngestResult {
  created_count: number;
  duplicate_count: number;
  /** The id of every event of the batch, in request order (server-assigned where the client sent none). */
  ids: string[];
  /** Ids that were already stored (or repeated within the batch) and were not stored again. */
  duplicate_ids: string[];
  duration_ms: number;
  method: IngestMethod;
}

export type IngestMethod = 'rest' | 'trpc' | 'edge_function' | 'group_commit' | 'cli';

const batchSchemas = new Map<number, ReturnType<typeof batchSchema>>();

/**
 * Validates a bulk body. Too many events → 413 before any event is looked at;
 * any invalid event → 400 naming every bad event's index and field. Either
 * way the whole batch is refused.
 */
export function parseBatch(body: unknown, maxEvents: number): AuditEventInput[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid([{ field: '(body)', message: 'must be a JSON object of the form {"events": [...]}' }], 'batch');
  }
  const events = (body as { events?: unknown }).events;
  if (Array.isArray(events) && events.length > maxEvents) {
    throw new AuditError('batch_too_large', `A batch holds at most ${maxEvents} events; this one has ${events.length}. Nothing was stored.`, [
      { field: 'events', message: `must contain at most ${maxEvents} events` },
    ]);
  }
  let schema = batchSchemas.get(maxEvents);
  if (!schema) batchSchemas.set(maxEvents, (schema = batchSchema(maxEvents)));
  const result = schema.safeParse(body);
  if (!result.success) throw invalid(issuesFromZod(result.error, { batch: true }), 'batch');
  return result.data.events;
}

/** The fields of `auditEventInput`, in its order (the order of the parsed event's keys). */
const EVENT_KEYS = Object.keys(auditEventInput.shape) as (keyof AuditEventInput)[];
const EVENT_KEY_SET: ReadonlySet<string> = new Set(EVENT_KEYS);
const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ASCII_TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

function plainPrintable(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max && !CONTROL_CHARS.test(value) && value.isWellFormed();
}

/** A value of one field as the schema would output it, or NOT_PLAIN when the schema must judge it. */
const NOT_PLAIN = Symbol('not plain');

function plainField(key: keyof AuditEventInput, value: unknown): unknown {
  if (value === null && key !== 'actor_type' && key !== 'actor_id' && key !== 'object_type' && key !== 'object_id' && key !== 'event_type') {
    return key === 'context' ? {} : null;
  }
  switch (key) {
    case 'id':
    case 'tenant_id':
      return typeof value === 'string' && UUID_PATTERN.test(value) ? value.toLowerCase() : NOT_PLAIN;
    case 'actor_type':
    case 'object_type':
    case 'event_type':
      return typeof value === 'string' && value.length <= LIMITS.typeNameLength && ASCII_TYPE_NAME.test(value) ? value.toUpperCase() : NOT_PLAIN;
    case 'actor_id':
    case 'object_id':
    case 'subject_id':
      return plainPrintable(value, LIMITS.identifierLength) ? value : NOT_PLAIN;
    case 'source':
    case 'request_id':
    case 'device_fingerprint':
      return plainPrintable(value, LIMITS.shortTextLength) ? value : NOT_PLAIN;
    case 'user_agent':
      return plainPrintable(value, LIMITS.userAgentLength) ? value : NOT_PLAIN;
    case 'outcome': {
      const lower = typeof value === 'string' ? value.toLowerCase() : '';
      return lower === 'success' || lower === 'failure' ? lower : NOT_PLAIN;
    }
    case 'occurred_at': {
      if (typeof value !== 'string') return NOT_PLAIN;
      const parsed = parseTimestamp(value);
      if (!parsed.ok || parsed.value.iso < LIMITS.earliestOccurredAt) return NOT_PLAIN;
      const nowMicros = (performance.timeOrigin + performance.now()) * 1000;
      return parsed.value.micros > nowMicros + LIMITS.futureSkewMicros ? NOT_PLAIN : parsed.value.iso;
    }
    case 'ip_address':
      return (typeof value === 'string' && canonicalIp(value)) || NOT_PLAIN;
    case 'context': {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return NOT_PLAIN;
      // The schema drops a key named __proto__ from its copy: left to it.
      const size = { bound: 0 };
      if (Object.hasOwn(value, '__proto__') || contextProblem(value, 1, size)) return NOT_PLAIN;
      if (size.bound > LIMITS.contextBytes && utf8Length(JSON.stringify(value)) > LIMITS.contextBytes) return NOT_PLAIN;
      // The schema outputs a shallow copy of the object (its record check copies the keys).
      return { ...value };
    }
  }
}

/**
 * The event exactly as `auditEventInput` would output it, for a body whose
 * every field the checks here can prove valid in its ordinary form (ASCII type
 * names, a UUID, a timestamp within range, printable text, a plain JSON
 * context); null for anything else, which the schema then judges and, when
 * invalid, names the field of. The schema stays the definition: this only
 * spares its general machinery on the hot path of single events, and a test
 * holds the two to the same output (contract.test.ts).
 */
export function plainValidEvent(body: unknown): AuditEventInput | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.getPrototypeOf(body) !== Object.prototype) return null;
  const input = body as Record<string, unknown>;
  for (const key in input) if (!EVENT_KEY_SET.has(key) || input[key] === undefined) return null;
  const event: Record<string, unknown> = {};
  for (const key of EVENT_KEYS) {
    if (!(key in input)) {
      if (key === 'actor_type' || key === 'actor_id' || key === 'object_type' || key === 'object_id' || key === 'event_type') return null;
      if (key === 'context') event.context = {};
      continue;
    }
    const value = plainField(key, input[key]);
    if (value === NOT_PLAIN) return null;
    event[key] = value;
  }
  return event as AuditEventInput;
}

/** Validates one event (the single-event endpoints). */
export function parseEvent(body: unknown): AuditEventInput {
  const plain = plainValidEvent(body);
  if (plain) return plain;
  const result = auditEventInput.safeParse(body);
  if (!result.success) throw invalid(issuesFromZod(result.error, { batch: false }), 'event');
  return result.data;
}
