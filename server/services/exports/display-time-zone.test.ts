/**
 * Exports state the zone the requester shows times in: an officer who picked
 * "Today" in New York gets a manifest with the exact UTC bounds the export
 * covered and the same bounds as New York wall-clock times, the zone in a
 * response header, and the file's times still in UTC. The manifest's
 * display times match the published test vectors across DST changes, and an
 * unknown zone is refused naming the parameter.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { calendarRange, wallTimeToUtc } from '@/lib/time.ts';
import { baseUrl, call, event, newTenant } from '@/test/fixtures.ts';
import { displayTimeZone } from '../export.ts';

const vectors = JSON.parse(readFileSync('docs/test-vectors/display-time-zone.json', 'utf8')) as {
  vectors: { zone: string; bounds: { from: string | null; to: string | null }; from: string | null; to: string | null }[];
};

describe('display time zone of an export', () => {
  it('writes the bounds as the test vectors give them, and they read back as the UTC bounds', () => {
    for (const v of vectors.vectors) {
      expect(displayTimeZone(v.zone, v.bounds)).toEqual({ zone: v.zone, from: v.from, to: v.to });
      for (const side of ['from', 'to'] as const) {
        const local = v[side];
        if (local === null) continue;
        const back = wallTimeToUtc(local.slice(0, local.lastIndexOf(' ')), v.zone);
        expect(back).toEqual({ ok: true, iso: v.bounds[side] });
      }
    }
  });

  it('records "Today in New York" with its UTC bounds and New York times in the manifest and headers', async () => {
    const t = await newTenant('export-zone');
    const today = calendarRange('today', Date.now(), 'America/New_York');
    const inside = new Date(Date.parse(today.from) + 3600_000).toISOString();
    const outside = new Date(Date.parse(today.from) - 1000).toISOString();
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event({ occurred_at: inside }), event({ occurred_at: outside })] } })).status).toBe(201);

    const query = new URLSearchParams({ format: 'jsonl', from: today.from, to: today.to, time_zone: 'America/New_York' });
    const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?${query}`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-audit-time-zone')).toBe('UTC');
    expect(res.headers.get('x-audit-display-time-zone')).toBe('America/New_York');
    const rows = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { occurred_at: string });
    expect(rows.map((r) => r.occurred_at)).toEqual([inside.replace('Z', '000Z')]);

    const manifest = (await call('GET', res.headers.get('x-audit-manifest')!.replace(baseUrl(), ''), { key: t.readKey })).body;
    expect(manifest.time_range.bounds).toEqual({ from: today.from, to: today.to });
    expect(manifest.display_time_zone.zone).toBe('America/New_York');
    expect(manifest.display_time_zone.from).toMatch(/^\d{4}-\d{2}-\d{2} 00:00:00\.000000 E[SD]T$/);
    expect(manifest.display_time_zone.to).toMatch(/^\d{4}-\d{2}-\d{2} 00:00:00\.000000 E[SD]T$/);
    expect(manifest.display_time_zone).toEqual(displayTimeZone('America/New_York', today));

    // No zone given: UTC, and the bounds come from the query language as well.
    const q = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv&q=${encodeURIComponent(`occurred_at >= ${today.from}`)}`, { headers: { authorization: `Bearer ${t.readKey}` } });
    await q.arrayBuffer();
    expect(q.headers.get('x-audit-display-time-zone')).toBe('UTC');
    const plain = (await call('GET', q.headers.get('x-audit-manifest')!.replace(baseUrl(), ''), { key: t.readKey })).body;
    expect(plain.time_range.bounds).toEqual({ from: today.from, to: null });
    expect(plain.display_time_zone).toEqual({ zone: 'UTC', from: `${today.from.slice(0, 10)} ${today.from.slice(11, 26)} UTC`, to: null });
  });

  it('refuses a zone it does not know, naming the parameter', async () => {
    const t = await newTenant('export-zone-bad');
    for (const zone of ['Mars/Olympus', 'EST5EDT; drop', '../etc']) {
      const res = await call('GET', `/api/v1/audit/events/export?format=csv&time_zone=${encodeURIComponent(zone)}`, { key: t.readKey });
      expect(res.status).toBe(400);
      expect(res.body.error.issues).toEqual([{ field: 'time_zone', message: 'must be UTC or an IANA time zone such as America/New_York' }]);
    }
  });
});
