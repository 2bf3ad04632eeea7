/**
 * Supabase-compatible JWTs for console users: claims `sub`, `email`,
 * `role: authenticated`, `aud: authenticated` and the user's tenant
 * memberships in `app_metadata.tenants` ([{tenant_id, role}]).
 *
 * Verified with jose: HS256 with SUPABASE_JWT_SECRET (generated into the data
 * folder when unset), or RS256/ES256 with the keys of SUPABASE_JWKS_URL.
 * Unsigned (`alg: none`) and other algorithms are refused.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { env } from '@/server/env.ts';
import { fromRoot } from '@/server/paths.ts';
import { TENANT_ROLES, type TenantRole } from './caller.ts';

export const JWT_AUDIENCE = 'authenticated';
/** Issuer of the tokens this server signs at sign-in. */
export const LOCAL_ISSUER = 'oms-audit';

export interface TokenMembership {
  tenant_id: string;
  role: TenantRole;
}

export interface SessionClaims {
  sub: string;
  email: string;
  role: 'authenticated';
  /** Session id: the server-side session (oms_audit.console_sessions) this token belongs to; binds the CSRF token too. */
  sid: string;
  iss: string;
  tenants: TokenMembership[];
  exp: number;
}

const holder = globalThis as typeof globalThis & { __omsAuditJwtSecret?: Uint8Array; __omsAuditJwks?: ReturnType<typeof createRemoteJWKSet> };

/** The HS256 secret: SUPABASE_JWT_SECRET, or one generated once into <data dir>/secrets/jwt-secret. */
export function jwtSecret(): Uint8Array {
  if (holder.__omsAuditJwtSecret) return holder.__omsAuditJwtSecret;
  let secret = env().SUPABASE_JWT_SECRET;
  if (!secret) {
    const file = fromRoot(env().OMS_AUDIT_DATA_DIR, 'secrets', 'jwt-secret');
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(file, randomBytes(48).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (err) {
        // Another process (server, CLI) wrote it first: use theirs.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    secret = readFileSync(file, 'utf8').trim();
  }
  holder.__omsAuditJwtSecret = new TextEncoder().encode(secret);
  return holder.__omsAuditJwtSecret;
}

export async function signSessionToken(input: { userId: string; email: string; sessionId: string; tenants: TokenMembership[]; hours?: number; expiresAt?: Date }): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = input.expiresAt ?? new Date(Date.now() + (input.hours ?? env().SESSION_HOURS) * 3600_000);
  const token = await new SignJWT({
    email: input.email,
    role: 'authenticated',
    sid: input.sessionId,
    app_metadata: { provider: 'email', tenants: input.tenants },
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(input.userId)
    .setAudience(JWT_AUDIENCE)
    .setIssuer(LOCAL_ISSUER)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(jwtSecret());
  return { token, expiresAt };
}

function unauthorized(message: string): AuditError {
  return new AuditError('unauthorized', message);
}

function membershipsOf(payload: JWTPayload): TokenMembership[] {
  const raw = (payload.app_metadata as { tenants?: unknown } | undefined)?.tenants;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((m) => {
    const tenant = (m as { tenant_id?: unknown })?.tenant_id;
    const role = (m as { role?: unknown })?.role;
    return typeof tenant === 'string' && (TENANT_ROLES as readonly unknown[]).includes(role) ? [{ tenant_id: tenant.toLowerCase(), role: role as TenantRole }] : [];
  });
}

/** Verifies signature, expiry and audience; answers 401 with a reason a person can act on. */
export async function verifySessionToken(token: string): Promise<SessionClaims> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw unauthorized('Malformed token');
  }
  const jwksUrl = env().SUPABASE_JWKS_URL;
  try {
    const { payload } =
      alg === 'HS256'
        ? await jwtVerify(token, jwtSecret(), { algorithms: ['HS256'], audience: JWT_AUDIENCE, clockTolerance: 30 })
        : jwksUrl && (alg === 'RS256' || alg === 'ES256')
          ? await jwtVerify(token, (holder.__omsAuditJwks ??= createRemoteJWKSet(new URL(jwksUrl))), { algorithms: ['RS256', 'ES256'], audience: JWT_AUDIENCE, clockTolerance: 30 })
          : (() => {
              throw unauthorized(`Tokens signed with ${alg ?? 'no algorithm'} are not accepted`);
            })();
    if (typeof payload.sub !== 'string' || !payload.sub) throw unauthorized('The token names no user (sub)');
    if (typeof payload.exp !== 'number') throw unauthorized('The token has no expiry');
    return {
      sub: payload.sub,
      email: typeof payload.email === 'string' ? payload.email.toLowerCase() : '',
      role: 'authenticated',
      sid: typeof payload.sid === 'string' ? payload.sid : (payload.session_id as string | undefined) ?? '',
      iss: payload.iss ?? '',
      tenants: membershipsOf(payload),
      exp: payload.exp,
    };
  } catch (err) {
    if (err instanceof AuditError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') throw unauthorized('Your session has expired; sign in again');
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') throw unauthorized(`The token was not issued for this service (${(err as { claim?: string }).claim ?? 'claim'})`);
    throw unauthorized('Invalid token signature');
  }
}
