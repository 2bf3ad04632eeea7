/**
 * Opens the sealed personal data of events for a reader (docs/personal-data.md).
 * Every read path that shows events to people (pages, the event view, REST,
 * tRPC) passes them through here: each reference is replaced by its value (one
 * seal opened per subject and event), or by "[erased]" where its subject's key
 * was destroyed, and the event says so
 * in `personal_data` ({subject_id, erased: [JSON pointers]}). Never ciphertext,
 * never an error for an erased subject, never a silent blank.
 *
 * A reader without the right to personal data (`masked`) sees "[personal]" in
 * place of each value instead.
 */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { changedSeal, ERASED, MASKED, openedPersonalData, openValues, parseReference, referencesOf, SEALED_SCHEMA_VERSION, type OpenedPersonalData } from '@/supabase/functions/_shared/personal-data.ts';
import { keysById } from './keys.ts';

/** What a masked reader sees in place of a personal value. */
export { MASKED };

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

/**
 * Opens the personal data of stored events (not changed): null for an event
 * without references. `masked`: each value reads "[personal]"; no key is looked
 * up and no seal opened.
 */
async function openPersonalData(sql: Sql, tenantId: string, events: readonly AuditEvent[], options: { masked?: boolean }): Promise<(OpenedPersonalData | null)[]> {
  if (options.masked) return events.map((e) => openedPersonalData(e, tenantId, () => PLACEHOLDER_KEY, true));
  const keys = await keysById(sql, tenantId, events.flatMap((e) => (e.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(e).map((x) => x.reference.keyId) : [])));
  return events.map((e) => openedPersonalData(e, tenantId, (keyId) => keys.get(keyId)?.key ?? null));
}

/** Stands for a live key when masked without a look-up: it is never used to open a seal. */
const PLACEHOLDER_KEY = new Uint8Array(32);

export async function revealEvents<T extends AuditEvent>(sql: Sql, tenantId: string, events: T[], options: { masked?: boolean } = {}): Promise<T[]> {
  const sealed = events.filter((e) => e.schema_version === SEALED_SCHEMA_VERSION);
  if (!sealed.length) return events;
  const opened = await openPersonalData(sql, tenantId, sealed, { masked: options.masked });
  sealed.forEach((e, i) => {
    const data = opened[i];
    e.context = structuredClone(e.context);
    let subjectId: string | null = null;
    for (const [pointer, value] of Object.entries(data?.values ?? {})) {
      if (pointer === '/subject_id') subjectId = value as string;
      else setAt(e, pointer, value);
    }
    e.personal = null;
    e.personal_data = { subject_id: subjectId, erased: data?.erased ?? [] };
  });
  return events;
}

/**
 * Facet values of sealed actors (the search's shape): each entry's value is an
 * actor's reference; `samples` gives one of its events as "<event id> <seal>",
 * opened here into the actor id, "[erased]" (with `erased: true`), or "[personal]" for a masked reader.
 */
export async function revealActorSamples(sql: Sql, tenantId: string, samples: Map<{ value: string | null; erased?: true }, string>, options: { masked?: boolean } = {}): Promise<void> {
  const parsed = [...samples].map(([entry, sample]) => {
    const [eventId, seal] = sample.split(' ') as [string, string | undefined];
    return { entry, eventId, seal, reference: entry.value ? parseReference(entry.value) : null };
  });
  const keys = options.masked ? new Map() : await keysById(sql, tenantId, parsed.flatMap((p) => (p.reference ? [p.reference.keyId] : [])));
  for (const { entry, eventId, seal, reference } of parsed) {
    if (!reference) continue;
    if (options.masked) entry.value = MASKED;
    else {
      const key = keys.get(reference.keyId)?.key ?? null;
      if (!key) {
        // Flagged, so the text is never the only sign: an actor id may have been sent as "[erased]".
        entry.value = ERASED;
        entry.erased = true;
      } else {
        if (!seal) throw changedSeal(eventId, '/actor_id');
        const values = openValues(seal, key, tenantId, eventId, reference.keyId);
        entry.value = String(values['/actor_id']);
      }
    }
  }
}
