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
 * one canonical serialisation of each context (done here for a sealing
 * tenant's rows, which are stamped without it).
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
  sealedValueJson,
  sealPlaintext,
  SEALED_SCHEMA_VERSION,
  TOKENS_MEMBER,
  type SubjectKey,
} from '@/supabase/functions/_shared/personal-data.ts';
import { cachedSubjectRef, forgetSubjectKeys, liveSubjectKeys, tenantKeys } from './keys.ts';
import { ValueTokens } from './value-tokens.ts';
import { forgetPersonalSettings, personalSettings } from './settings.ts';

/**
 * Stands in a context, while the batch is checked and before its subjects' keys
 * are known, for the reference that will replace a declared member: the same
 * length and form as a reference, so the context is serialised once, and the
 * stand-ins become the references by a text replacement (a stand-in is never
 * stored: a client's value equal to it holds "pd2:" and is refused).
 */
const STAND_IN = `${ENVELOPE_PREFIX}${'0'.repeat(64)}:00000000-0000-0000-0000-000000000000`;
const QUOTED_STAND_IN = `"${STAND_IN}"`;
const QUOTED_PREFIX = `"${ENVELOPE_PREFIX}`;

/** How often `"pd2:` occurs in a text. */
function prefixCount(text: string): number {
  let n = 0;
  for (let at = text.indexOf(QUOTED_PREFIX); at !== -1; at = text.indexOf(QUOTED_PREFIX, at + QUOTED_PREFIX.length)) n++;
  return n;
}

/**
 * Replaces the member at a dotted context path by the stand-in, copying only
 * the objects on the way (the caller's context stays as it was sent). Returns
 * the value replaced and the object holding it, or undefined where the path
 * does not exist or holds null.
 */
function replaceAt(row: StampedEvent, path: readonly string[], copied: Set<object>): { value: unknown; holder: Record<string, unknown> } | undefined {
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
  target[key] = STAND_IN;
  return { value, holder: target };
}

/** A declared context member the first pass replaced by the stand-in: its value, and the object and member name holding it. */
interface Replacement {
  value: unknown;
  holder: Record<string, unknown>;
  key: string;
}

/** What the first pass found of one row: its subjects, and the context members it replaced (by declared path). */
interface RowPlan {
  actorRef: string | null;
  subjectRef: string | null;
  /** Aligned with the declared paths; null when none was replaced. */
  replaced: (Replacement | undefined)[] | null;
}

/** One place a seal can hold a value, in the order the seal's plaintext lists them (its JSON pointer's). */
type Place = { member: string; pointer: string } & ({ kind: 'actor'; field: (typeof ACTOR_PERSONAL_FIELDS)[number] | (typeof PERSONAL_IP_FIELDS)[number] } | { kind: 'subject' } | { kind: 'context'; path: number });

/** Every place of the batch's seals, sorted as RFC 8785 sorts the plaintext's members (by UTF-16 code units). */
function placesOf(contextPointers: readonly string[]): Place[] {
  const places: Place[] = [
    ...[...ACTOR_PERSONAL_FIELDS, ...PERSONAL_IP_FIELDS].map((field) => ({ pointer: '/' + field, kind: 'actor' as const, field })),
    { pointer: '/subject_id', kind: 'subject' as const },
    ...contextPointers.map((pointer, path) => ({ pointer, kind: 'context' as const, path })),
  ].map((p) => ({ ...p, member: JSON.stringify(p.pointer) + ':' }));
  return places.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

const reserved = (index: number, field: string): FieldIssue => ({
  index,
  field,
  message: field === 'context' ? `string values beginning "${ENVELOPE_PREFIX}" are reserved for sealed personal data` : `values beginning "${ENVELOPE_PREFIX}" are reserved for sealed personal data`,
});

/**
 * Seals the personal data of rows stamped with `hash: false`, and writes each
 * row's canonical context and hash; leaves a tenant that declares no personal
 * data to the write path (completeRows). Nothing is written to the key store
 * before the whole batch passed its checks. `valueTokens: false` leaves out
 * the value tokens (an event then carries none and is found by no value
 * filter): only for measuring their cost against the same batches
 * (bench/personal-data.ts); every write path seals with them.
 */
export async function sealRows(sql: Sql, tenantId: string, rows: StampedEvent[], options: { valueTokens?: boolean } = {}): Promise<void> {
  const settings = await personalSettings(sql, tenantId);
  if (!settings) {
    const index = rows.findIndex((r) => r.subject_id !== null);
    if (index !== -1) throw invalid([{ index, field: 'subject_id', message: 'needs the tenant to declare its personal data (docs/personal-data.md)' }], 'batch');
    return;
  }
  const human = new Set(settings.humanActorTypes);
  // Once each, the outer first: a member declared inside another declared member is sealed with it.
  const paths = [...new Set(settings.contextPaths)]
    .map((p) => ({ path: p.split('.'), key: p.slice(p.lastIndexOf('.') + 1), pointer: contextPointer(p) }))
    .sort((a, b) => a.path.length - b.path.length);

  // First pass, before any key exists: the declared members are replaced by the stand-in, each context is
  // serialised once, and strings of the envelope form are refused (in the context: every "pd2: but the stand-ins).
  const issues: FieldIssue[] = [];
  const plan: RowPlan[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const field = ACTOR_PERSONAL_FIELDS.find((f) => row[f]?.startsWith(ENVELOPE_PREFIX));
    const isHuman = human.has(row.actor_type);
    let replaced: RowPlan['replaced'] = null;
    let count = 0;
    let clash = false;
    if ((isHuman || row.subject_id !== null) && paths.length) {
      const copied = new Set<object>();
      for (let p = 0; p < paths.length; p++) {
        const { path, key } = paths[p]!;
        const found = replaceAt(row, path, copied);
        if (!found) continue;
        (replaced ??= new Array(paths.length))[p] = { value: found.value, holder: found.holder, key };
        count++;
        const v = found.value;
        if (typeof v === 'string' ? v.startsWith(ENVELOPE_PREFIX) : typeof v === 'object' && canonicalJson(v).includes(QUOTED_PREFIX)) clash = true;
      }
    }
    row.contextJson = canonicalJson(row.context);
    if (field) issues.push(reserved(i, field));
    else if (clash || prefixCount(row.contextJson) !== count) issues.push(reserved(i, 'context'));
    // Subject ids for now: their refs are computed once the batch is known to be acceptable.
    plan[i] = { actorRef: isHuman ? row.actor_id : null, subjectRef: row.subject_id, replaced };
  }
  if (issues.length) throw invalid(issues.slice(0, 100), 'batch');

  const { indexKey } = await tenantKeys(sql, tenantId);
  const refs = new Set<string>();
  for (const p of plan) {
    if (p.actorRef !== null) refs.add((p.actorRef = cachedSubjectRef(tenantId, indexKey, p.actorRef)));
    if (p.subjectRef !== null) refs.add((p.subjectRef = cachedSubjectRef(tenantId, indexKey, p.subjectRef)));
  }
  const keys = await liveSubjectKeys(sql, tenantId, [...refs]);
  const places = placesOf(paths.map((p) => p.pointer));
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
    const { actorRef, subjectRef, replaced } = plan[i]!;
    row.schema_version = SEALED_SCHEMA_VERSION;
    row.personal = null;
    row.personalJson = undefined;
    if (actorRef || subjectRef) {
      const actorKey = actorRef ? keys.get(actorRef)! : null;
      const subjectKey = subjectRef ? keys.get(subjectRef)! : null;
      // One seal when the actor is also the subject; the context goes to the subject's, else the actor's.
      const shared = actorKey === subjectKey;
      const contextToActor = !subjectKey || shared;
      // The plaintexts' members, written in the places' order: the seals' canonical JSON (sealedValueJson).
      let actorMembers = '';
      let subjectMembers = '';
      const eventTokens: string[] = [];
      for (const place of places) {
        let value: unknown;
        let toActor: boolean;
        if (place.kind === 'actor') {
          if (!actorKey || (value = row[place.field]) === null) continue;
          toActor = true;
        } else if (place.kind === 'subject') {
          if (!subjectKey) continue;
          value = row.subject_id;
          toActor = shared;
        } else {
          const r = replaced?.[place.path];
          if (!r) continue;
          value = r.value;
          toActor = contextToActor;
        }
        const member = place.member + sealedValueJson(value);
        // Every sealed value but the actor id (its reference finds it) gets its token under the same key.
        if (tokens && place.pointer !== '/actor_id') tokens.add(eventTokens, toActor ? actorKey! : subjectKey!, place.pointer, value);
        if (toActor) actorMembers += actorMembers ? ',' + member : member;
        else subjectMembers += subjectMembers ? ',' + member : member;
      }

      const personal: Record<string, unknown> = {};
      if (actorKey) {
        const reference = referenceFor(actorKey);
        for (const f of ACTOR_PERSONAL_FIELDS) if (row[f] !== null) row[f] = reference;
        for (const f of PERSONAL_IP_FIELDS) {
          if (row[f] !== null) {
            personal[f] = reference;
            row[f] = null;
          }
        }
      }
      if (subjectKey) personal.subject_id = referenceFor(subjectKey);
      if (replaced) {
        const reference = referenceFor(contextToActor ? actorKey! : subjectKey!);
        for (const r of replaced) if (r) r.holder[r.key] = reference;
        row.contextJson = row.contextJson.replaceAll(QUOTED_STAND_IN, `"${reference}"`);
      }
      // Never empty: a human actor always has its actor_id, a subject its subject_id.
      const sealed: Record<string, string> = {};
      if (actorKey) sealed[actorKey.keyId] = sealPlaintext('{' + actorMembers + '}', actorKey, tenantId, row.id);
      if (subjectKey && !shared) sealed[subjectKey.keyId] = sealPlaintext('{' + subjectMembers + '}', subjectKey, tenantId, row.id);
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

setPersonalDataSealer(sealRows, forgetSubjectKeys, forgetPersonalSettings);
