/** Tokens of an external issuer (e.g. Supabase Auth) verified with its JWKS, served here by a local HTTP server. */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: http.Server;
let issuerKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  issuerKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Read when the environment is first parsed, i.e. on the first import below.
  process.env.SUPABASE_JWKS_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
});

afterAll(() => server?.close());

const sign = (key: CryptoKey, kid = 'k1') =>
  new SignJWT({ email: 'ext@example.com', role: 'authenticated', app_metadata: { tenants: [{ tenant_id: randomUUID(), role: 'viewer' }] } })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject(randomUUID())
    .setAudience('authenticated')
    .setIssuer('https://project.supabase.co/auth/v1')
    .setExpirationTime('5m')
    .sign(key);

describe('JWKS verification', () => {
  it("accepts the issuer's RS256 tokens and refuses ones signed by another key", async () => {
    const { verifySessionToken } = await import('./jwt.ts');
    const verified = await verifySessionToken(await sign(issuerKey));
    expect(verified).toMatchObject({ email: 'ext@example.com', iss: 'https://project.supabase.co/auth/v1', tenants: [{ role: 'viewer' }] });
    const stranger = (await generateKeyPair('RS256')).privateKey;
    await expect(verifySessionToken(await sign(stranger))).rejects.toMatchObject({ status: 401 });
  });
});
