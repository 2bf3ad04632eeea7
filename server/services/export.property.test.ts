/**
 * CSV export of arbitrary values (fast-check, fixed seed): whatever a client
 * stores as actor_id, user_agent or context values comes back from a standard
 * CSV parser unchanged, once the one leading quote that neutralises
 * formula-looking cells is removed.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baseUrl, call, event, newTenant } from '@/test/fixtures.ts';

// C0/C1 controls are refused in identifiers; lone surrogates everywhere.
const printable = (maxLength: number) =>
  fc
    .string({ unit: fc.oneof(fc.constantFrom('=', '+', '-', '@', "'", '"', ',', ';', ' ', '\\', '😀', 'ü', '日'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 1, maxLength })
    .filter((s) => s.length <= maxLength && !/[\u0000-\u001f\u007f-\u009f]/.test(s) && s.isWellFormed());
// Context strings may hold anything JSON can, except NUL.
const contextString = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\u0000') && s.isWellFormed());

const restore = (cell: string) => (cell.startsWith("'") ? cell.slice(1) : cell);

describe('CSV export of arbitrary values', () => {
  it('round-trips actor_id, user_agent and context values through csv-parse', { timeout: 60_000 }, async () => {
    const t = await newTenant('csv-property');
    const row = fc.record({ actor_id: printable(256), user_agent: printable(1024), note: contextString, extra: fc.array(contextString, { maxLength: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 25 }), async (rows) => {
        const objectId = `CSV-${Math.random().toString(36).slice(2)}`;
        const sent = rows.map((r) => event({ object_id: objectId, actor_id: r.actor_id, user_agent: r.user_agent, context: { note: r.note, extra: r.extra } }));
        const posted = await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: sent } });
        expect(posted.status, JSON.stringify(posted.body)).toBe(201);
        const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv&object_id=${objectId}`, { headers: { authorization: `Bearer ${t.readKey}` } });
        expect(res.status).toBe(200);
        const records = parse(Buffer.from(await res.arrayBuffer()), { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
        expect(records.map((r) => restore(r.actor_id!))).toEqual(rows.map((r) => r.actor_id));
        expect(records.map((r) => restore(r.user_agent!))).toEqual(rows.map((r) => r.user_agent));
        expect(records.map((r) => JSON.parse(r.context!))).toEqual(rows.map((r) => ({ note: r.note, extra: r.extra })));
        // Nothing a spreadsheet would evaluate is left at the start of a cell.
        for (const r of records) for (const cell of Object.values(r)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
      }),
      { seed: 7_2026, numRuns: 12, endOnFailure: true },
    );
  });
});
