import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalEventJson, eventHash, type HashableEvent } from './event-hash.ts';

const e: HashableEvent = {
  id: '01936f3e-0000-7000-8000-000000000001',
  tenant_id: '123e4567-e89b-12d3-a456-426614174000',
  occurred_at: '2026-11-26T14:00:00.123456Z',
  received_at: '2026-11-26T14:00:00.200000Z',
  actor_type: 'USER',
  actor_id: 'user-123',
  object_type: 'ORDER',
  object_id: 'order-456',
  event_type: 'CREATE',
  outcome: 'success',
  source: null,
  request_id: 'req-1',
  ip_address: '2001:DB8::1',
  user_agent: 'curl/8',
  device_fingerprint: null,
  observed_ip: '127.0.0.1',
  observed_user_agent: 'curl/8',
  context: { order_total: 150, nested: { b: 2, a: [1, 'é'] } },
  schema_version: 1,
};

describe('event hash', () => {
  it('is the RFC 6962 leaf hash of the JCS form of every field but seq', () => {
    const expected = canonicalize({ ...e, ip_address: '2001:db8::1' })!;
    expect(canonicalEventJson(e)).toBe(expected);
    expect(eventHash(e)).toBe(createHash('sha256').update(Buffer.from([0])).update(expected).digest('hex'));
  });

  it('changes when any field changes', () => {
    const base = eventHash(e);
    const changes: Partial<HashableEvent>[] = [
      { id: '01936f3e-0000-7000-8000-000000000002' },
      { tenant_id: '123e4567-e89b-12d3-a456-426614174001' },
      { occurred_at: '2026-11-26T14:00:00.123457Z' },
      { received_at: '2026-11-26T14:00:00.200001Z' },
      { actor_type: 'SERVICE' },
      { actor_id: 'user-124' },
      { object_type: 'EXECUTION' },
      { object_id: 'order-457' },
      { event_type: 'UPDATE' },
      { outcome: 'failure' },
      { source: 'gw' },
      { request_id: null },
      { ip_address: '2001:db8::2' },
      { user_agent: 'curl/9' },
      { device_fingerprint: 'fp' },
      { observed_ip: '127.0.0.2' },
      { observed_user_agent: null },
      { context: { order_total: 151, nested: { b: 2, a: [1, 'é'] } } },
      { schema_version: 2 },
    ];
    for (const change of changes) expect(eventHash({ ...e, ...change }), JSON.stringify(change)).not.toBe(base);
  });

  it('does not depend on key order or IP spelling', () => {
    expect(eventHash({ ...e, context: { nested: { a: [1, 'é'], b: 2 }, order_total: 150 }, ip_address: '2001:0db8:0:0:0:0:0:1' })).toBe(eventHash(e));
  });
});
