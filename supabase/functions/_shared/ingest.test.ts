import { describe, expect, it } from 'vitest';
import { parseBatch, parseEvent } from './contract.ts';
import { AuditError } from './errors.ts';
import { eventHash } from './event-hash.ts';
import { stampEvents } from './ingest.ts';
import type { Writer } from './writers.ts';

const observed = { ip: null, userAgent: null };
const app: Writer = { kind: 'api_key', keyId: '7a1d6c2e-0b3f-4e5a-9c8d-1e2f3a4b5c6d' };
const one = parseEvent({ actor_id: 'u', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-1', event_type: 'CREATE' });

function refusal(fn: () => unknown): AuditError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuditError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('stampEvents', () => {
  it('gives every event a distinct UUIDv7, in single events and in batches of any size', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) stampEvents('t', [one], observed, app).ids.forEach((id) => ids.add(id));
    stampEvents('t', Array.from({ length: 5000 }, () => one), observed, app).ids.forEach((id) => ids.add(id));
    expect(ids.size).toBe(7000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('records which credential wrote each event, under schema version 2, and hashes it', () => {
    const { rows } = stampEvents('t', [one], observed, app);
    expect(rows[0]).toMatchObject({ schema_version: 2, written_by: `api_key:${app.keyId}` });
    expect(rows[0]!.hash).toBe(eventHash(rows[0]!));
    expect(eventHash({ ...rows[0]!, written_by: 'console' })).not.toBe(rows[0]!.hash);
  });

  it("refuses the console's reserved event types and source from any other writer, naming each event and field", () => {
    const batch = parseBatch(
      {
        events: [
          { actor_id: 'u', actor_type: 'USER', object_type: 'SESSION', object_id: 's', event_type: 'CREATE' },
          { actor_id: 'u', actor_type: 'USER', object_type: 'SESSION', object_id: 's', event_type: 'audit_sign_in' },
          { actor_id: 'u', actor_type: 'USER', object_type: 'SESSION', object_id: 's', event_type: 'LOGIN', source: 'OMS-Audit-Console' },
        ],
      },
      500,
    );
    for (const writer of [app, { kind: 'service_role' }, { kind: 'user', userId: 'u1' }] as Writer[]) {
      const err = refusal(() => stampEvents('t', batch, observed, writer));
      expect(err.status).toBe(400);
      expect(err.issues.map((i) => [i.index, i.field])).toEqual([
        [1, 'event_type'],
        [2, 'source'],
      ]);
      expect(err.message).toMatch(/event 1, event_type: event types beginning AUDIT_ are reserved/);
    }
    for (const writer of [{ kind: 'console', userId: 'u1' }, { kind: 'operator', name: 'cli' }] as Writer[]) {
      expect(stampEvents('t', batch, observed, writer).rows).toHaveLength(3);
    }
  });
});
