/**
 * Console sessions in cookies: the signed JWT in an httpOnly, SameSite=Lax
 * cookie; a CSRF token (an HMAC of the session id, readable by the page's
 * script) that cookie-authenticated mutations must echo in `x-csrf-token`;
 * and the active tenant the user chose in the header.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HeaderReader } from '@/supabase/functions/_shared/credentials.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { env } from '@/server/env.ts';
import { jwtSecret } from './jwt.ts';

export const SESSION_COOKIE = 'oms_session';
export const CSRF_COOKIE = 'oms_csrf';
export const TENANT_COOKIE = 'oms_tenant';
export const CSRF_HEADER = 'x-csrf-token';

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export function csrfTokenFor(sessionId: string): string {
  return createHmac('sha256', jwtSecret()).update(`csrf:${sessionId}`).digest('base64url');
}

export function csrfMatches(sessionId: string, presented: string | null): boolean {
  if (!presented || !sessionId) return false;
  const want = Buffer.from(csrfTokenFor(sessionId));
  const got = Buffer.from(presented);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Reads one cookie from a Cookie header. */
export function readCookie(headers: HeaderReader, name: string): string | null {
  const header = headers.get('cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** https as the client sees it (behind a trusted proxy, from X-Forwarded-Proto). */
function isHttps(req: Request): boolean {
  if (env().TRUST_PROXY && req.headers.get('x-forwarded-proto')?.split(',')[0]?.trim() === 'https') return true;
  return new URL(req.url).protocol === 'https:';
}

function cookie(req: Request, name: string, value: string, options: { httpOnly: boolean; maxAgeSeconds: number }): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    `Max-Age=${options.maxAgeSeconds}`,
    'SameSite=Lax',
    options.httpOnly ? 'HttpOnly' : '',
    isHttps(req) ? 'Secure' : '',
  ]
    .filter(Boolean)
    .join('; ');
}

export function sessionCookies(req: Request, token: string, sessionId: string, expiresAt: Date): string[] {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  return [cookie(req, SESSION_COOKIE, token, { httpOnly: true, maxAgeSeconds: maxAge }), cookie(req, CSRF_COOKIE, csrfTokenFor(sessionId), { httpOnly: false, maxAgeSeconds: maxAge })];
}

export function clearedSessionCookies(req: Request): string[] {
  return [SESSION_COOKIE, CSRF_COOKIE].map((name) => cookie(req, name, '', { httpOnly: name === SESSION_COOKIE, maxAgeSeconds: 0 }));
}

export function tenantCookie(req: Request, tenantId: string): string {
  return cookie(req, TENANT_COOKIE, tenantId, { httpOnly: true, maxAgeSeconds: 365 * 86400 });
}

/**
 * A state-changing request must come from our own pages: the Origin (when the
 * browser sends one) names this host.
 */
export function requireSameOrigin(req: Request): void {
  const origin = req.headers.get('origin');
  if (!origin) return;
  const host = req.headers.get('x-forwarded-host') && env().TRUST_PROXY ? req.headers.get('x-forwarded-host') : req.headers.get('host');
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new AuditError('forbidden', 'Cross-site request refused');
  }
  if (!host || originHost !== host) throw new AuditError('forbidden', 'Cross-site request refused');
}
