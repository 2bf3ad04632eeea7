import { describe, expect, it } from 'vitest';
import { AuditError } from './errors.ts';
import { namedTenant, observedClient, presentedCredential, principalOf, writerOf, type AnyCaller } from './credentials.ts';
import { mayWriteConsoleRecords, writtenBy, type Writer } from './writers.ts';

const KEY = `omsk_${'A'.repeat(32)}`;
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln';
const TENANT = '0b4f3c1e-2d5a-4e6f-8a9b-0c1d2e3f4a5b';
const OTHER = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

function status(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as AuditError).status;
  }
}

describe('the shared credential parser', () => {
  it('finds an API key in Authorization or apikey, ahead of the anon JWT supabase-js sends beside it', () => {
    expect(presentedCredential(new Headers({ authorization: `Bearer ${KEY}` }))).toEqual({ kind: 'api_key', secret: KEY });
    expect(presentedCredential(new Headers({ authorization: `Bearer ${JWT}`, apikey: KEY }))).toEqual({ kind: 'api_key', secret: KEY });
    expect(presentedCredential(new Headers({ apikey: KEY }))).toEqual({ kind: 'api_key', secret: KEY });
    expect(presentedCredential(new Headers({ authorization: `bearer ${JWT}` }))).toEqual({ kind: 'jwt', token: JWT, header: 'authorization' });
    expect(presentedCredential(new Headers({ apikey: JWT }))).toEqual({ kind: 'jwt', token: JWT, header: 'apikey' });
    expect(presentedCredential(new Headers({ authorization: 'Bearer not-a-key' }))).toEqual({ kind: 'unknown' });
    expect(presentedCredential(new Headers())).toEqual({ kind: 'none' });
    expect(status(() => presentedCredential(new Headers({ authorization: `Basic ${KEY}` })))).toBe(401);
  });

  it('reads the tenant from x-oms-tenant-id (x-oms-tenant is an alias), refusing malformed or conflicting ones', () => {
    expect(namedTenant(new Headers({ 'x-oms-tenant-id': TENANT.toUpperCase() }))).toBe(TENANT);
    expect(namedTenant(new Headers({ 'x-oms-tenant': TENANT }))).toBe(TENANT);
    expect(namedTenant(new Headers({ 'x-oms-tenant-id': TENANT, 'x-oms-tenant': TENANT }))).toBe(TENANT);
    expect(namedTenant(new Headers())).toBeNull();
    expect(status(() => namedTenant(new Headers({ 'x-oms-tenant-id': TENANT, 'x-oms-tenant': OTHER })))).toBe(400);
    expect(status(() => namedTenant(new Headers({ 'x-oms-tenant-id': "' or 1=1 --" })))).toBe(400);
  });

  it('takes X-Forwarded-For only behind a trusted proxy, and keeps control characters out of the user agent', () => {
    const headers = new Headers({ 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'user-agent': 'client/1', 'x-request-id': 'req-1' });
    expect(observedClient(headers, { trustProxy: true, socketIp: '127.0.0.1' })).toEqual({ ip: '203.0.113.9', userAgent: 'client/1', requestId: 'req-1' });
    expect(observedClient(headers, { trustProxy: false, socketIp: '2001:DB8::1' })).toMatchObject({ ip: '2001:db8::1' });
    const bad = new Headers({ 'x-request-id': 'a b' });
    expect(observedClient(bad, { trustProxy: false, socketIp: 'not an ip' })).toEqual({ ip: null, userAgent: null, requestId: null });
  });

  it('maps every kind of caller to the writer its events record, and to one rate-limit subject', () => {
    const callers: { caller: AnyCaller; writtenBy: string; principal: string }[] = [
      { caller: { kind: 'api_key', keyId: 'k1', tenantId: TENANT, scopes: ['events:write'] }, writtenBy: 'api_key:k1', principal: 'key:k1' },
      { caller: { kind: 'service_role', tenantId: TENANT }, writtenBy: 'service_role', principal: `service:${TENANT}` },
      { caller: { kind: 'user', userId: 'u1', tenantId: TENANT }, writtenBy: 'user:u1', principal: 'user:u1' },
    ];
    for (const c of callers) {
      const write = writerOf(c.caller);
      expect(write.tenantId).toBe(TENANT);
      expect(writtenBy(write.writer)).toBe(c.writtenBy);
      expect(mayWriteConsoleRecords(write.writer)).toBe(false);
      expect(principalOf(c.caller)).toBe(c.principal);
    }
    expect(status(() => writerOf({ kind: 'anonymous' }))).toBe(401);
    expect(status(() => writerOf({ kind: 'user', userId: 'u1', tenantId: null }))).toBe(403);
    // @ts-expect-error a kind of caller the parser does not know cannot be passed in
    expect(() => writerOf({ kind: 'robot', tenantId: TENANT })).toThrow(/unhandled kind/);
  });

  it("writes the console's and the operator's records under their own names", () => {
    const writers: [Writer, string, boolean][] = [
      [{ kind: 'console', userId: 'u1' }, 'console:u1', true],
      [{ kind: 'console', userId: null }, 'console', true],
      [{ kind: 'operator', name: 'cli' }, 'operator:cli', true],
    ];
    for (const [writer, text, reserved] of writers) {
      expect(writtenBy(writer)).toBe(text);
      expect(mayWriteConsoleRecords(writer)).toBe(reserved);
    }
  });
});
