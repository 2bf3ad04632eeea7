/**
 * Seals the personal data of a batch before it is hashed (schema version 3,
 * docs/personal-data.md). Registered as the write path's sealer when the
 * server's ingest module loads, so REST, tRPC, single events and the CLI all
 * seal the same way:
 *
 * - a human actor's `actor_id`, `user_agent`, `device_fingerprint`,
 *   `observed_user_agent` are replaced by envelopes under the actor's key, and
 *   its `ip_address` / `observed_ip` move, sealed, into `personal` (their inet
 *   columns stay null);
 * - `subject_id` is sealed into `personal.subject_id` under its own key;
 * - the context members the tenant declares personal are sealed under the
 *   subject's key (or the human actor's, when the event names no subject).
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
  seal,
  SEALED_SCHEMA_VERSION,
  subjectRef,
} from '@/supabase/functions/_shared/personal-data.ts';
import { liveSubjectKeys, tenantKeys } from './keys.ts';
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

/** The container of a dotted context path and the member's name in it, if the path exists. */
function locate(context: Record<string, unknown>, path: string): { holder: Record<string, unknown>; key: string } | null {
  const parts = path.split('.');
  let holder: unknown = context;
  for (let i = 0; i < parts.length - 1; i++) {
    holder = (holder as Record<string, unknown>)[parts[i]!];
    if (!holder || typeof holder !== 'object' || Array.isArray(holder)) return null;
  }
  const key = parts[parts.length - 1]!;
  return Object.hasOwn(holder as object, key) ? { holder: holder as Record<string, unknown>, key } : null;
}

export async function sealRows(sql: Sql, tenantId: string, rows: StampedEvent[]): Promise<void> {
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
  const plan = rows.map((row) => ({
    actorRef: human.has(row.actor_type) ? subjectRef(indexKey, row.actor_id) : null,
    subjectRef: row.subject_id !== null ? subjectRef(indexKey, row.subject_id) : null,
  }));
  const refs = new Set<string>();
  for (const p of plan) {
    if (p.actorRef) refs.add(p.actorRef);
    if (p.subjectRef) refs.add(p.subjectRef);
  }
  const keys = await liveSubjectKeys(sql, tenantId, [...refs]);

  rows.forEach((row, i) => {
    const { actorRef, subjectRef: subject } = plan[i]!;
    row.schema_version = SEALED_SCHEMA_VERSION;
    const personal: Record<string, string> = {};
    if (actorRef) {
      const key = keys.get(actorRef)!;
      for (const f of ACTOR_PERSONAL_FIELDS) {
        const v = row[f];
        if (v !== null) row[f] = seal(v, key, tenantId, row.id, '/' + f);
      }
      for (const f of PERSONAL_IP_FIELDS) {
        const v = row[f];
        if (v !== null) {
          personal[f] = seal(v, key, tenantId, row.id, '/' + f);
          row[f] = null;
        }
      }
    }
    if (subject) personal.subject_id = seal(row.subject_id, keys.get(subject)!, tenantId, row.id, '/subject_id');
    const owner = subject ?? actorRef;
    if (owner && settings.contextPaths.length) {
      let context: Record<string, unknown> | null = null;
      for (const path of settings.contextPaths) {
        // Copied before the first change: the caller's object stays as it was sent.
        const at = locate(context ?? row.context, path);
        if (!at || at.holder[at.key] === null) continue;
        if (!context) {
          context = structuredClone(row.context);
          const again = locate(context, path)!;
          again.holder[again.key] = seal(again.holder[again.key], keys.get(owner)!, tenantId, row.id, contextPointer(path));
        } else at.holder[at.key] = seal(at.holder[at.key], keys.get(owner)!, tenantId, row.id, contextPointer(path));
      }
      if (context) {
        row.context = context;
        row.contextJson = canonicalJson(context);
      }
    }
    row.personal = Object.keys(personal).length ? personal : null;
    row.subject_id = null;
    row.hash = eventHash(row, row.contextJson);
  });
}

setPersonalDataSealer(sealRows);
