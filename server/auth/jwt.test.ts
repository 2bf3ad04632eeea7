/** Session tokens: what verification accepts and what it refuses. */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { jwtSecret, signSessionToken, verifySessionToken } from './jwt.ts';

const claims = { email: 'a@example.com', role: 'authenticated', sid: 's1', app_metadata: { tenants: [{ tenant_id: randomUUID(), role: 'auditor' }] } };

function token(options: { secret?: Uint8Array; audience?: string; expiresAt?: number; alg?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setSubject(randomUUID())
    .setAudience(options.audience ?? 'authenticated')
    .setIssuer('oms-audit')
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 600)
    .sign(options.secret ?? jwtSecret());
}

async function refusal(t: string): Promise<AuditError> {
  const err = await verifySessionToken(t).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuditError);
  expect((err as AuditError).status).toBe(401);
  return err as AuditError;
}

describe('session tokens', () => {
  it('round-trips the Supabase-compatible claims of a token it signed', async () => {
    const userId = randomUUID();
    const tenant = randomUUID();
    const { token: t } = await signSessionToken({ userId, email: 'X@Example.com', sessionId: 'sid-1', tenants: [{ tenant_id: tenant, role: 'viewer' }] });
    const verified = await verifySessionToken(t);
    expect(verified).toMatchObject({ sub: userId, email: 'x@example.com', role: 'authenticated', sid: 'sid-1', iss: 'oms-audit', tenants: [{ tenant_id: tenant, role: 'viewer' }] });
    const payload = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ aud: 'authenticated', role: 'authenticated', app_metadata: { tenants: [{ tenant_id: tenant, role: 'viewer' }] } });
  });

  it('refuses an expired token', async () => {
    expect((await refusal(await token({ expiresAt: Math.floor(Date.now() / 1000) - 120 }))).message).toMatch(/expired/);
  });

  it('refuses a token signed with another secret', async () => {
    expect((await refusal(await token({ secret: new TextEncoder().encode('x'.repeat(48)) }))).message).toMatch(/signature/);
  });

  it('refuses a token for another audience', async () => {
    expect((await refusal(await token({ audience: 'anon' }))).message).toMatch(/not issued for this service/);
  });

  it('refuses an unsigned (alg: none) token and other algorithms', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ ...claims, sub: randomUUID(), aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    expect((await refusal(`${header}.${body}.`)).message).toMatch(/not accepted/);
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).setSubject(randomUUID()).setAudience('authenticated').setExpirationTime('10m').sign(jwtSecret());
    expect((await refusal(hs512)).message).toMatch(/not accepted/);
    await refusal('not-a-token');
  });
});
