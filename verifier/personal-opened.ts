/**
 * Checks of a bundle's personal_opened column (docs/export-format.md, section
 * 8), beside the hash checks, which read the stored columns only — so opened
 * values never change what is hashed. For each row: personal_opened names
 * exactly the places of the stored event holding a reference (null when it has
 * none). Column version 2 (manifest `personal.column_version`) lists each
 * row's erased pointers apart from its values, so the file alone says which
 * fields are erased, and a value sent as the text "[erased]" is a value like
 * any other: the manifest's list, when present, must be exactly the rows'
 * lists; a masked file shows only "[personal]" values. Version 1 (bundles
 * written before) put "[erased]" in place of an erased value: there, in an
 * opened file, only the manifest's list tells an erased field from a value
 * sent as that text. Given subject keys (--subject-keys: a JSON object of key
 * id → base64 key), each opened value of those subjects must be the one its
 * seal holds.
 */
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';
import { ERASED, MASKED, openValues, PERSONAL_OPENED_VERSION, referencesOf, sealsOf, SEALED_SCHEMA_VERSION } from '../supabase/functions/_shared/personal-data.ts';
import { PERSONAL_OPENED_COLUMN } from '../lib/export-formats.ts';

interface ManifestPersonal {
  mode?: unknown;
  column_version?: unknown;
  rows?: unknown;
  erased_fields?: unknown;
  erased?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export class PersonalOpenedCheck {
  /** The manifest's erased pointers by seq; null when the manifest has no list (version 2 rows then speak for themselves). */
  private readonly listed: Map<number, string[]> | null = null;
  private readonly mode: string;
  private readonly version: number;
  private rows = 0;
  private seenListed = 0;
  private readonly problems: string[] = [];
  /** The erased pointers the file shows, by seq (version 2: read from each row; version 1: the "[erased]" values). */
  readonly erasedInFile = new Map<number, string[]>();

  constructor(
    private readonly tenantId: string,
    personal: ManifestPersonal | undefined,
    private readonly subjectKeys: Map<string, Buffer> = new Map(),
  ) {
    this.mode = typeof personal?.mode === 'string' ? personal.mode : 'absent';
    this.version = personal?.column_version === undefined ? 1 : (personal.column_version as number);
    if (this.mode !== 'opened' && this.mode !== 'masked') {
      this.problems.push(`the file has a ${PERSONAL_OPENED_COLUMN} column, but the signed manifest's personal.mode is ${this.mode}, not opened or masked`);
      return;
    }
    if (this.version !== 1 && this.version !== PERSONAL_OPENED_VERSION) {
      this.problems.push(`the signed manifest's personal.column_version is ${String(personal?.column_version)}; this verifier reads versions 1 and ${PERSONAL_OPENED_VERSION}`);
      return;
    }
    if (Array.isArray(personal?.erased)) {
      const erased = personal.erased as { seq: number; pointers: string[] }[];
      this.listed = new Map(erased.map((e) => [e.seq, e.pointers]));
      const total = erased.reduce((n, e) => n + e.pointers.length, 0);
      if (total !== personal?.erased_fields) this.problems.push(`the manifest lists ${total} erased fields, but its erased_fields says ${String(personal?.erased_fields)}`);
    } else if (this.version === 1) {
      this.problems.push('the signed manifest has no list of erased fields: in a version 1 file nothing else tells an erased field from a value sent as "[erased]"');
    }
    this.expectedRows = typeof personal?.rows === 'number' ? personal.rows : null;
  }

  private expectedRows: number | null = null;

  /**
   * A row's shown values and erased pointers, as the file's version writes
   * them; a string naming what is wrong when the cell is not of that shape.
   */
  private read(cell: unknown): { shown: Record<string, unknown>; erased: string[] } | string {
    if (this.version === 1) {
      if (!isObject(cell)) return `${PERSONAL_OPENED_COLUMN} is not an object of the event's personal values`;
      return { shown: cell, erased: Object.keys(cell).filter((p) => cell[p] === ERASED) };
    }
    const keys = isObject(cell) ? Object.keys(cell).sort() : [];
    if (!isObject(cell) || canonicalJson(keys) !== canonicalJson(['erased', 'values']) || !isObject(cell.values) || !Array.isArray(cell.erased) || !cell.erased.every((p) => typeof p === 'string')) {
      return `${PERSONAL_OPENED_COLUMN} is not an object {erased: [pointers], values: {pointer: value}} (column version 2)`;
    }
    const erased = cell.erased as string[];
    if (new Set(erased).size !== erased.length) return `${PERSONAL_OPENED_COLUMN} lists a pointer as erased twice`;
    const overlap = erased.filter((p) => Object.hasOwn(cell.values as object, p));
    if (overlap.length) return `${PERSONAL_OPENED_COLUMN} shows a value at ${overlap.join(', ')} and lists it as erased`;
    return { shown: { ...(cell.values as Record<string, unknown>), ...Object.fromEntries(erased.map((p) => [p, ERASED])) }, erased };
  }

  /** One row: its stored values (hashed elsewhere) and its personal_opened value. */
  check(row: number, values: Record<string, unknown>): void {
    const seq = values.seq as number;
    const where = `row ${row} (seq ${seq})`;
    const opened = values[PERSONAL_OPENED_COLUMN];
    const refs = values.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(values) : [];
    const listed = this.listed?.get(seq) ?? [];
    if (listed.length) this.seenListed++;
    if (!refs.length) {
      if (opened !== null) this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} holds values, but the stored event has no personal data`);
      if (listed.length) this.problems.push(`${where}: the manifest lists erased fields of an event without personal data`);
      return;
    }
    this.rows++;
    const read = this.read(opened);
    if (typeof read === 'string') {
      this.problems.push(`${where}: ${read}`);
      return;
    }
    const { shown, erased } = read;
    const pointers = refs.map((r) => r.pointer);
    if (canonicalJson([...pointers].sort()) !== canonicalJson(Object.keys(shown).sort())) {
      this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} names ${Object.keys(shown).join(', ') || 'nothing'}, but the stored event has references at ${pointers.join(', ')}`);
      return;
    }
    if (this.version === PERSONAL_OPENED_VERSION) {
      if (erased.length) this.erasedInFile.set(seq, erased);
      const inOrder = pointers.filter((p) => erased.includes(p));
      if (canonicalJson(inOrder) !== canonicalJson(erased)) this.problems.push(`${where}: the erased pointers are not in the event's reference order`);
      // The file says which fields are erased; the manifest's list, when there is one, must say the same.
      if (this.listed) {
        for (const p of listed) if (!erased.includes(p)) this.problems.push(`${where}: the manifest lists ${p} as erased, but the file shows a value there`);
        for (const p of erased) if (!listed.includes(p)) this.problems.push(`${where}: the file lists ${p} as erased, but the manifest does not`);
      }
      if (this.mode === 'masked') {
        for (const [p, v] of Object.entries(shown)) if (!erased.includes(p) && v !== MASKED) this.problems.push(`${where}: a masked export shows a value at ${p}`);
        return;
      }
    } else {
      const shownErased = erased.filter((p) => listed.includes(p));
      if (shownErased.length) this.erasedInFile.set(seq, shownErased);
      for (const p of listed) if (shown[p] !== ERASED) this.problems.push(`${where}: the manifest lists ${p} as erased, but the file shows a value there`);
      if (this.mode === 'masked') {
        // No value is shown, so "[erased]" is unambiguous: each one must be in the manifest's list.
        for (const [p, v] of Object.entries(shown)) {
          if (v !== MASKED && v !== ERASED) this.problems.push(`${where}: a masked export shows a value at ${p}`);
          if (v === ERASED && !listed.includes(p)) this.problems.push(`${where}: ${p} reads "[erased]", but the manifest does not list it as erased`);
        }
        return;
      }
    }
    const erasedHere = this.version === PERSONAL_OPENED_VERSION ? erased : listed;
    // With the subject keys a recipient was given: each opened value is the one its seal holds.
    const seals = sealsOf(values.personal);
    const sealed = new Map<string, Record<string, unknown> | null>();
    for (const { pointer, reference } of refs) {
      const key = this.subjectKeys.get(reference.keyId);
      if (!key || erasedHere.includes(pointer)) continue;
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
    if (this.listed && this.seenListed !== this.listed.size) this.problems.push(`the manifest lists erased fields of ${this.listed.size} events, but ${this.seenListed} of them are in the file`);
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
