/**
 * Personal data in events of schema version 3 (docs/personal-data.md): each
 * personal value is sealed, AES-256-GCM under its data subject's own key, so
 * that destroying that key makes the value unreadable for good while the event
 * hash, which covers what is stored and never the plaintext, stays the same.
 *
 * In an event, every personal value is replaced by its subject's reference,
 * the text
 *
 *   pd2:<subject ref, 64 hex>:<key id, UUID>
 *
 * (in place for text columns and context members; in the `personal` object for
 * the IP addresses and the subject id), and the values themselves are sealed
 * together, one AEAD seal per subject and event, into `personal.sealed`:
 *
 *   personal.sealed[<key id>] = base64url(nonce 12 ‖ ciphertext ‖ tag 16)
 *
 * of the UTF-8 canonical JSON (RFC 8785) of {<JSON pointer>: value, …} for every
 * place of the event holding that reference, with the associated data
 * `oms-audit.personal:<tenant>:<event id>:<key id>`, so a seal moved to another
 * event or key does not open. The subject ref is HMAC-SHA-256(tenant index key,
 * "subject:" ‖ subject id): a keyed pseudonym, so an equality search on an actor
 * finds its events by the reference itself (a blind index) without the
 * database holding the identifier.
 *
 * This module is pure (keys are handed in): the Node server's key store
 * (server/services/personal/) and any verifier use the same definitions.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomFillSync } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

/** How every reference begins: values with it are reserved (refused from clients). */
export const ENVELOPE_PREFIX = 'pd2:';
/** What a read path shows in place of a value whose subject's key was destroyed. */
export const ERASED = '[erased]';
/** The event schema version whose personal fields are sealed. */
export const SEALED_SCHEMA_VERSION = 3;

/** Actor fields sealed under the actor's key when the actor type is a human one. */
export const ACTOR_PERSONAL_FIELDS = ['actor_id', 'user_agent', 'device_fingerprint', 'observed_user_agent'] as const;
/** IP addresses (inet columns): their references go into the event's `personal` object, their columns left null. */
export const PERSONAL_IP_FIELDS = ['ip_address', 'observed_ip'] as const;
/** The member of `personal` holding the seals, by key id. */
export const SEALED_MEMBER = 'sealed';

/** A tenant's declaration of what is personal (oms_audit.personal_data_settings). */
export interface PersonalDataSettings {
  humanActorTypes: readonly string[];
  /** Context members that are personal, as dotted paths (`client.email`). */
  contextPaths: readonly string[];
  /** The tenant's policy says these fields are outside the retention duty (erasure needs no wait). */
  outsideRetention: boolean;
}

export const DEFAULT_HUMAN_ACTOR_TYPES = ['USER', 'TRADER', 'CLIENT', 'EMPLOYEE', 'PERSON'];
export const DEFAULT_CONTEXT_PATHS = ['client_name', 'email', 'phone'];

const NONCE = 12;
const TAG = 16;
const REFERENCE = /^pd2:([0-9a-f]{64}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export interface ParsedReference {
  subjectRef: string;
  keyId: string;
}

export function isReference(value: unknown): value is string {
  return typeof value === 'string' && value.length === 105 && value.startsWith(ENVELOPE_PREFIX) && REFERENCE.test(value);
}

export function parseReference(value: string): ParsedReference | null {
  const m = REFERENCE.exec(value);
  return m ? { subjectRef: m[1]!, keyId: m[2]! } : null;
}

/** The subject's blind index under the tenant's index key. */
export function subjectRef(indexKey: Uint8Array, subjectId: string): string {
  return createHmac('sha256', indexKey).update('subject:' + subjectId, 'utf8').digest('hex');
}

/**
 * Value tokens: equality search on sealed values (docs/personal-data.md, "Value tokens").
 *
 * The token input of a value at a place is the UTF-8 canonical JSON (RFC 8785)
 * of the two-element array [JSON pointer, value], e.g. `["/ip_address","192.0.2.10"]`:
 * unambiguous whatever the pointer or value hold. Two keyed digests of it:
 *
 * - the event's token: base64url without padding of the first 16 bytes of
 *   HMAC-SHA-256(token key, input), where the token key is HKDF-SHA-256(subject's
 *   data key, no salt, info "oms-audit value tokens", 32 bytes); stored, sorted,
 *   in `personal.tokens`, so it is covered by the event hash; once the data key
 *   is destroyed nobody can tell what value a token stood for, nor match it;
 * - the tenant's value index: hex HMAC-SHA-256(tenant index key, "value:" ‖
 *   input), kept with the key id in oms_audit.personal_value_keys (deleted when
 *   the key is destroyed), which tells a search which subjects' keys to derive
 *   tokens with.
 */
export const TOKENS_MEMBER = 'tokens';

/**
 * The token input of a value at a place (JSON pointer): canonicalJson([pointer,
 * value]), written directly for scalars (JSON.stringify writes strings and
 * numbers as RFC 8785 does; only objects and arrays need the canonical writer).
 */
export function tokenInput(pointer: string, value: unknown): string {
  return '[' + JSON.stringify(pointer) + ',' + (value !== null && typeof value === 'object' ? canonicalJson(value) : JSON.stringify(value)) + ']';
}

/** The key a subject's tokens are computed with, derived from its data key. */
export function tokenKeyOf(dataKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'oms-audit value tokens', 32));
}

/** The event's token of a value at a place, under a subject's token key (tokenKeyOf). */
export function valueToken(tokenKey: Uint8Array, input: string): string {
  return createHmac('sha256', tokenKey).update(input, 'utf8').digest().subarray(0, 16).toString('base64url');
}

/** The tenant's value index of a value at a place (which subject keys hold it: personal_value_keys). */
export function valueIndex(indexKey: Uint8Array, input: string): string {
  return createHmac('sha256', indexKey).update('value:' + input, 'utf8').digest('hex');
}

/** The tokens a stored event carries (schema version 3 events written since value tokens; empty before). */
export function tokensOf(personal: unknown): string[] {
  const tokens = personal && typeof personal === 'object' ? (personal as Record<string, unknown>)[TOKENS_MEMBER] : null;
  return Array.isArray(tokens) ? tokens.filter((t): t is string => typeof t === 'string') : [];
}

export interface SubjectKey {
  keyId: string;
  subjectRef: string;
  /** 32 bytes; absent once the key was destroyed. */
  key: Uint8Array | null;
}

/** The text that stands in an event for each value sealed under this key. */
export const referenceOf = (key: { subjectRef: string; keyId: string }) => `${ENVELOPE_PREFIX}${key.subjectRef}:${key.keyId}`;

/** The associated data of a seal: its tenant, event and key. */
export const associatedData = (tenantId: string, eventId: string, keyId: string) => Buffer.from(`oms-audit.personal:${tenantId}:${eventId}:${keyId}`, 'utf8');

// Fresh random nonces, drawn from a buffer refilled from the CSPRNG 4096 at a time.
const noncePool = Buffer.alloc(NONCE * 4096);
let nonceAt = noncePool.length;
function freshNonce(): Buffer {
  if (nonceAt === noncePool.length) {
    randomFillSync(noncePool);
    nonceAt = 0;
  }
  nonceAt += NONCE;
  return noncePool.subarray(nonceAt - NONCE, nonceAt);
}

/**
 * Seals a subject's values of one event ({JSON pointer: value}) in one AEAD
 * operation. `nonce` is for the published test vectors only: every real seal
 * takes a fresh random one.
 */
export function sealValues(values: Record<string, unknown>, key: SubjectKey, tenantId: string, eventId: string, nonce: Uint8Array = freshNonce()): string {
  return sealPlaintext(plaintextOf(values), key, tenantId, eventId, nonce);
}

/**
 * Seals a plaintext already written in the seal's form (the canonical JSON of
 * {JSON pointer: value}, as plaintextOf writes it): the write path writes it
 * directly, in an order of pointers it sorts once per batch.
 */
export function sealPlaintext(plaintext: string, key: SubjectKey, tenantId: string, eventId: string, nonce: Uint8Array = freshNonce()): string {
  if (!key.key) throw new Error(`the key ${key.keyId} was destroyed`);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(associatedData(tenantId, eventId, key.keyId));
  const body = cipher.update(plaintext, 'utf8');
  const final = cipher.final();
  const tag = cipher.getAuthTag();
  const out = Buffer.allocUnsafe(NONCE + body.length + final.length + TAG);
  out.set(nonce, 0);
  out.set(body, NONCE);
  out.set(final, NONCE + body.length);
  out.set(tag, NONCE + body.length + final.length);
  return out.toString('base64url');
}

/**
 * The canonical JSON (RFC 8785) of a seal's values. Its members are JSON pointers,
 * which begin with "/" (never array-index-like), sorted by UTF-16 code units as
 * RFC 8785 says; a scalar's JSON text is JSON.stringify's, as RFC 8785 defines it,
 * and only objects and arrays go through the general canonical writer.
 */
function plaintextOf(values: Record<string, unknown>): string {
  const pointers = Object.keys(values).sort();
  let out = '{';
  for (let i = 0; i < pointers.length; i++) out += (i ? ',' : '') + quotedPointer(pointers[i]!) + sealedValueJson(values[pointers[i]!]);
  return out + '}';
}

/** A sealed value's canonical JSON text. */
export const sealedValueJson = (v: unknown) => (v !== null && typeof v === 'object' ? canonicalJson(v) : JSON.stringify(v));

// The few pointers a write path seals (the actor fields and the declared context members), as JSON member names.
const quotedPointers = new Map<string, string>();
function quotedPointer(pointer: string): string {
  let quoted = quotedPointers.get(pointer);
  if (quoted === undefined) {
    if (quotedPointers.size >= 1024) quotedPointers.clear();
    quotedPointers.set(pointer, (quoted = JSON.stringify(pointer) + ':'));
  }
  return quoted;
}

/** The values of a seal; throws when the key, the event or the key id do not match (a changed or moved seal). */
export function openValues(sealed: string, key: Uint8Array, tenantId: string, eventId: string, keyId: string): Record<string, unknown> {
  const data = Buffer.from(sealed, 'base64url');
  if (data.length < NONCE + TAG) throw new Error('seal too short');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE));
  decipher.setAAD(associatedData(tenantId, eventId, keyId));
  decipher.setAuthTag(data.subarray(data.length - TAG));
  const text = Buffer.concat([decipher.update(data.subarray(NONCE, data.length - TAG)), decipher.final()]).toString('utf8');
  const values = JSON.parse(text) as unknown;
  if (!values || typeof values !== 'object' || Array.isArray(values)) throw new Error('a seal holds an object of values');
  return values as Record<string, unknown>;
}

/** JSON pointer (RFC 6901) of a context member given as a dotted path. */
export function contextPointer(path: string): string {
  return '/context/' + path.split('.').map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** Every reference of a stored event, with the JSON pointer of its place. */
export function referencesOf(e: { actor_id?: unknown; user_agent?: unknown; device_fingerprint?: unknown; observed_user_agent?: unknown; context?: unknown; personal?: unknown }): { pointer: string; reference: ParsedReference }[] {
  const found: { pointer: string; reference: ParsedReference }[] = [];
  // isReference's cheap tests, then the pattern once.
  const take = (pointer: string, v: unknown) => {
    const reference = typeof v === 'string' && v.length === 105 && v.startsWith(ENVELOPE_PREFIX) ? parseReference(v) : null;
    if (reference) found.push({ pointer, reference });
  };
  for (const f of ACTOR_PERSONAL_FIELDS) take('/' + f, (e as Record<string, unknown>)[f]);
  const personal = e.personal as Record<string, unknown> | null | undefined;
  if (personal && typeof personal === 'object') {
    for (const [k, v] of Object.entries(personal)) if (k !== SEALED_MEMBER) take('/' + k, v);
  }
  const walk = (v: unknown, pointer: string) => {
    if (typeof v === 'string') take(pointer, v);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, item] of Object.entries(v)) walk(item, pointer + '/' + k.replace(/~/g, '~0').replace(/\//g, '~1'));
    }
  };
  walk(e.context, '/context');
  return found;
}

/** The seals of a stored event's `personal` object, by key id. */
export function sealsOf(personal: unknown): Record<string, string> {
  const sealed = personal && typeof personal === 'object' ? (personal as Record<string, unknown>)[SEALED_MEMBER] : null;
  return sealed && typeof sealed === 'object' && !Array.isArray(sealed) ? (sealed as Record<string, string>) : {};
}

/** What an export shows in place of a personal value for a reader without the right to it. */
export const MASKED = '[personal]';

/** The personal data of one stored event, opened: the value at each reference's JSON pointer, and the pointers erased. */
export interface OpenedPersonalData {
  /** By JSON pointer, in the event's reference order. */
  values: Record<string, unknown>;
  /** Pointers whose subject's key is destroyed (or unknown): their value reads "[erased]". */
  erased: string[];
  /** The subject refs whose seals were opened (none when masked). */
  opened: string[];
}

/** A seal that does not open with its subject's live key, or lacks a place: the event was changed. */
export const changedSeal = (eventId: string, pointer: string) => new Error(`The sealed ${pointer.slice(1)} of event ${eventId} does not open with its subject's key: the event was changed`);

/**
 * Opens one stored event's personal data with the keys handed in (`keyOf`: the
 * live key of a key id, or null when destroyed); null for an event without
 * references. `masked`: live values read "[personal]" and no seal is opened;
 * erased ones read "[erased]" either way. Throws changedSeal for a seal that
 * does not open with a live key. `found`: the event's references, when the
 * caller has read them already (referencesOf).
 */
export function openedPersonalData(
  e: { id: string; schema_version?: unknown; actor_id?: unknown; user_agent?: unknown; device_fingerprint?: unknown; observed_user_agent?: unknown; context?: unknown; personal?: unknown },
  tenantId: string,
  keyOf: (keyId: string) => Uint8Array | null,
  masked = false,
  found: { pointer: string; reference: ParsedReference }[] = e.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(e) : [],
): OpenedPersonalData | null {
  if (!found.length) return null;
  const seals = sealsOf(e.personal);
  const opened = new Map<string, Record<string, unknown>>();
  const values: Record<string, unknown> = {};
  const erased: string[] = [];
  for (const { pointer, reference } of found) {
    const key = keyOf(reference.keyId);
    if (!key) {
      values[pointer] = ERASED;
      erased.push(pointer);
      continue;
    }
    if (masked) {
      values[pointer] = MASKED;
      continue;
    }
    let sealed = opened.get(reference.keyId);
    if (!sealed) {
      const seal = seals[reference.keyId];
      if (typeof seal !== 'string') throw changedSeal(e.id, pointer);
      try {
        sealed = openValues(seal, key, tenantId, e.id, reference.keyId);
      } catch {
        throw changedSeal(e.id, pointer);
      }
      opened.set(reference.keyId, sealed);
    }
    if (!Object.hasOwn(sealed, pointer)) throw changedSeal(e.id, pointer);
    values[pointer] = sealed[pointer];
  }
  return { values, erased, opened: [...new Set(found.filter((x) => opened.has(x.reference.keyId)).map((x) => x.reference.subjectRef))] };
}

/**
 * Version of the personal_opened column of exports (docs/export-format.md,
 * section 8). Version 1 (manifests without `column_version`) put "[erased]" in
 * place of an erased value, which a value sent as that very text reads like.
 * Version 2 lists the erased pointers apart from the values, so the file itself
 * tells them apart: `{erased: [pointers], values: {pointer: value}}`.
 */
export const PERSONAL_OPENED_VERSION = 2;

/** The personal_opened value (version 2) of one event: its erased pointers, in reference order, and every other pointer's value. */
export interface PersonalOpenedCell {
  erased: string[];
  values: Record<string, unknown>;
}

export function personalOpenedCell(data: OpenedPersonalData): PersonalOpenedCell {
  const erased = new Set(data.erased);
  const values: Record<string, unknown> = {};
  for (const [pointer, value] of Object.entries(data.values)) if (!erased.has(pointer)) values[pointer] = value;
  return { erased: data.erased, values };
}
