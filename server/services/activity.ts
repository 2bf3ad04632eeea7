/**
 * The Activity view: administration of a tenant as it is on the record —
 * invitations, role changes and removals, API keys created and revoked,
 * verification runs with their results, retention policy changes, legal holds
 * placed and released — newest first, each with the person who acted. These
 * are ordinary events of the tenant's trail (hashed, sealed, exportable); this
 * is one question over them, answered by the event-type and object indexes.
 * Months that left PostgreSQL for their archive are not read here (search and
 * exports read them); the page says which period it covers.
 */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { ADMINISTRATION } from './console-audit.ts';
import { decodeCursor, encodeCursor, filterFingerprint } from './cursor.ts';
import { EVENT_COLUMNS, inTenant, type EventPage } from './query.ts';
import { revealEvents } from './personal/reveal.ts';

export async function administrationActivity(sql: Sql, claims: TenantClaims, input: { cursor?: string; limit: number }): Promise<EventPage> {
  const fingerprint = filterFingerprint(`activity:${claims.tenant_id}`, {});
  const after = input.cursor ? decodeCursor(input.cursor, 'desc', fingerprint) : null;
  const page = await inTenant(sql, claims, async (tx): Promise<EventPage> => {
    const rows = (await tx`
      select ${tx.unsafe(EVENT_COLUMNS)}
      from public.audit_events
      where tenant_id = ${claims.tenant_id}
        and (event_type = any(${ADMINISTRATION.eventTypes as unknown as string[]}::text[]) or object_type = any(${ADMINISTRATION.objectTypes as unknown as string[]}::text[]))
        ${after ? tx`and (occurred_at, seq) < (${after.occurred_at}::timestamptz, ${after.seq}::bigint)` : tx``}
      order by occurred_at desc, seq desc
      limit ${input.limit + 1}`) as unknown as AuditEvent[];
    const more = rows.length > input.limit;
    const events = more ? rows.slice(0, input.limit) : rows;
    const last = events[events.length - 1];
    return { events, next_cursor: more && last ? encodeCursor(last, 'desc', fingerprint) : null };
  });
  // The people who acted are personal data of a tenant that seals it: shown opened (admins only read this).
  await revealEvents(sql, claims.tenant_id, page.events);
  return page;
}
