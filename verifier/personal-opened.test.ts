/**
 * The personal_opened column against the published vectors
 * (docs/test-vectors/personal-exports.json): the server writes each record's
 * cell exactly as specified, and the verifier's check accepts the vectors and
 * names every way a file or manifest can misstate personal data — a changed
 * value (with the subject's key), a value shown where the manifest says
 * erased, a missing place, a value in a masked file, a short erased list.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXPORT_FORMATS, PERSONAL_OPENED_COLUMN } from '@/lib/export-formats.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { withPersonalCell } from '@/server/services/exports/personal-column.ts';
import type { EventVectors, PersonalExportVectors } from './test-vectors.ts';
import { PersonalOpenedCheck, readSubjectKeys } from './personal-opened.ts';

const read = <T>(name: string) => JSON.parse(readFileSync(`docs/test-vectors/${name}`, 'utf8')) as T;
const vectors = read<PersonalExportVectors>('personal-exports.json');
const events = read<EventVectors>('events.json').vectors.map((v) => v.event);
const keys = readSubjectKeys(JSON.stringify(vectors.subject_keys));

/** Runs the check over every event of events.json with personal_opened from `shown` (by event id; else the vector's). */
function problems(mode: 'opened' | 'masked', manifest: Record<string, unknown>, shown: Record<string, Record<string, unknown>> = {}): string[] {
  const check = new PersonalOpenedCheck(vectors.tenant_id, manifest, keys);
  events.forEach((e, i) => {
    const row = vectors.rows.find((r) => r.event_id === e.id);
    check.check(i + 1, { ...e, [PERSONAL_OPENED_COLUMN]: shown[e.id] ?? (row ? row[mode] : null) });
  });
  return check.finish();
}

describe('personal_opened', () => {
  it('is written after a record exactly as the vectors give it, in CSV and JSON Lines', () => {
    for (const row of vectors.rows) {
      const json = canonicalJson(row.opened);
      expect(Buffer.concat(withPersonalCell(EXPORT_FORMATS.csv, Buffer.from('a,"b"\r\n'), json)).toString()).toBe(`a,"b"${row.csv_tail}`);
      expect(Buffer.concat(withPersonalCell(EXPORT_FORMATS.jsonl, Buffer.from('{"id":"x"}\n'), json)).toString()).toBe(`{"id":"x"${row.jsonl_tail}`);
    }
    expect(Buffer.concat(withPersonalCell(EXPORT_FORMATS['csv-excel'], Buffer.from('a;b\r\n'), null)).toString()).toBe('a;b;\r\n');
    expect(Buffer.concat(withPersonalCell(EXPORT_FORMATS.jsonl, Buffer.from('{"id":"x"}\n'), null)).toString()).toBe('{"id":"x","personal_opened":null}\n');
  });

  it('passes the vectors, opened (checked against the seals with the subject keys) and masked', () => {
    expect(problems('opened', vectors.manifest_opened)).toEqual([]);
    expect(problems('masked', vectors.manifest_masked)).toEqual([]);
  });

  it('names a changed value, a value where the manifest says erased, a missing place, a masked value shown and a short erased list', () => {
    const [alice, carol] = vectors.rows;
    expect(problems('opened', vectors.manifest_opened, { [alice!.event_id]: { ...alice!.opened, '/context/email': 'someone.else@example.net' } })).toEqual([
      expect.stringContaining('the opened value at /context/email is not the one its seal holds'),
    ]);
    expect(problems('opened', vectors.manifest_opened, { [carol!.event_id]: { ...carol!.opened, '/context/phone': '+44 20 7946 0000' } })).toEqual([
      expect.stringContaining('the manifest lists /context/phone as erased, but the file shows a value there'),
    ]);
    const { '/ip_address': _ip, ...withoutIp } = alice!.opened;
    expect(problems('opened', vectors.manifest_opened, { [alice!.event_id]: withoutIp })).toEqual([expect.stringContaining('but the stored event has references at')]);
    expect(problems('masked', vectors.manifest_masked, { [alice!.event_id]: alice!.opened })).toEqual(expect.arrayContaining([expect.stringContaining('a masked export shows a value at /actor_id')]));
    // A masked file shows no value, so an erased field left out of the list is found; a list whose count is off, too.
    expect(problems('masked', { ...vectors.manifest_masked, erased: [], erased_fields: 0 })).toEqual(expect.arrayContaining([expect.stringContaining('/context/phone reads "[erased]", but the manifest does not list it as erased')]));
    expect(problems('opened', { ...vectors.manifest_opened, erased: [] })).toEqual(expect.arrayContaining([expect.stringContaining('erased_fields says')]));
    expect(problems('opened', { ...vectors.manifest_opened, mode: 'stored' })).toEqual([expect.stringContaining("personal.mode is stored")]);
  });
});
