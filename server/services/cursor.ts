/**
 * Keyset cursors: the position (occurred_at, seq) of the last row served, the
 * sort order, and a fingerprint of the tenant and filters, so a cursor cannot be
 * replayed against a different query or tenant. Opaque to clients (base64url
 * JSON) and signed with a server key, so an edited cursor is refused instead of
 * silently paging from a position the server never served.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { jwtSecret } from '@/server/auth/jwt.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { EventFilters, SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { parseTimestamp } from '@/supabase/functions/_shared/timestamps.ts';

export interface Position {
  occurred_at: string;
  seq: number;
}

interface CursorBody {
  v: 1;
  o: string;
  s: number;
  d: SortOrder;
  f: string;
}

export function filterFingerprint(scope: string, filters: EventFilters): string {
  const sorted = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(scope + JSON.stringify(sorted)).digest('base64url').slice(0, 16);
}

const holder = globalThis as typeof globalThis & { __omsAuditCursorKey?: Buffer };

/** Derived from the server secret: servers sharing SUPABASE_JWT_SECRET accept each other's cursors. */
function cursorKey(): Buffer {
  holder.__omsAuditCursorKey ??= createHmac('sha256', jwtSecret()).update('oms-audit cursor v1').digest();
  return holder.__omsAuditCursorKey;
}

function signatureOf(payload: string): Buffer {
  return createHmac('sha256', cursorKey()).update(payload).digest().subarray(0, 16);
}

export function encodeCursor(position: Position, order: SortOrder, fingerprint: string): string {
  const body: CursorBody = { v: 1, o: position.occurred_at, s: position.seq, d: order, f: fingerprint };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return `${payload}.${signatureOf(payload).toString('base64url')}`;
}

export function decodeCursor(cursor: string, order: SortOrder, fingerprint: string): Position {
  const fail = (why: string) => new AuditError('invalid_request', `Invalid cursor: ${why}`, [{ field: 'cursor', message: why }]);
  const [payload, signature, ...rest] = cursor.split('.');
  const presented = Buffer.from(signature ?? '', 'base64url');
  const expected = signatureOf(payload ?? '');
  if (rest.length || !payload || presented.length !== expected.length || !timingSafeEqual(presented, expected) || presented.toString('base64url') !== signature) {
    throw fail('not a cursor returned by this API');
  }
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as CursorBody;
  } catch {
    throw fail('not a cursor returned by this API');
  }
  if (body?.v !== 1 || typeof body.o !== 'string' || !Number.isSafeInteger(body.s) || body.s < 0) throw fail('not a cursor returned by this API');
  const at = parseTimestamp(body.o);
  if (!at.ok) throw fail('not a cursor returned by this API');
  if (body.d !== order || body.f !== fingerprint) throw fail('it belongs to a query with other filters or another sort order');
  return { occurred_at: at.value.iso, seq: body.s };
}
