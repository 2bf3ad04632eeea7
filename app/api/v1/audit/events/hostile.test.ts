/**
 * Hostile input over real HTTP, generated with fast-check (fixed seed, bounded
 * runs): any body, query string, cursor or header gives a correct result or a
 * 4xx with a clear JSON message — never a 500, never a partial write, never
 * another tenant's rows — and SQL, JSON-path and formula payloads are stored
 * verbatim while a marker table proves no statement of theirs ran.
 */
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventInput } from '@/supabase/functions/_shared/contract.ts';
import { adminSql, baseUrl, call, countEvents, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';

const EVENTS = '/api/v1/audit/events';
const SEED = 7_2026;
const runs = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });
const STACK_TRACE = /at .*\.(ts|js|mjs):\d+/;

type Response = Awaited<ReturnType<typeof call>>;

/** A refusal in the API's one error shape, with a message a person can read. */
function expectCleanRefusal(res: Response, context: string) {
  expect(res.status, context).toBeGreaterThanOrEqual(400);
  expect(res.status, context).toBeLessThan(500);
  expect(res.body?.error?.code, context).toEqual(expect.any(String));
  expect(res.body.error.message, context).toMatch(/\w{3}/);
  expect(JSON.stringify(res.body), context).not.toMatch(STACK_TRACE);
}

const FIELDS = Object.keys(auditEventInput.shape);

/** Strings an attacker would try, in every field. */
const HOSTILE = [
  "'; DROP TABLE audit_events; --",
  "' OR '1'='1",
  "1; SELECT pg_sleep(10)--",
  '$$; select 1; $$',
  'E\'\\x27\'',
  "\\'; --",
  '$.context ? (@ == 1)',
  '{"$ne": null}',
  "context->>'symbol'",
  '=HYPERLINK("http://evil.example","x")',
  "=cmd|' /C calc'!A0",
  '+1+1',
  '-2+3',
  '@SUM(A1)',
  '%00',
  '%27%20OR%201=1',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '😀 日本語 ü',
  '\u202eRTL',
];

describe('the event contract under arbitrary input', () => {
  let t: TestTenant;
  beforeAll(async () => {
    t = await newTenant('hostile-contract');
  });

  it('answers any JSON body with 201 or a clean 4xx, and writes all of an accepted batch or nothing', async () => {
    const body = fc.oneof(
      fc.json(),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue().map((events) => JSON.stringify({ events })),
      fc.array(fc.jsonValue(), { maxLength: 5 }).map((events) => JSON.stringify({ events })),
      fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 6 }).map((e) => JSON.stringify({ events: [e] })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (rawBody) => {
        const before = await countEvents(t.id);
        const res = await call('POST', EVENTS, { key: t.key, rawBody });
        const after = await countEvents(t.id);
        if (res.status === 201) {
          expect(after - before).toBe(res.body.created_count);
        } else {
          expectCleanRefusal(res, rawBody);
          expect([400, 403, 413], rawBody).toContain(res.status);
          expect(after, rawBody).toBe(before);
        }
      }),
      runs(120),
    );
  });

  it('names the index and field of a mutated event, refusing the whole batch; a valid mutation stores exactly the batch', async () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(...HOSTILE),
      fc.string({ minLength: 250, maxLength: 1100 }),
      fc.constantFrom('a\nb', 'tab\there', 'nul\u0000', '\ud800lone', '', ' ', 'not-an-ip', '2026-13-45', '1e400'),
      fc.uuid(),
      fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    );
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), field: fc.constantFrom(...FIELDS), value }),
      fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom('actor_id', 'actor_type', 'object_type', 'object_id', 'event_type'), value: fc.constant(null) }),
      fc.record({ kind: fc.constant('unknown' as const), field: fc.string({ minLength: 1, maxLength: 20 }).filter((f) => !FIELDS.includes(f) && f !== '__proto__'), value }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.nat(), mutation, async (size, at, m) => {
        const index = at % size;
        const events: Record<string, unknown>[] = Array.from({ length: size }, () => ({ ...event() }));
        if (m.kind === 'delete') delete events[index]![m.field];
        else events[index]![m.field] = m.value;
        const before = await countEvents(t.id);
        const res = await call('POST', EVENTS, { key: t.key, body: { events } });
        const after = await countEvents(t.id);
        const label = JSON.stringify(m).slice(0, 300);
        if (res.status === 201) {
          expect(m.kind, label).toBe('set');
          expect(res.body.created_count + res.body.duplicate_count, label).toBe(size);
          expect(after - before, label).toBe(res.body.created_count);
          return;
        }
        expectCleanRefusal(res, label);
        expect(after, label).toBe(before);
        const issues = res.body.error.issues as { index?: number; field: string }[];
        expect(issues.length, label).toBeGreaterThan(0);
        // Only the mutated event is named, at the field that was changed.
        for (const issue of issues) expect(issue.index, label).toBe(index);
        expect(
          issues.some((i) => i.field === m.field || i.field.startsWith(`${m.field}.`)),
          `${label} → ${JSON.stringify(issues)}`,
        ).toBe(true);
        expect(res.status, label).toBe(m.field === 'tenant_id' && typeof m.value === 'string' && /^[0-9a-f-]{36}$/i.test(m.value) ? 403 : 400);
      }),
      runs(150),
    );
  });
});

describe('list filters under arbitrary query strings', () => {
  let t: TestTenant;
  let other: TestTenant;
  beforeAll(async () => {
    [t, other] = await Promise.all([newTenant('hostile-filters'), newTenant('hostile-filters-other')]);
    const seed = (tenant: TestTenant) =>
      call('POST', EVENTS, {
        key: tenant.key,
        body: { events: HOSTILE.slice(0, 10).map((s, i) => event({ object_id: `F-${i}`, actor_id: s, source: s, context: { symbol: 'AAPL', note: s, [s]: i } })) },
      });
    expect((await seed(t)).status).toBe(201);
    expect((await seed(other)).status).toBe(201);
  });

  const PARAMS = ['object_type', 'object_id', 'actor_id', 'actor_type', 'event_type', 'outcome', 'source', 'request_id', 'from', 'to', 'context', 'cursor', 'limit', 'order', 'tenant_id', 'direction', 'frobnicate'];
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...PARAMS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }).map((k) => `context.${k}`) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE).map((k) => `context.${k}`) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  );
  const value = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom(...HOSTILE),
    fc.constantFrom('"quoted"', 'back\\slash', '\\u0000', '{"symbol":"AAPL"}', '{"a":{"b":[1,null]}}', '[]', 'null', '{"a":1e400}', '-1', '0', '1001', 'asc', 'desc', 'success', 'ORDER'),
    fc.string({ unit: 'grapheme-ascii', minLength: 500, maxLength: 1500 }),
    fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.integer().map(String),
  );

  it('answers 200 with only the caller\'s events, or 400 naming the parameter; never 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, value), { maxLength: 6 }), async (pairs) => {
        const query = new URLSearchParams(pairs).toString();
        // Past 16 KiB of headers Node refuses the request line itself (431) before oms-audit sees it.
        fc.pre(query.length < 12_000);
        const res = await call('GET', `${EVENTS}?${query}`, { key: t.readKey });
        if (res.status === 200) {
          for (const e of res.body.events) expect(e.tenant_id, query).toBe(t.id);
          return;
        }
        expectCleanRefusal(res, query);
        if (res.status === 403) expect(res.body.error.code, query).toBe('tenant_mismatch');
        else expect(res.status, query).toBe(400);
        expect(res.body.error.issues[0]?.field, query).toEqual(expect.any(String));
      }),
      runs(150),
    );
  });

  it('survives raw, unencoded and malformed query strings', async () => {
    const raw = fc.oneof(
      fc.string({ unit: 'binary-ascii', maxLength: 80 }),
      fc.constantFrom('%', '%%', '%ZZ', '%ED%A0%80', '%C0%AF', 'context.%00=1', 'context=%7B%22a%22%3A%22%00%22%7D', 'context=' + '['.repeat(3000), 'a=b&&&=&=', 'limit=1&limit=2', 'object_id=a&object_id=b', 'event_type=' + 'A,'.repeat(60), 'context=' + encodeURIComponent(`{"a":${'['.repeat(1500)}${']'.repeat(1500)}}`)),
    );
    await fc.assert(
      fc.asyncProperty(raw, async (query) => {
        const res = await call('GET', `${EVENTS}?${query.replace(/#/g, '%23')}`, { key: t.key });
        if (res.status === 200) for (const e of res.body.events) expect(e.tenant_id, query).toBe(t.id);
        else expectCleanRefusal(res, query);
      }),
      runs(100),
    );
  });

  it('refuses random and tampered cursors and another tenant\'s cursor with 400', async () => {
    const first = await call('GET', `${EVENTS}?limit=2`, { key: t.readKey });
    const cursor = first.body.next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const foreign = (await call('GET', `${EVENTS}?limit=2`, { key: other.readKey })).body.next_cursor as string;
    const forged = fc
      .record({ v: fc.constantFrom(1, 2, '1'), o: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()), s: fc.oneof(fc.integer(), fc.double()), d: fc.constantFrom('asc', 'desc', 'x'), f: fc.string({ maxLength: 20 }) })
      .map((b) => Buffer.from(JSON.stringify(b)).toString('base64url'));
    const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    const tampered = fc.tuple(fc.nat(), fc.constantFrom(...BASE64URL)).map(([at, c]) => {
      const i = at % cursor.length;
      const replacement = cursor[i] === c ? (c === 'A' ? 'B' : 'A') : c;
      return cursor.slice(0, i) + replacement + cursor.slice(i + 1);
    });
    const candidate = fc.oneof(fc.string({ maxLength: 100 }), fc.base64String({ maxLength: 200 }), forged, forged.map((p) => `${p}.${cursor.split('.')[1]}`), tampered, fc.constant(foreign), fc.constant(cursor + cursor))
      // An empty cursor is the first page.
      .filter((c) => c !== '');
    await fc.assert(
      fc.asyncProperty(candidate, async (c) => {
        const res = await call('GET', `${EVENTS}?limit=2&cursor=${encodeURIComponent(c)}`, { key: t.readKey });
        expectCleanRefusal(res, c);
        expect(res.status, c).toBe(400);
        expect(res.body.error.issues[0].field, c).toBe('cursor');
      }),
      runs(150),
    );
    // The real cursor still pages on.
    expect((await call('GET', `${EVENTS}?limit=2&cursor=${cursor}`, { key: t.readKey })).status).toBe(200);
    // The other tenant's own cursor still works for it, over its own rows only.
    const theirs = await call('GET', `${EVENTS}?limit=2&cursor=${foreign}`, { key: other.readKey });
    expect(theirs.status).toBe(200);
    for (const e of theirs.body.events) expect(e.tenant_id).toBe(other.id);
  });
});

describe('injection through every filter and header', () => {
  const marker = `hostile_marker_${randomUUID().replace(/-/g, '')}`;
  let t: TestTenant;
  const sql = () => testSql();
  // Orders only: each export adds its own AUDIT_EXPORT event to the trail, in its own time.
  const orders = async () => (await sql()`select count(*)::int as n from public.audit_events where tenant_id = ${t.id} and object_type = 'ORDER'`)[0]!.n as number;

  beforeAll(async () => {
    t = await newTenant('hostile-injection');
    // Writable by every role: any statement an injection managed to run would show here.
    await adminSql().unsafe(`create table public.${marker} (note text); insert into public.${marker} values ('intact'); grant all on public.${marker} to public`);
  });
  afterAll(async () => {
    await adminSql().unsafe(`drop table if exists public.${marker}`);
  });

  const payloads = [
    ...HOSTILE,
    `'; drop table public.${marker}; --`,
    `'); insert into public.${marker} values ('pwned'); --`,
    `' union select note from public.${marker} --`,
    `x' and (select count(*) from public.${marker}) > 0 and 'a'='a`,
    `"}' || (delete from public.${marker}) || '{"`,
    `$tag$; delete from public.${marker}; $tag$`,
  ];

  it('stores every payload verbatim and finds it by each filter, or refuses it, running none of it', async () => {
    const stored = payloads.map((p, i) => event({ object_id: p, actor_id: p, source: p.slice(0, 200), request_id: p.slice(0, 200), user_agent: p, device_fingerprint: p.slice(0, 200), context: { note: p, [p]: i } }));
    const res = await call('POST', EVENTS, { key: t.key, body: { events: stored }, headers: { 'user-agent': `=cmd|' /C calc'!A0 '; drop table public.${marker}; --` } });
    expect(res.status).toBe(201);
    const ids = res.body.ids as string[];

    const queries: { query: string; expect: string[] | 'refused' }[] = [];
    for (const [i, p] of payloads.entries()) {
      const one = [ids[i]!];
      for (const field of ['object_id', 'actor_id', 'source', 'request_id']) queries.push({ query: `${field}=${encodeURIComponent(p.slice(0, 200))}`, expect: one });
      queries.push({ query: `context.note=${encodeURIComponent(p)}`, expect: one });
      queries.push({ query: `context=${encodeURIComponent(JSON.stringify({ [p]: i }))}`, expect: one });
      queries.push({ query: `context.${encodeURIComponent(p)}=${i}`, expect: [] }); // context.x= compares strings; stored as a number
      for (const field of ['object_type', 'actor_type', 'event_type', 'outcome', 'from', 'to', 'order', 'limit', 'cursor', 'tenant_id']) queries.push({ query: `${field}=${encodeURIComponent(p)}`, expect: 'refused' });
    }
    const results = await Promise.all(
      queries.map(async (q, i) => {
        // Two keys share the requests so no key meets its read rate limit.
        const r = await call('GET', `${EVENTS}?${q.query}&limit=100`, { key: i % 2 ? t.readKey : t.key, headers: { 'x-request-id': `'; drop table public.${marker}; --`, 'x-oms-tenant-id': t.id } });
        return { q, r };
      }),
    );
    // A tenant header that is not a tenant id is refused before anything is read.
    expectCleanRefusal(await call('GET', `${EVENTS}?limit=1`, { key: t.readKey, headers: { 'x-oms-tenant': "' or 1=1 --" } }), 'x-oms-tenant');
    for (const { q, r } of results) {
      if (q.expect === 'refused') {
        expectCleanRefusal(r, q.query);
        continue;
      }
      expect(r.status, q.query).toBe(200);
      expect(r.body.events.map((e: { id: string }) => e.id).sort(), q.query).toEqual([...q.expect].sort());
    }
    // Stored verbatim, headers included.
    const back = await call('GET', `${EVENTS}?limit=100&order=asc`, { key: t.readKey });
    expect(back.body.events.map((e: { actor_id: string }) => e.actor_id)).toEqual(payloads);
    expect(back.body.events[0].observed_user_agent).toBe(`=cmd|' /C calc'!A0 '; drop table public.${marker}; --`);
    expect(back.body.events.map((e: { context: Record<string, unknown> }) => e.context.note)).toEqual(payloads);

    // The export neutralises the formula-looking cells of the same rows.
    const csv = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv&actor_id=${encodeURIComponent("=cmd|' /C calc'!A0")}`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(csv.status).toBe(200);
    const records = parse(await csv.text(), { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
    expect(records.map((r) => [r.actor_id, r.object_id, r.observed_user_agent])).toEqual([
      ["'=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0", `'=cmd|' /C calc'!A0 '; drop table public.${marker}; --`],
    ]);

    expect(await sql().unsafe(`select note from public.${marker}`)).toEqual([{ note: 'intact' }]);
    expect(await orders()).toBe(payloads.length);
  });

  it('refuses CR/LF header injection at the HTTP layer, or stores headers without control characters; never echoes them', async () => {
    const { hostname, port } = new URL(baseUrl());
    const raw = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tcpConnect(Number(port), hostname, () => socket.end(head));
        let out = '';
        socket.setEncoding('latin1');
        socket.on('data', (d) => (out += d));
        socket.on('end', () => resolve(out));
        socket.on('error', reject);
        socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
      });
    const body = JSON.stringify({ events: [event({ object_id: 'CRLF' })] });
    const injections = [
      `X-Request-Id: a\rSet-Cookie: injected=1`,
      `User-Agent: ua\rX-Injected: 1`,
      `User-Agent: ua\nX-Injected: 1`,
      `X-Request-Id: a\r\n Set-Cookie: injected=1`,
      `User-Agent: =HYPERLINK("http://evil")\u0000`,
    ];
    const before = await orders();
    let accepted = 0;
    for (const header of injections) {
      const response = await raw(
        `POST ${EVENTS} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${t.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${header}\r\n\r\n${body}`,
      );
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
      expect([201, 400], JSON.stringify(header)).toContain(status);
      if (status === 201) accepted++;
      const head = response.split('\r\n\r\n')[0]!.toLowerCase();
      expect(head, JSON.stringify(header)).not.toContain('injected');
    }
    expect(await orders()).toBe(before + accepted);
    const stored = await call('GET', `${EVENTS}?object_id=CRLF&limit=100`, { key: t.readKey });
    for (const e of stored.body.events) expect(e.observed_user_agent ?? '').not.toMatch(/[\r\n\u0000]/);
    expect(await sql().unsafe(`select note from public.${marker}`)).toEqual([{ note: 'intact' }]);
  });
});
