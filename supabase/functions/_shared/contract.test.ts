import { describe, expect, it } from 'vitest';
import { parseBatch, parseEvent, LIMITS, type AuditEventRequest } from './contract.ts';
import { AuditError } from './errors.ts';

const valid: AuditEventRequest = { actor_id: 'user-123', actor_type: 'USER', object_type: 'ORDER', object_id: 'order-456', event_type: 'CREATE' };

function rejection(fn: () => unknown): AuditError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuditError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('event contract', () => {
  it("accepts the seed's example event and normalises it", () => {
    const [e] = parseBatch(
      {
        events: [
          {
            tenant_id: '123E4567-E89B-12D3-A456-426614174000',
            actor_id: 'user-123',
            actor_type: 'USER',
            object_type: 'ORDER',
            object_id: 'order-456',
            event_type: 'CREATE',
            context: { order_total: 150.0 },
            ip_address: '192.168.1.1',
          },
        ],
      },
      LIMITS.apiBatch,
    );
    expect(e).toMatchObject({ tenant_id: '123e4567-e89b-12d3-a456-426614174000', context: { order_total: 150 }, ip_address: '192.168.1.1' });
  });

  it('stores type names upper-case whatever case they arrive in; new names need no migration', () => {
    expect(parseEvent({ ...valid, object_type: 'order', event_type: 'Status_Change', actor_type: 'service' })).toMatchObject({ object_type: 'ORDER', event_type: 'STATUS_CHANGE', actor_type: 'SERVICE' });
    expect(parseEvent({ ...valid, object_type: 'BLOCK_TRADE_2' }).object_type).toBe('BLOCK_TRADE_2');
    expect(rejection(() => parseEvent({ ...valid, object_type: 'ORDER TYPE' })).issues[0]).toMatchObject({ field: 'object_type' });
  });

  it('names the index and field of every bad event, and refuses the whole batch', () => {
    const err = rejection(() => parseBatch({ events: [valid, { ...valid, ip_address: '300.1.1.1' }, valid, { ...valid, occurred_at: 'tomorrow' }] }, 500));
    expect(err.status).toBe(400);
    expect(err.issues).toEqual([
      { index: 1, field: 'ip_address', message: expect.stringContaining('IPv4 or IPv6') },
      { index: 3, field: 'occurred_at', message: expect.stringContaining('ISO 8601') },
    ]);
    expect(err.message).toContain('event 1, ip_address');
  });

  it('refuses more events than the limit with 413 before looking at them', () => {
    const err = rejection(() => parseBatch({ events: Array.from({ length: 501 }, () => ({ nonsense: true })) }, 500));
    expect(err.status).toBe(413);
    expect(err.code).toBe('batch_too_large');
    expect(parseBatch({ events: Array.from({ length: 500 }, () => valid) }, 500)).toHaveLength(500);
    expect(parseBatch({ events: Array.from({ length: 1000 }, () => valid) }, LIMITS.edgeBatch)).toHaveLength(1000);
  });

  it('refuses unknown fields, wrong types and empty batches', () => {
    expect(rejection(() => parseEvent({ ...valid, ocurred_at: '2026-01-01T00:00:00Z' })).issues).toEqual([{ field: 'ocurred_at', message: 'is not a known field' }]);
    expect(rejection(() => parseEvent({ ...valid, object_id: 42 })).issues[0]).toMatchObject({ field: 'object_id' });
    expect(rejection(() => parseBatch({ events: [] }, 500)).issues[0]).toMatchObject({ field: 'events' });
    expect(rejection(() => parseBatch([valid], 500)).issues[0]).toMatchObject({ field: '(body)' });
    expect(rejection(() => parseEvent({ ...valid, id: 'not-a-uuid' })).issues[0]).toMatchObject({ field: 'id' });
    expect(rejection(() => parseEvent({ ...valid, outcome: 'maybe' })).issues[0]).toMatchObject({ field: 'outcome' });
  });

  it('refuses control characters in identifiers but stores anything else verbatim', () => {
    for (const bad of ['line\nbreak', 'tab\there', 'cr\r', 'nul\u0000']) {
      expect(rejection(() => parseEvent({ ...valid, object_id: bad })).issues[0], JSON.stringify(bad)).toMatchObject({ field: 'object_id', message: expect.stringContaining('control') });
    }
    for (const fine of ['=HYPERLINK("http://x")', 'a,b;"c"', "Robert'); DROP TABLE audit_events;--", '注文-42 🚀', '+1', '@sum']) {
      expect(parseEvent({ ...valid, object_id: fine }).object_id).toBe(fine);
    }
  });

  it('bounds string lengths and the context size', () => {
    expect(rejection(() => parseEvent({ ...valid, actor_id: 'x'.repeat(257) })).issues[0]).toMatchObject({ field: 'actor_id', message: expect.stringContaining('256') });
    expect(parseEvent({ ...valid, actor_id: 'x'.repeat(256) }).actor_id).toHaveLength(256);
    const big = { blob: 'x'.repeat(LIMITS.contextBytes) };
    expect(rejection(() => parseEvent({ ...valid, context: big })).issues[0]).toMatchObject({ field: 'context', message: expect.stringContaining('bytes') });
    // Counted in UTF-8 bytes, not characters: {"b":"€…"} is 8 + 3 bytes per €, so 10,920 fit and 10,921 do not.
    const euros = (n: number) => ({ b: '€'.repeat(n) });
    expect(parseEvent({ ...valid, context: euros(10_920) }).context).toEqual(euros(10_920));
    expect(rejection(() => parseEvent({ ...valid, context: euros(10_921) })).issues[0]).toMatchObject({ field: 'context', message: expect.stringContaining('bytes') });
    // An emoji is two UTF-16 units and four bytes: 8,190 fit (32,768 bytes), 8,191 do not.
    const rockets = (n: number) => ({ b: '🚀'.repeat(n) });
    expect(parseEvent({ ...valid, context: rockets(8_190) }).context).toEqual(rockets(8_190));
    expect(rejection(() => parseEvent({ ...valid, context: rockets(8_191) })).issues[0]).toMatchObject({ field: 'context' });
    // Members whose JSON is longer than their text (escaped keys, long numbers) are measured as JSON too.
    const escaped = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k\u0001${i}`, [-1.7976931348623157e308, null]]));
    let members = 1;
    while (new TextEncoder().encode(JSON.stringify(escaped(members + 1))).length <= LIMITS.contextBytes) members++;
    expect(parseEvent({ ...valid, context: escaped(members) }).context).toEqual(escaped(members));
    expect(rejection(() => parseEvent({ ...valid, context: escaped(members + 1) })).issues[0]).toMatchObject({ field: 'context', message: expect.stringContaining('bytes') });
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    // Problems inside the context are named by their JSON path.
    expect(rejection(() => parseEvent({ ...valid, context: deep })).issues[0]).toMatchObject({ field: `context${'.d'.repeat(32)}`, message: expect.stringContaining('deeper') });
    expect(rejection(() => parseEvent({ ...valid, context: { s: 'a\u0000b' } })).issues[0]).toMatchObject({ field: 'context.s' });
    expect(rejection(() => parseEvent({ ...valid, context: { list: ['ok', 'x\ud800'] } })).issues[0]).toMatchObject({ field: 'context.list[1]', message: expect.stringContaining('lone surrogate') });
    expect(rejection(() => parseEvent({ ...valid, context: [1, 2] })).issues[0]).toMatchObject({ field: 'context' });
    expect(parseEvent({ ...valid, context: null }).context).toEqual({});
  });

  it('takes timestamps with a zone, at most microseconds, not far in the future', () => {
    expect(parseEvent({ ...valid, occurred_at: '2026-01-02T03:04:05.678901+01:00' }).occurred_at).toBe('2026-01-02T02:04:05.678901Z');
    const soon = new Date(Date.now() + 60_000).toISOString();
    expect(parseEvent({ ...valid, occurred_at: soon }).occurred_at).toBe(soon.replace('Z', '000Z'));
    const later = new Date(Date.now() + 6 * 60_000).toISOString();
    expect(rejection(() => parseEvent({ ...valid, occurred_at: later })).issues[0]).toMatchObject({ field: 'occurred_at', message: expect.stringContaining('future') });
    expect(rejection(() => parseEvent({ ...valid, occurred_at: '1999-12-31T23:59:59Z' })).issues[0]).toMatchObject({ field: 'occurred_at' });
  });
});
