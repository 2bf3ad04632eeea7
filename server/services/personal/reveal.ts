/**
 * Opens the sealed personal data of events for a reader (docs/personal-data.md).
 * Every read path that shows events to people (pages, the event view, REST,
 * tRPC) passes them through here: each envelope is replaced by its value, or
 * by "[erased]" where its subject's key was destroyed, and the event says so
 * in `personal_data` ({subject_id, erased: [JSON pointers]}). Never ciphertext,
 * never an error for an erased subject, never a silent blank.
 *
 * A reader without the right to personal data (`masked`) sees "[personal]" in
 * place of each value instead.
 */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { envelopesOf, ERASED, open, parseEnvelope, SEALED_SCHEMA_VERSION } from '@/supabase/functions/_shared/personal-data.ts';
import { keysById } from './keys.ts';

/** What a masked reader sees in place of a personal value. */
export const MASKED = '[personal]';

function setAt(e: AuditEvent, pointer: string, value: unknown): void {
  const parts = pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts[0] !== 'context') {
    (e as unknown as Record<string, unknown>)[parts[0]!] = value;
    return;
  }
  let holder = e.context as Record<string, unknown>;
  for (let i = 1; i < parts.length - 1; i++) holder = holder[parts[i]!] as Record<string, unknown>;
  holder[parts[parts.length - 1]!] = value;
}

export async function revealEvents<T extends AuditEvent>(sql: Sql, tenantId: string, events: T[], options: { masked?: boolean } = {}): Promise<T[]> {
  const sealed = events.filter((e) => e.schema_version === SEALED_SCHEMA_VERSION);
  if (!sealed.length) return events;
  const found = sealed.map((e) => envelopesOf(e).map((x) => ({ ...x, parsed: parseEnvelope(x.envelope)! })));
  const keys = options.masked ? new Map() : await keysById(sql, tenantId, found.flat().map((x) => x.parsed.keyId));
  sealed.forEach((e, i) => {
    e.context = structuredClone(e.context);
    let subjectId: string | null = null;
    const erased: string[] = [];
    for (const { pointer, parsed } of found[i]!) {
      let value: unknown;
      if (options.masked) value = MASKED;
      else {
        const key = keys.get(parsed.keyId)?.key ?? null;
        if (!key) {
          value = ERASED;
          erased.push(pointer);
        } else {
          try {
            value = open(parsed, key, tenantId, e.id, pointer);
          } catch {
            // A key that exists but does not open the value: the envelope was changed (verify reports the event).
            throw new Error(`The sealed ${pointer.slice(1)} of event ${e.id} does not open with its subject's key: the event was changed`);
          }
        }
      }
      if (pointer === '/subject_id') subjectId = value as string;
      else setAt(e, pointer, value);
    }
    e.personal = null;
    e.personal_data = { subject_id: subjectId, erased };
  });
  return events;
}

/**
 * Facet values of sealed actors (the search's shape): each entry's value is the
 * envelopes' prefix; `samples` gives one of its envelopes as "<event id> <envelope>",
 * opened here into the actor id, "[erased]", or "[personal]" for a masked reader.
 */
export async function revealActorSamples(sql: Sql, tenantId: string, samples: Map<{ value: string | null }, string>, options: { masked?: boolean } = {}): Promise<void> {
  const parsed = [...samples].map(([entry, sample]) => {
    const [eventId, envelope] = sample.split(' ') as [string, string];
    return { entry, eventId, envelope: parseEnvelope(envelope) };
  });
  const keys = options.masked ? new Map() : await keysById(sql, tenantId, parsed.flatMap((p) => (p.envelope ? [p.envelope.keyId] : [])));
  for (const { entry, eventId, envelope } of parsed) {
    if (!envelope) continue;
    if (options.masked) entry.value = MASKED;
    else {
      const key = keys.get(envelope.keyId)?.key ?? null;
      entry.value = key ? String(open(envelope, key, tenantId, eventId, '/actor_id')) : ERASED;
    }
  }
}
