/**
 * Stored exactly as sent, or refused — on every entry point: REST batches,
 * single events, tRPC (plain and batched calls) and the edge function under
 * Deno. Raw bodies, as a client's bytes, not as JavaScript would serialize them.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { baseUrl, call, countEvents, newTenant, type TestTenant } from '@/test/fixtures.ts';

interface Endpoint {
  name: string;
  url: () => string;
  /** The body for one event (as raw JSON text of the event). */
  wrap: (eventJson: string) => string;
  created: number;
  /** Where the event sits in the body's JSON path, as the error names it. */
  batch: boolean;
}

const ENDPOINTS: Endpoint[] = [
  { name: 'REST batch', url: () => `${baseUrl()}/api/v1/audit/events`, wrap: (e) => `{"events":[{"actor_id":"a","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE"},${e}]}`, created: 201, batch: true },
  { name: 'single event', url: () => `${baseUrl()}/api/v1/audit/event`, wrap: (e) => e, created: 201, batch: false },
  { name: 'tRPC logBulk', url: () => `${baseUrl()}/api/trpc/events.logBulk`, wrap: (e) => `{"events":[{"actor_id":"a","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE"},${e}]}`, created: 200, batch: true },
  { name: 'tRPC log, batched call', url: () => `${baseUrl()}/api/trpc/events.log?batch=1`, wrap: (e) => `{"0":${e}}`, created: 200, batch: false },
  { name: 'edge function', url: () => `${inject('functionsBaseUrl')}/functions/v1/audit-logger`, wrap: (e) => `{"events":[{"actor_id":"a","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE"},${e}]}`, created: 201, batch: true },
];

/** One event whose context is the given raw JSON text. */
const withContext = (contextJson: string, id = randomUUID()) => `{"id":"${id}","actor_id":"a","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE","context":${contextJson}}`;

async function send(endpoint: Endpoint, key: string, body: Uint8Array | string) {
  const res = await fetch(endpoint.url(), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body as BodyInit });
  const json = (await res.json()) as unknown;
  // tRPC answers a batched call with an array, and puts field issues under error.data.
  const first = (Array.isArray(json) ? json[0] : json) as { error?: { message?: string; issues?: unknown[]; data?: { issues?: unknown[] } } };
  const issues = (first.error?.issues ?? first.error?.data?.issues ?? []) as { index?: number; field: string; message: string }[];
  return { status: res.status, issues, message: first.error?.message ?? '' };
}

/** The body's bytes with its one "X" replaced by the Latin-1 byte of "é" (0xE9), which is not UTF-8. */
function latin1(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const at = bytes.lastIndexOf(0x58);
  bytes[at] = 0xe9;
  return bytes;
}

let t: TestTenant;
beforeAll(async () => {
  t = await newTenant('fidelity');
});

describe('values are stored exactly as sent, or refused naming the event index and JSON path', () => {
  for (const endpoint of ENDPOINTS) {
    const where = (path: string) => (endpoint.batch ? { index: 1, field: path } : { field: path });

    it(`${endpoint.name}: keeps numbers a double holds exactly, in value-preserving forms`, async () => {
      const id = randomUUID();
      const res = await send(endpoint, t.key, endpoint.wrap(withContext('{"a":0.1,"b":150.00,"c":1e2,"d":9007199254740992,"e":5e-324,"f":-0,"g":1.7976931348623157e308,"h":0.30000000000000004,"i":"12345678901234567890"}', id)));
      expect(res.status, JSON.stringify(res.issues)).toBe(endpoint.created);
      const got = await call('GET', `/api/v1/audit/events/${id}`, { key: t.key });
      expect(got.body.context).toEqual({ a: 0.1, b: 150, c: 100, d: 9007199254740992, e: 5e-324, f: 0, g: 1.7976931348623157e308, h: 0.30000000000000004, i: '12345678901234567890' });
    });

    it(`${endpoint.name}: refuses numbers a double would change, with a hint to send a string`, async () => {
      const before = await countEvents(t.id);
      for (const [raw, path] of [
        ['{"qty":12345678901234567890}', 'context.qty'],
        ['{"px":0.1000000000000000055511151231257827}', 'context.px'],
        ['{"legs":[{"px":1},{"px":1e400}]}', 'context.legs[1].px'],
        ['{"tiny":1e-400}', 'context.tiny'],
      ] as const) {
        const res = await send(endpoint, t.key, endpoint.wrap(withContext(raw)));
        expect(res.status, raw).toBe(400);
        expect(res.issues, raw).toEqual([expect.objectContaining(where(path))]);
        expect(res.issues[0]!.message, raw).toContain('send it as a string');
      }
      expect(await countEvents(t.id)).toBe(before);
    });

    it(`${endpoint.name}: refuses duplicate keys, lone surrogates and invalid UTF-8, naming the place`, async () => {
      const before = await countEvents(t.id);
      const cases: [string | Uint8Array, string][] = [
        [endpoint.wrap(withContext('{"x":1,"x":2}')), 'context.x'],
        [endpoint.wrap(withContext('{"x":{"y":1,"\\u0079":1}}')), 'context.x.y'],
        [endpoint.wrap(`{"actor_id":"a","actor_id":"b","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE"}`), 'actor_id'],
        [endpoint.wrap(withContext('{"note":"\\ud800"}')), 'context.note'],
        [endpoint.wrap(withContext('{"\\udfff":1}')), 'context["\\udfff"]'],
        // "café" in Latin-1: the byte 0xE9 alone is not UTF-8.
        [latin1(endpoint.wrap(withContext('{"note":"cafX"}'))), 'context.note'],
        [latin1(endpoint.wrap('{"actor_id":"X","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE"}')), 'actor_id'],
      ];
      for (const [body, path] of cases) {
        const res = await send(endpoint, t.key, body);
        expect(res.status, path).toBe(400);
        expect(res.issues, path).toEqual([expect.objectContaining(where(path))]);
      }
      expect(await countEvents(t.id)).toBe(before);
    });
  }
});
