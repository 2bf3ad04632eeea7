/**
 * Equality search on sealed personal values over HTTP (docs/personal-data.md,
 * "Value tokens"): for a tenant that seals, `ip_address=…`, `subject_id=…`,
 * `context.<declared member>=…` and the same equalities in `q` find the sealed
 * events by their value tokens — on the list, the count and the export — and
 * unsealed events by their stored values; a prefix or case-insensitive
 * condition on a declared member is refused with a sentence; after an erasure
 * the person's values are found nowhere (and nothing in the database links a
 * value to the erased key), while a later event about the same person is.
 */
import { describe, expect, it } from 'vitest';
import { adminSql, baseUrl, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';
import { eraseSubject } from '@/server/services/personal/erase.ts';

const EVENTS = '/api/v1/audit/events';

const ALICE = {
  actor_type: 'TRADER',
  actor_id: 'alice@broker.example',
  ip_address: '2001:DB8::A',
  user_agent: 'AliceDesk/2.1',
  device_fingerprint: 'fp-alice-77',
  context: { symbol: 'AAPL', email: 'alice.client@example.net', client: { phone: '+44 20 7946 0001' } },
};

describe('equality search on sealed personal values', () => {
  it('finds sealed IP addresses, user agents, subject ids and declared context members by value, never by prefix, and nothing of an erased person', async () => {
    const t = await newTenant('sealed-search');
    await declarePersonalData(testSql(), t.id, 'operator:test', { contextPaths: ['email', 'client.phone'], outsideRetention: true });
    const events = [
      event({ ...ALICE, object_id: 'ORD-A1', subject_id: 'client-77' }),
      event({ ...ALICE, object_id: 'ORD-A2', context: { symbol: 'MSFT', email: 'other@example.net' } }),
      event({ actor_type: 'TRADER', actor_id: 'bob@broker.example', object_id: 'ORD-B1', ip_address: '192.0.2.20', context: { email: 'bob.client@example.net' } }),
      // A service's event names no person: its address is stored in clear and found by the same filter.
      event({ actor_type: 'SERVICE', actor_id: 'router', object_id: 'ORD-R1', ip_address: '2001:db8::a' }),
    ];
    expect((await call('POST', EVENTS, { key: t.writeKey, body: { events } })).status).toBe(201);

    // The stored rows: tokens, no plaintext of either trader.
    const raw = await adminSql()`select object_id, e::text as row, personal -> 'tokens' as tokens from public.audit_events e where tenant_id = ${t.id} order by seq`;
    for (const secret of ['alice', 'AliceDesk', 'fp-alice', '2001:db8::a', 'client-77', '+44 20', 'bob.client']) {
      expect(raw.filter((r) => r.object_id !== 'ORD-R1').map((r) => r.row as string).join('\n')).not.toContain(secret);
    }
    // ORD-A1: ip, observed ip, user agent, device, observed user agent, subject id, email, phone (the actor id has its reference).
    expect(raw[0]!.tokens).toHaveLength(8);
    expect(raw[3]!.tokens).toBeNull();

    const objects = async (query: string) => {
      const res = await call('GET', `${EVENTS}?order=asc&${query}`, { key: t.readKey });
      expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
      return (res.body.events as { object_id: string }[]).map((e) => e.object_id);
    };
    const q = (query: string) => objects(`q=${encodeURIComponent(query)}`);

    expect(await objects('ip_address=2001:db8::a')).toEqual(['ORD-A1', 'ORD-A2', 'ORD-R1']);
    expect(await objects('ip_address=2001:0db8:0:0::000a')).toEqual(['ORD-A1', 'ORD-A2', 'ORD-R1']);
    expect(await objects('ip_address=192.0.2.20')).toEqual(['ORD-B1']);
    expect(await objects('ip_address=192.0.2.21')).toEqual([]);
    expect(await objects('subject_id=client-77')).toEqual(['ORD-A1']);
    expect(await objects('subject_id=alice@broker.example')).toEqual([]);
    expect(await objects(`context.email=${encodeURIComponent('alice.client@example.net')}`)).toEqual(['ORD-A1']);
    expect(await objects(`context=${encodeURIComponent(JSON.stringify({ symbol: 'AAPL', client: { phone: '+44 20 7946 0001' } }))}`)).toEqual(['ORD-A1']);
    expect(await objects(`context=${encodeURIComponent(JSON.stringify({ symbol: 'MSFT', client: { phone: '+44 20 7946 0001' } }))}`)).toEqual([]);
    expect(await q('email = "alice.client@example.net" OR email = "bob.client@example.net"')).toEqual(['ORD-A1', 'ORD-B1']);
    expect(await q('client.phone = "+44 20 7946 0001"')).toEqual(['ORD-A1']);
    expect(await q('email IN ("other@example.net", "nobody@example.net")')).toEqual(['ORD-A2']);
    expect(await q('user_agent = "AliceDesk/2.1" AND device_fingerprint = fp-alice-77')).toEqual(['ORD-A1', 'ORD-A2']);
    expect(await q('ip_address IN (2001:db8::a, 192.0.2.20) AND NOT actor = router')).toEqual(['ORD-A1', 'ORD-A2', 'ORD-B1']);
    expect(await q('NOT ip_address = 2001:db8::a')).toEqual(['ORD-B1']);
    expect(await q('observed_ip = 127.0.0.1')).toEqual(['ORD-A1', 'ORD-A2', 'ORD-B1', 'ORD-R1']);

    // The count and the export answer the same filters the same way.
    const count = await call('GET', `/api/trpc/events.count?input=${encodeURIComponent(JSON.stringify({ ip_address: '2001:db8::a' }))}`, { key: t.readKey });
    expect(count.body.result.data).toMatchObject({ count: 3, exact: true });
    const exported = await fetch(`${baseUrl()}${EVENTS}/export?format=jsonl&q=${encodeURIComponent('email = "alice.client@example.net"')}`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(exported.status).toBe(200);
    expect((await exported.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as { object_id: string }).object_id)).toEqual(['ORD-A1']);

    // A condition that compares anything but the whole value cannot match a sealed member: refused, saying why.
    for (const bad of ['email = alice*', 'email ~ "ALICE.CLIENT@EXAMPLE.NET"', 'client.phone > 1']) {
      const res = await call('GET', `${EVENTS}?q=${encodeURIComponent(bad)}`, { key: t.readKey });
      expect(res.status, bad).toBe(400);
      expect(res.body.error.issues[0].message).toMatch(/personal data this tenant seals: only equality/);
    }
    const prefixIp = await call('GET', `${EVENTS}?q=${encodeURIComponent('ip_address = 2001:db8*')}`, { key: t.readKey });
    expect(prefixIp.status).toBe(400);
    expect(prefixIp.body.error.issues[0].message).toMatch(/IP addresses compare only for equality/);
    expect((await call('GET', `${EVENTS}?ip_address=2001:db8::zz`, { key: t.readKey })).body.error.issues[0]).toMatchObject({ field: 'ip_address' });

    // Erase alice: none of her values is found any more (the service's clear address still is), and the index
    // entries of her destroyed key are gone from the database.
    const entriesByKey = async () =>
      new Map(
        (await adminSql()`select k.key_id, k.erased_at is not null as erased, count(v.key_id)::int as n from oms_audit.subject_keys k left join oms_audit.personal_value_keys v using (key_id) where k.tenant_id = ${t.id} group by k.key_id`).map((r) => [
          r.key_id as string,
          { erased: r.erased as boolean, n: r.n as number },
        ]),
      );
    const before = await entriesByKey();
    await eraseSubject(testSql(), { tenantId: t.id, subjectId: 'alice@broker.example', reason: 'GDPR request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });
    const after = await entriesByKey();
    const erasedKeys = [...after].filter(([, k]) => k.erased).map(([id]) => id);
    // Alice's one key: it had index entries, and has none now; the client's and bob's keys keep theirs.
    expect(erasedKeys).toHaveLength(1);
    expect(before.get(erasedKeys[0]!)!.n).toBeGreaterThan(0);
    expect(after.get(erasedKeys[0]!)!.n).toBe(0);
    expect([...after].filter(([, k]) => !k.erased && k.n > 0)).toHaveLength(2);
    expect(await objects('ip_address=2001:db8::a')).toEqual(['ORD-R1']);
    expect(await q('user_agent = "AliceDesk/2.1"')).toEqual([]);
    // The client's own values (sealed under the subject's key, not alice's) are still found.
    expect(await objects('subject_id=client-77')).toEqual(['ORD-A1']);
    expect(await q('client.phone = "+44 20 7946 0001"')).toEqual(['ORD-A1']);
    expect(await q('email = "other@example.net"')).toEqual([]);

    // Alice comes back later: her new events (under a new key) are found, the erased ones stay unfound.
    await new Promise((r) => setTimeout(r, 2100)); // the server re-checks a cached key at most every 2 s
    expect((await call('POST', EVENTS, { key: t.writeKey, body: { events: [event({ ...ALICE, object_id: 'ORD-A3' })] } })).status).toBe(201);
    expect(await objects('ip_address=2001:db8::a')).toEqual(['ORD-R1', 'ORD-A3']);
    expect(await q('user_agent = "AliceDesk/2.1"')).toEqual(['ORD-A3']);
  });
});
