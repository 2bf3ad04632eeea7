/**
 * The write path's seals are exactly what docs/personal-data.md specifies, so
 * that anyone holding a subject's key can open them with the spec alone: each
 * seal opens (AES-256-GCM, associated data oms-audit.personal:<tenant>:<event>:<key id>)
 * to the RFC 8785 canonical JSON of the values sent at every place of the event
 * that holds that key's reference, and nothing else; the stored context is the
 * one sent with references in the declared members' places.
 */
import { createDecipheriv } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { referencesOf, sealsOf } from '@/supabase/functions/_shared/personal-data.ts';
import { adminSql, event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from '../ingest.ts';
import { keysById } from './keys.ts';
import { declarePersonalData } from './settings.ts';

afterAll(async () => {
  await testSql().end();
  await adminSql().end();
});

/** Opens a seal as an outside implementation would, from the spec: base64url(nonce 12 ‖ ciphertext ‖ tag 16). */
function open(seal: string, key: Uint8Array, aad: string): string {
  const data = Buffer.from(seal, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]).toString('utf8');
}

/** The value at a JSON pointer of the event as sent (with its observed client), for comparison. */
function sentAt(sent: AuditEventRequest, observed: { ip: string; userAgent: string }, pointer: string): unknown {
  if (pointer === '/observed_ip') return observed.ip;
  if (pointer === '/observed_user_agent') return observed.userAgent;
  // An event that brings no IP address or user agent is stamped with the observed ones.
  if (pointer === '/ip_address') return sent.ip_address ?? observed.ip;
  if (pointer === '/user_agent') return sent.user_agent ?? observed.userAgent;
  let at: unknown = sent;
  for (const part of pointer.slice(1).split('/')) at = (at as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return at;
}

describe('seals written at ingest', () => {
  it('open with the spec alone to the canonical JSON of exactly the values at their references', async () => {
    const t = await newTenant('seal-format');
    await declarePersonalData(testSql(), t.id, 'operator:test', { contextPaths: ['client_name', 'client.contact', 'email', 'a/b', 'z~y', 'phone'] });
    const observed = { ip: '203.0.113.9', userAgent: 'Observed/1 "quoted" ünïcode' };
    const sent: AuditEventRequest[] = [
      // Actor and subject differ: two seals, the context under the subject's key.
      event({ actor_type: 'TRADER', actor_id: 'dana@example.com', ip_address: '2001:db8::1', user_agent: 'UA "one"', device_fingerprint: 'fp-d', subject_id: 'client-9',
        context: { client_name: 'Émile Zola', client: { contact: { tel: '+33 1', emails: ['e@example.fr'] }, tier: 2 }, 'a/b': 1.5, 'z~y': true, email: 'x@example.net', qty: 10 } }),
      // The actor is its own subject: one seal.
      event({ actor_type: 'CLIENT', actor_id: 'client-9', subject_id: 'client-9', context: { phone: '+44 20', note: 'kept' } }),
      // A service acting on a subject: only the subject's seal.
      event({ actor_type: 'SERVICE', actor_id: 'router', subject_id: 'client-10', context: { email: 'y@example.net' } }),
      // A human actor without a subject: the context under the actor's key; IP and user agent the observed ones.
      event({ actor_type: 'USER', actor_id: 'erin', context: { client_name: 'Frank', side: 'BUY' } }),
    ];
    const result = await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: sent }, 10), observed, 'cli');
    const rows = await adminSql()`
      select id, actor_id, user_agent, device_fingerprint, observed_user_agent, context, personal from public.audit_events
      where tenant_id = ${t.id} order by seq`;
    expect(rows.map((r) => r.id)).toEqual(result.ids);
    const keyIds = rows.flatMap((r) => Object.keys(sealsOf(r.personal)));
    const keys = await keysById(testSql(), t.id, keyIds);

    const sealCounts: number[] = [];
    rows.forEach((row, i) => {
      const seals = sealsOf(row.personal);
      sealCounts.push(Object.keys(seals).length);
      const found = referencesOf(row);
      for (const [keyId, seal] of Object.entries(seals)) {
        const plaintext = open(seal, keys.get(keyId)!.key!, `oms-audit.personal:${t.id}:${row.id as string}:${keyId}`);
        const values = JSON.parse(plaintext) as Record<string, unknown>;
        expect(plaintext).toBe(canonicalJson(values));
        const pointers = found.filter((f) => f.reference.keyId === keyId).map((f) => f.pointer);
        expect(Object.keys(values).sort()).toEqual([...pointers].sort());
        for (const pointer of pointers) expect(values[pointer]).toEqual(sentAt(sent[i]!, observed, pointer));
      }
    });
    expect(sealCounts).toEqual([2, 1, 1, 1]);
    // The first event: actor fields and both IP addresses under the actor's key, the subject and context under the subject's.
    const first = referencesOf(rows[0]!);
    const keyOf = (pointer: string) => first.find((f) => f.pointer === pointer)!.reference.keyId;
    expect(new Set(['/actor_id', '/ip_address', '/observed_ip', '/user_agent', '/observed_user_agent', '/device_fingerprint'].map(keyOf)).size).toBe(1);
    expect(new Set(['/subject_id', '/context/client_name', '/context/client/contact', '/context/a~1b', '/context/z~0y', '/context/email'].map(keyOf)).size).toBe(1);
    expect(keyOf('/actor_id')).not.toBe(keyOf('/subject_id'));
    // Undeclared members stay as sent; declared ones hold references, nested objects kept around them.
    expect(rows[0]!.context).toMatchObject({ qty: 10, client: { tier: 2, contact: expect.stringMatching(/^pd2:/) } });
    expect(rows[3]!.context).toMatchObject({ side: 'BUY', client_name: expect.stringMatching(/^pd2:/) });
    expect(rows[1]!.personal).toHaveProperty('ip_address');
  });
});
