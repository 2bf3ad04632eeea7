/**
 * Personal data in events of schema version 3 (docs/integrity.md, "Personal
 * data"): each personal value is stored, hashed and exported as a sealed
 * envelope, AES-256-GCM ciphertext under its data subject's own key, so that
 * destroying that key makes the value unreadable for good while the event
 * hash, which covers the envelope and never the plaintext, stays the same.
 *
 * An envelope is the text
 *
 *   pd1:<subject ref, 64 hex>:<key id, UUID>:<base64url(nonce 12 ‖ ciphertext ‖ tag 16)>
 *
 * where the plaintext is the UTF-8 canonical JSON (RFC 8785) of the value and
 * the associated data binds it to its place: `oms-audit.personal:<tenant>:<event id>:<JSON pointer>`.
 * The subject ref is HMAC-SHA-256(tenant index key, "subject:" ‖ subject id):
 * a keyed pseudonym that lets equality searches find a subject's events
 * (a blind index) without the database holding the identifier.
 *
 * This module is pure (keys are handed in): the Node server's key store
 * (server/services/personal/) and any verifier use the same definitions.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

export const ENVELOPE_PREFIX = 'pd1:';
/** What a read path shows in place of a value whose subject's key was destroyed. */
export const ERASED = '[erased]';
/** The event schema version whose personal fields are sealed. */
export const SEALED_SCHEMA_VERSION = 3;

/** Actor fields sealed under the actor's key when the actor type is a human one. */
export const ACTOR_PERSONAL_FIELDS = ['actor_id', 'user_agent', 'device_fingerprint', 'observed_user_agent'] as const;
/** IP addresses (inet columns) are sealed into the event's `personal` object, their columns left null. */
export const PERSONAL_IP_FIELDS = ['ip_address', 'observed_ip'] as const;

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
const ENVELOPE = /^pd1:([0-9a-f]{64}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([A-Za-z0-9_-]+)$/;

export interface ParsedEnvelope {
  subjectRef: string;
  keyId: string;
  sealed: Buffer;
}

export function isEnvelope(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(ENVELOPE_PREFIX) && ENVELOPE.test(value);
}

export function parseEnvelope(value: string): ParsedEnvelope | null {
  const m = ENVELOPE.exec(value);
  return m ? { subjectRef: m[1]!, keyId: m[2]!, sealed: Buffer.from(m[3]!, 'base64url') } : null;
}

/**
 * The key under which the actor month map (audit_actor_months) files an
 * actor_id: an envelope's prefix `pd1:<subject ref>:<key id>:` (no plaintext,
 * one row per subject key and month), any other value as it is. The SQL of
 * oms_audit.actor_month_key computes the same.
 */
export function actorMonthKey(actorId: string): string {
  return ENVELOPE.test(actorId) ? actorId.slice(0, ENVELOPE_KEY_PREFIX_LENGTH) : actorId;
}
/** Length of `pd1:<64 hex>:<uuid>:`. */
const ENVELOPE_KEY_PREFIX_LENGTH = 4 + 64 + 1 + 36 + 1;

/** The subject's blind index under the tenant's index key. */
export function subjectRef(indexKey: Uint8Array, subjectId: string): string {
  return createHmac('sha256', indexKey).update('subject:' + subjectId, 'utf8').digest('hex');
}

const aad = (tenantId: string, eventId: string, pointer: string) => Buffer.from(`oms-audit.personal:${tenantId}:${eventId}:${pointer}`, 'utf8');

export interface SubjectKey {
  keyId: string;
  subjectRef: string;
  /** 32 bytes; absent once the key was destroyed. */
  key: Uint8Array | null;
}

/** The associated data of a sealed value: its tenant, event and place (JSON pointer). */
export const associatedData = aad;

/** `nonce` is for the published test vectors only: every real seal takes a fresh random one. */
export function seal(value: unknown, key: SubjectKey, tenantId: string, eventId: string, pointer: string, nonce: Uint8Array = randomBytes(NONCE)): string {
  if (!key.key) throw new Error(`the key ${key.keyId} was destroyed`);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(aad(tenantId, eventId, pointer));
  const body = Buffer.concat([cipher.update(canonicalJson(value), 'utf8'), cipher.final()]);
  return `${ENVELOPE_PREFIX}${key.subjectRef}:${key.keyId}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/** The value sealed in an envelope; throws when the key or the place do not match (a changed or moved envelope). */
export function open(envelope: ParsedEnvelope, key: Uint8Array, tenantId: string, eventId: string, pointer: string): unknown {
  const { sealed } = envelope;
  if (sealed.length < NONCE + TAG) throw new Error('envelope too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE));
  decipher.setAAD(aad(tenantId, eventId, pointer));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  const text = Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()]).toString('utf8');
  return JSON.parse(text);
}

/** JSON pointer (RFC 6901) of a context member given as a dotted path. */
export function contextPointer(path: string): string {
  return '/context/' + path.split('.').map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** Every envelope of a stored event, with its JSON pointer. */
export function envelopesOf(e: { actor_id?: unknown; user_agent?: unknown; device_fingerprint?: unknown; observed_user_agent?: unknown; context?: unknown; personal?: unknown }): { pointer: string; envelope: string }[] {
  const found: { pointer: string; envelope: string }[] = [];
  for (const f of ACTOR_PERSONAL_FIELDS) {
    const v = (e as Record<string, unknown>)[f];
    if (isEnvelope(v)) found.push({ pointer: '/' + f, envelope: v });
  }
  const personal = e.personal as Record<string, unknown> | null | undefined;
  if (personal && typeof personal === 'object') {
    for (const [k, v] of Object.entries(personal)) if (isEnvelope(v)) found.push({ pointer: '/' + k, envelope: v });
  }
  const walk = (v: unknown, pointer: string) => {
    if (isEnvelope(v)) found.push({ pointer, envelope: v });
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, item] of Object.entries(v)) walk(item, pointer + '/' + k.replace(/~/g, '~0').replace(/\//g, '~1'));
    }
  };
  walk(e.context, '/context');
  return found;
}
