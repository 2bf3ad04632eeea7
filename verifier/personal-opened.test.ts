/**
 * The personal_opened column against the published vectors
 * (docs/test-vectors/personal-exports.json): the server writes each record's
 * cell exactly as specified, and the verifier's check accepts the vectors and
 * names every way a file or manifest can misstate personal data — a changed
 * value (with the subject's key), a value shown where the manifest says
 * erased, a missing place, a value in a masked file, a short erased list. A
 * value sent as the text "[erased]" and an erased value are told apart, with
 * and without the manifest's list (column version 2; in version 1 only the
 * list could).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXPORT_FORMATS, PERSONAL_OPENED_COLUMN } from '@/lib/export-formats.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { PersonalOpenedCell } from '@/supabase/functions/_shared/personal-data.ts';
import { withPersonalCell } from '@/server/services/exports/personal-column.ts';
import type { EventVectors, PersonalExportVectors } from './test-vectors.ts';
import { PersonalOpenedCheck, readSubjectKeys } from './personal-opened.ts';

const read = <T>(name: string) => JSON.parse(readFileSync(`docs/test-vectors/${name}`, 'utf8')) as T;
const vectors = read<PersonalExportVectors>('personal-exports.json');
const events = read<EventVectors>('events.json').vectors.map((v) => v.event);
const keys = readSubjectKeys(JSON.stringify(vectors.subject_keys));

/** Runs the check over every event of events.json with personal_opened from `shown` (by event id; else the vector's). */
function problems(mode: 'opened' | 'masked', manifest: Record<string, unknown>, shown: Record<string, unknown> = {}): string[] {
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
    const withValue = (cell: PersonalOpenedCell, pointer: string, value: unknown) => ({ erased: cell.erased.filter((p) => p !== pointer), values: { ...cell.values, [pointer]: value } });
    expect(problems('opened', vectors.manifest_opened, { [alice!.event_id]: withValue(alice!.opened, '/context/email', 'someone.else@example.net') })).toEqual([
      expect.stringContaining('the opened value at /context/email is not the one its seal holds'),
    ]);
    expect(problems('opened', vectors.manifest_opened, { [carol!.event_id]: withValue(carol!.opened, '/context/phone', '+44 20 7946 0000') })).toEqual([
      expect.stringContaining('the manifest lists /context/phone as erased, but the file shows a value there'),
    ]);
    const { '/ip_address': _ip, ...withoutIp } = alice!.opened.values;
    expect(problems('opened', vectors.manifest_opened, { [alice!.event_id]: { ...alice!.opened, values: withoutIp } })).toEqual([expect.stringContaining('but the stored event has references at')]);
    expect(problems('masked', vectors.manifest_masked, { [alice!.event_id]: alice!.opened })).toEqual(expect.arrayContaining([expect.stringContaining('a masked export shows a value at /actor_id')]));
    // A file whose rows list an erased field that the manifest leaves out, and a list whose count is off, are found.
    expect(problems('masked', { ...vectors.manifest_masked, erased: [], erased_fields: 0 })).toEqual(expect.arrayContaining([expect.stringContaining('the file lists /context/phone as erased, but the manifest does not')]));
    expect(problems('opened', { ...vectors.manifest_opened, erased: [] })).toEqual(expect.arrayContaining([expect.stringContaining('erased_fields says')]));
    expect(problems('opened', { ...vectors.manifest_opened, mode: 'stored' })).toEqual([expect.stringContaining('personal.mode is stored')]);
    expect(problems('opened', vectors.manifest_opened, { [alice!.event_id]: { ...alice!.opened, erased: ['/actor_id'] } })).toEqual([expect.stringContaining('shows a value at /actor_id and lists it as erased')]);
  });

  describe('a value sent as the text "[erased]" and an erased value', () => {
    // Event seq 9 holds the client's phone sent as "[erased]" (its subject's key is live); seq 10 has /context/phone erased.
    const [literal, erased] = vectors.rows;
    const seqOf = (row: typeof literal) => row!.seq;

    it('are apart in the file itself: the literal is among the values, the erased pointer in the list', () => {
      expect(literal!.opened.values['/context/phone']).toBe('[erased]');
      expect(literal!.opened.erased).toEqual([]);
      expect(erased!.opened.erased).toContain('/context/phone');
      expect(Object.keys(erased!.opened.values)).not.toContain('/context/phone');
    });

    it('are told apart by the verifier with the manifest: the literal opens from its seal, and a manifest calling it erased fails', () => {
      const check = new PersonalOpenedCheck(vectors.tenant_id, vectors.manifest_opened, keys);
      events.forEach((e, i) => check.check(i + 1, { ...e, [PERSONAL_OPENED_COLUMN]: vectors.rows.find((r) => r.event_id === e.id)?.opened ?? null }));
      expect(check.finish()).toEqual([]);
      expect(check.erasedInFile.get(seqOf(literal))).toBeUndefined();
      expect(check.erasedInFile.get(seqOf(erased))).toContain('/context/phone');
      // A signed manifest that lists the literal value as erased contradicts the file: found.
      const lying = {
        ...vectors.manifest_opened,
        erased_fields: (vectors.manifest_opened.erased_fields as number) + 1,
        erased: [{ seq: seqOf(literal), id: literal!.event_id, pointers: ['/context/phone'] }, ...(vectors.manifest_opened.erased as object[])],
      };
      expect(problems('opened', lying)).toEqual([expect.stringContaining(`seq ${seqOf(literal)}): the manifest lists /context/phone as erased, but the file shows a value there`)]);
    });

    it('are told apart by the verifier without the manifest\'s list, from the rows alone', () => {
      const { erased: _list, erased_fields: _count, ...bare } = vectors.manifest_opened;
      for (const subjectKeys of [keys, new Map<string, Buffer>()]) {
        const check = new PersonalOpenedCheck(vectors.tenant_id, bare, subjectKeys);
        events.forEach((e, i) => check.check(i + 1, { ...e, [PERSONAL_OPENED_COLUMN]: vectors.rows.find((r) => r.event_id === e.id)?.opened ?? null }));
        expect(check.finish()).toEqual([]);
        expect(check.erasedInFile).toEqual(new Map([[seqOf(erased), erased!.erased]]));
      }
      // With the subject's key, a literal value made to read erased... is a value the seal holds; replaced by something else, it is caught.
      expect(problems('opened', bare, { [literal!.event_id]: { ...literal!.opened, values: { ...literal!.opened.values, '/context/phone': '[personal]' } } })).toEqual([
        expect.stringContaining('the opened value at /context/phone is not the one its seal holds'),
      ]);
    });

    it('in a version 1 file (bundles written before) read the same, and only the manifest\'s list tells them apart', () => {
      const v1 = (cell: PersonalOpenedCell) => ({ ...cell.values, ...Object.fromEntries(cell.erased.map((p) => [p, '[erased]'])) });
      const { column_version: _v, ...manifestV1 } = vectors.manifest_opened;
      const shown = Object.fromEntries(vectors.rows.map((r) => [r.event_id, v1(r.opened)]));
      expect(shown[literal!.event_id]!['/context/phone']).toBe(shown[erased!.event_id]!['/context/phone']);
      expect(problems('opened', manifestV1, shown)).toEqual([]);
      // The same lying manifest passes a version 1 file: the reason for version 2.
      const lying = { ...manifestV1, erased_fields: (manifestV1.erased_fields as number) + 1, erased: [{ seq: seqOf(literal), id: literal!.event_id, pointers: ['/context/phone'] }, ...(manifestV1.erased as object[])] };
      expect(problems('opened', lying, shown)).toEqual([]);
      const { erased: _list, erased_fields: _count, ...bare } = manifestV1;
      expect(problems('opened', bare, shown)).toEqual([expect.stringContaining('nothing else tells an erased field from a value sent as "[erased]"')]);
    });
  });
});
