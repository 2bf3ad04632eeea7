/**
 * Seals the personal data of a batch before it is hashed (schema version 3,
 * docs/personal-data.md). Registered as the write path's sealer when the
 * server's ingest module loads, so REST, tRPC, single events and the CLI all
 * seal the same way:
 *
 * - a human actor's `actor_id`, `user_agent`, `device_fingerprint`,
 *   `observed_user_agent` are replaced by the actor's reference, and its
 *   `ip_address` / `observed_ip` move, as references, into `personal` (their
 *   inet columns stay null);
 * - `subject_id` goes into `personal.subject_id` as the subject's reference;
 * - the context members the tenant declares personal are replaced by the
 *   subject's reference (or the human actor's, when the event names no subject);
 * - the values replaced are sealed per subject: one AES-256-GCM operation per
 *   subject and event, into `personal.sealed[<key id>]`.
 *
 * The write path's cost is that one seal per subject and event, the subject
 * refs and unwrapped keys coming from bounded in-memory caches (keys.ts), and
 * one canonical serialisation of a context that changed.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { invalid, type FieldIssue } from '@/supabase/functions/_shared/errors.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { StampedEvent } from '@/supabase/functions/_shared/ingest.ts';
import { setPersonalDataSealer } from '@/supabase/functions/_shared/personal-seal.ts';
import {
  ACTOR_PERSONAL_FIELDS,
  contextPointer,
  ENVELOPE_PREFIX,
  PERSONAL_IP_FIELDS,
  referenceOf,
  SEALED_MEMBER,
  sealValues,
  SEALED_SCHEMA_VERSION,
  TOKENS_MEMBER,
  type SubjectKey,
} from '@/supabase/functions/_shared/personal-data.ts';
import { cachedSubjectRef, liveSubjectKeys, tenantKeys } from './keys.ts';
import { ValueTokens } from './value-tokens.ts';
import { personalSettings } from './settings.ts';

/** Strings of the envelope form are reserved: a client cannot pass one off as sealed data. */
function reservedIssue(row: StampedEvent, index: number): FieldIssue | null {
  for (const f of ACTOR_PERSONAL_FIELDS) {
    const v = row[f];
    if (typeof v === 'string' && v.startsWith(ENVELOPE_PREFIX)) return { index, field: f, message: `values beginning "${ENVELOPE_PREFIX}" are reserved for sealed personal data` };
  }
  if (row.contextJson.includes(`"${ENVELOPE_PREFIX}`)) return { index, field: 'context', message: `string values beginning "${ENVELOPE_PREFIX}" are reserved for sealed personal data` };
  return null;
}

/**
 * Replaces the member at a dotted context path by `reference`, copying only the
 * objects on the way (the caller's context stays as it was sent). Returns the
 * value replaced, or undefined where the path does not exist or holds null.
 */
function replaceAt(row: StampedEvent, path: readonly string[], reference: string, copied: Set<object>): unknown {
  let holder: Record<string, unknown> = row.context;
  const chain: Record<string, unknown>[] = [holder];
  for (let i = 0; i < path.length - 1; i++) {
    const next = holder[path[i]!];
    if (!next || typeof next !== 'object' || Array.isArray(next)) return undefined;
    holder = next as Record<string, unknown>;
    chain.push(holder);
  }
  const key = path[path.length - 1]!;
  if (!Object.hasOwn(holder, key) || holder[key] === null) return undefined;
  // Copy on write along the path.
  let parent: Record<string, unknown> | null = null;
  for (let i = 0; i < chain.length; i++) {
    let node = chain[i]!;
    if (!copied.has(node)) {
      node = { ...node };
      copied.add(node);
      if (parent) parent[path[i - 1]!] = node;
      else row.context = node;
    }
    chain[i] = node;
    parent = node;
  }
  const target = chain[chain.length - 1]!;
  const value = target[key];
  target[key] = reference;
  return value;
}

/**
 * `valueTokens: false` leaves out the value tokens (an event then carries none
 * and is found by no value filter): only for measuring their cost against the
 * same batches (bench/personal-data.ts); every write path seals with them.
 */
export async function sealRows(sql: Sql, tenantId: string, rows: StampedEvent[], options: { valueTokens?: boolean } = {}): Promise<void> {
  const settings = await personalSettings(sql, tenantId);
  if (!settings) {
    const index = rows.findIndex((r) => r.subject_id !== null);
    if (index !== -1) throw invalid([{ index, field: 'subject_id', message: 'needs the tenant to declare its personal data (docs/personal-data.md)' }], 'batch');
    return;
  }
  const issues = rows.map(reservedIssue).filter((i): i is FieldIssue => i !== null);
  if (issues.length) throw invalid(issues.slice(0, 100), 'batch');

  const { indexKey } = await tenantKeys(sql, tenantId);
  const human = new Set(settings.humanActorTypes);
  const paths = settings.contextPaths.map((p) => ({ path: p.split('.'), pointer: contextPointer(p) }));
  const plan = rows.map((row) => ({
    actorRef: human.has(row.actor_type) ? cachedSubjectRef(tenantId, indexKey, row.actor_id) : null,
    subjectRef: row.subject_id !== null ? cachedSubjectRef(tenantId, indexKey, row.subject_id) : null,
  }));
  const refs = new Set<string>();
  for (const p of plan) {
    if (p.actorRef) refs.add(p.actorRef);
    if (p.subjectRef) refs.add(p.subjectRef);
  }
  const keys = await liveSubjectKeys(sql, tenantId, [...refs]);

  const tokens = options.valueTokens === false ? null : new ValueTokens(tenantId, indexKey);
  // Per key, once a batch: the reference standing in for its values.
  const references = new Map<SubjectKey, string>();
  const referenceFor = (key: SubjectKey) => {
    let reference = references.get(key);
    if (reference === undefined) references.set(key, (reference = referenceOf(key)));
    return reference;
  };

  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const { actorRef, subjectRef } = plan[i]!;
    row.schema_version = SEALED_SCHEMA_VERSION;
    row.personal = null;
    row.personalJson = undefined;
    if (actorRef || subjectRef) {
      const actorKey = actorRef ? keys.get(actorRef)! : null;
      const subjectKey = subjectRef ? keys.get(subjectRef)! : null;
      const personal: Record<string, unknown> = {};
      const actorValues: Record<string, unknown> = {};
      const subjectValues: Record<string, unknown> = actorKey === subjectKey ? actorValues : {};
      if (actorKey) {
        const reference = referenceFor(actorKey);
        for (const f of ACTOR_PERSONAL_FIELDS) {
          const v = row[f];
          if (v !== null) {
            actorValues['/' + f] = v;
            row[f] = reference;
          }
        }
        for (const f of PERSONAL_IP_FIELDS) {
          const v = row[f];
          if (v !== null) {
            actorValues['/' + f] = v;
            personal[f] = reference;
            row[f] = null;
          }
        }
      }
      if (subjectKey) {
        subjectValues['/subject_id'] = row.subject_id;
        personal.subject_id = referenceFor(subjectKey);
      }
      const ownerKey = subjectKey ?? actorKey!;
      const ownerValues = subjectKey ? subjectValues : actorValues;
      if (paths.length) {
        const reference = referenceFor(ownerKey);
        const copied = new Set<object>();
        for (const { path, pointer } of paths) {
          const value = replaceAt(row, path, reference, copied);
          if (value !== undefined) ownerValues[pointer] = value;
        }
        if (copied.size) row.contextJson = canonicalJson(row.context);
      }
      // Never empty: a human actor always has its actor_id, a subject its subject_id.
      const sealed: Record<string, string> = {};
      const eventTokens: string[] = [];
      if (actorKey) {
        sealed[actorKey.keyId] = sealValues(actorValues, actorKey, tenantId, row.id);
        tokens?.add(eventTokens, actorKey, actorValues);
      }
      if (subjectKey && subjectValues !== actorValues) {
        sealed[subjectKey.keyId] = sealValues(subjectValues, subjectKey, tenantId, row.id);
        tokens?.add(eventTokens, subjectKey, subjectValues);
      }
      personal[SEALED_MEMBER] = sealed;
      if (eventTokens.length) personal[TOKENS_MEMBER] = eventTokens.sort();
      row.personal = personal;
      row.personalJson = personalJson(personal, sealed, eventTokens);
    }
    row.subject_id = null;
    row.hash = eventHash(row, row.contextJson, row.personalJson);
  }
  // The values' index entries new to this process, before the events are stored: acknowledged events are found.
  await tokens?.register(sql);
}

/**
 * canonicalJson(personal), written directly: its members are the IP addresses'
 * and subject id's references, the seals by key id and the value tokens, all
 * strings JSON writes as they are (references, UUIDs, base64url), in RFC 8785
 * order ("ip_address" < "observed_ip" < "sealed" < "subject_id" < "tokens"; key
 * ids sorted; the tokens array sorted as written). Hashed and stored
 * as it is, so the write path serialises it once (verification recomputes
 * the hash from the stored jsonb with canonicalJson: personal-data.test.ts).
 */
function personalJson(personal: Record<string, unknown>, sealed: Record<string, string>, tokens: readonly string[]): string {
  let out = '{';
  if (personal.ip_address !== undefined) out += '"ip_address":"' + (personal.ip_address as string) + '",';
  if (personal.observed_ip !== undefined) out += '"observed_ip":"' + (personal.observed_ip as string) + '",';
  const keyIds = Object.keys(sealed);
  if (keyIds.length > 1) keyIds.sort();
  out += '"sealed":{';
  for (let i = 0; i < keyIds.length; i++) out += (i ? ',"' : '"') + keyIds[i]! + '":"' + sealed[keyIds[i]!]! + '"';
  out += '}';
  if (personal.subject_id !== undefined) out += ',"subject_id":"' + (personal.subject_id as string) + '"';
  if (tokens.length) out += ',"tokens":["' + tokens.join('","') + '"]';
  return out + '}';
}

setPersonalDataSealer(sealRows);
