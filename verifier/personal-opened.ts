/**
 * Checks of a bundle's personal_opened column (docs/export-format.md, section
 * 7), beside the hash checks, which read the stored columns only — so opened
 * values never change what is hashed. For each row: personal_opened names
 * exactly the places of the stored event holding a reference (null when it has
 * none); a masked file shows only "[personal]" and "[erased]", each "[erased]"
 * listed in the signed manifest; every field the manifest lists as erased reads
 * "[erased]", and its counts match the file. (In an opened file a value sent as
 * the text "[erased]" cannot be told from an erased one: there the manifest's
 * list is what the operator signed.) Given subject keys (--subject-keys: a JSON object of key id → base64
 * key), each opened value of those subjects must be the one its seal holds.
 */
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';
import { ERASED, MASKED, openValues, referencesOf, sealsOf, SEALED_SCHEMA_VERSION } from '../supabase/functions/_shared/personal-data.ts';
import { PERSONAL_OPENED_COLUMN } from '../lib/export-formats.ts';

interface ManifestPersonal {
  mode?: unknown;
  rows?: unknown;
  erased_fields?: unknown;
  erased?: unknown;
}

export class PersonalOpenedCheck {
  private readonly listed = new Map<number, string[]>();
  private readonly mode: string;
  private rows = 0;
  private seenListed = 0;
  private readonly problems: string[] = [];

  constructor(
    private readonly tenantId: string,
    personal: ManifestPersonal | undefined,
    private readonly subjectKeys: Map<string, Buffer> = new Map(),
  ) {
    this.mode = typeof personal?.mode === 'string' ? personal.mode : 'absent';
    if (this.mode !== 'opened' && this.mode !== 'masked') {
      this.problems.push(`the file has a ${PERSONAL_OPENED_COLUMN} column, but the signed manifest's personal.mode is ${this.mode}, not opened or masked`);
      return;
    }
    const erased = Array.isArray(personal?.erased) ? (personal.erased as { seq: number; pointers: string[] }[]) : [];
    for (const e of erased) this.listed.set(e.seq, e.pointers);
    const total = erased.reduce((n, e) => n + e.pointers.length, 0);
    if (total !== personal?.erased_fields) this.problems.push(`the manifest lists ${total} erased fields, but its erased_fields says ${String(personal?.erased_fields)}`);
    this.expectedRows = typeof personal?.rows === 'number' ? personal.rows : null;
  }

  private expectedRows: number | null = null;

  /** One row: its stored values (hashed elsewhere) and its personal_opened value. */
  check(row: number, values: Record<string, unknown>): void {
    const seq = values.seq as number;
    const where = `row ${row} (seq ${seq})`;
    const opened = values[PERSONAL_OPENED_COLUMN];
    const refs = values.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(values) : [];
    const listed = this.listed.get(seq) ?? [];
    if (listed.length) this.seenListed++;
    if (!refs.length) {
      if (opened !== null) this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} holds values, but the stored event has no personal data`);
      if (listed.length) this.problems.push(`${where}: the manifest lists erased fields of an event without personal data`);
      return;
    }
    this.rows++;
    if (!opened || typeof opened !== 'object' || Array.isArray(opened)) {
      this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} is not an object of the event's personal values`);
      return;
    }
    const shown = opened as Record<string, unknown>;
    const pointers = refs.map((r) => r.pointer);
    if (canonicalJson([...pointers].sort()) !== canonicalJson(Object.keys(shown).sort())) {
      this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} names ${Object.keys(shown).join(', ') || 'nothing'}, but the stored event has references at ${pointers.join(', ')}`);
      return;
    }
    for (const p of listed) if (shown[p] !== ERASED) this.problems.push(`${where}: the manifest lists ${p} as erased, but the file shows a value there`);
    if (this.mode === 'masked') {
      // No value is shown, so "[erased]" is unambiguous: each one must be in the manifest's list.
      for (const [p, v] of Object.entries(shown)) {
        if (v !== MASKED && v !== ERASED) this.problems.push(`${where}: a masked export shows a value at ${p}`);
        if (v === ERASED && !listed.includes(p)) this.problems.push(`${where}: ${p} reads "[erased]", but the manifest does not list it as erased`);
      }
      return;
    }
    // With the subject keys a recipient was given: each opened value is the one its seal holds.
    const seals = sealsOf(values.personal);
    const sealed = new Map<string, Record<string, unknown> | null>();
    for (const { pointer, reference } of refs) {
      const key = this.subjectKeys.get(reference.keyId);
      if (!key || listed.includes(pointer)) continue;
      if (!sealed.has(reference.keyId)) {
        try {
          sealed.set(reference.keyId, openValues(seals[reference.keyId] ?? '', key, this.tenantId, values.id as string, reference.keyId));
        } catch {
          sealed.set(reference.keyId, null);
          this.problems.push(`${where}: the seal of key ${reference.keyId} does not open with the key given for it`);
        }
      }
      const values_ = sealed.get(reference.keyId);
      if (values_ && canonicalJson(values_[pointer] ?? null) !== canonicalJson(shown[pointer] ?? null)) {
        this.problems.push(`${where}: the opened value at ${pointer} is not the one its seal holds`);
      }
    }
  }

  /** After the last row: the manifest's list and counts cover the file exactly. */
  finish(): string[] {
    if (this.seenListed !== this.listed.size) this.problems.push(`the manifest lists erased fields of ${this.listed.size} events, but ${this.seenListed} of them are in the file`);
    if (this.expectedRows !== null && this.expectedRows !== this.rows) this.problems.push(`the file has ${this.rows} rows with personal data; the signed manifest says ${this.expectedRows}`);
    return this.problems;
  }
}

/** A subject keys file: a JSON object of key id → the data key in base64 (as a tenant may hand a regulator). */
export function readSubjectKeys(text: string): Map<string, Buffer> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const keys = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(parsed)) {
    const key = typeof value === 'string' ? Buffer.from(value, 'base64') : null;
    if (!key || key.length !== 32) throw new Error(`the subject key ${id} is not 32 bytes of base64`);
    keys.set(id.toLowerCase(), key);
  }
  return keys;
}
