import { describe, expect, it } from 'vitest';
import { parseEvent } from './contract.ts';
import { stampEvents } from './ingest.ts';

const observed = { ip: null, userAgent: null };
const one = parseEvent({ actor_id: 'u', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-1', event_type: 'CREATE' });

describe('stampEvents', () => {
  it('gives every event a distinct UUIDv7, in single events and in batches of any size', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) stampEvents('t', [one], observed).ids.forEach((id) => ids.add(id));
    stampEvents('t', Array.from({ length: 5000 }, () => one), observed).ids.forEach((id) => ids.add(id));
    expect(ids.size).toBe(7000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
