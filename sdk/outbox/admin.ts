/**
 * Installing and looking after an outbox: the installation (schema.ts's
 * script, in one transaction), its state (what waits, since when, what was
 * parked and why) and sending parked events again once their cause is fixed.
 * Used by `oms-audit outbox init|status|retry` and available to an OMS's own
 * tooling.
 */
import { withSession, type OutboxSource } from './database.ts';
import { checkOutboxInstalled, type ParkedError } from './relay.ts';
import { outboxSql, type OutboxGrants } from './schema.ts';

/** Creates or updates the outbox in the OMS database (idempotent), granting the roles named. */
export async function installOutbox(source: OutboxSource, grants: OutboxGrants = {}): Promise<void> {
  await withSession(source, async (query) => {
    await query('begin');
    try {
      await query(outboxSql(grants));
      await query('commit');
    } catch (err) {
      await query('rollback').catch(() => {});
      throw err;
    }
  });
}

export interface ParkedEventInfo {
  id: string;
  position: string;
  event: Record<string, unknown>;
  createdAt: Date;
  parkedAt: Date;
  error: ParkedError;
}

export interface OutboxStatus {
  /** Events waiting for a relay. */
  pendingRows: number;
  /** Age of the oldest waiting event, in seconds (0 when none). */
  oldestPendingSeconds: number;
  /** Events the server refused. */
  parkedRows: number;
  /** The most recently parked events (up to `limit`). */
  parked: ParkedEventInfo[];
}

export async function outboxStatus(source: OutboxSource, { limit = 20 }: { limit?: number } = {}): Promise<OutboxStatus> {
  return withSession(source, async (query) => {
    await checkOutboxInstalled(query);
    const [counts] = await query(`
      select count(*)::float8 as pending,
             coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8 as oldest,
             (select count(*) from oms_audit_outbox.audit_outbox_parked)::float8 as parked
      from oms_audit_outbox.audit_outbox`);
    const parked = await query(
      `select p.id::text as id, p.position::text as position, p.event::text as event, p.created_at, p.parked_at, p.error::text as error
       from oms_audit_outbox.audit_outbox_parked p order by p.parked_at desc, p.position desc limit $1::int`,
      [limit],
    );
    return {
      pendingRows: counts!.pending as number,
      oldestPendingSeconds: counts!.oldest as number,
      parkedRows: counts!.parked as number,
      parked: parked.map((r) => ({
        id: r.id as string,
        position: r.position as string,
        event: JSON.parse(r.event as string) as Record<string, unknown>,
        createdAt: new Date(r.created_at as string | Date),
        parkedAt: new Date(r.parked_at as string | Date),
        error: JSON.parse(r.error as string) as ParkedError,
      })),
    };
  });
}

/**
 * Puts parked events back in the queue (at its end), e.g. after the server's
 * configuration or the event itself was corrected. `ids`: those events; `all`:
 * every parked event. Needs the rights of the outbox's owner. Returns how
 * many were requeued.
 */
export async function retryParked(source: OutboxSource, which: { ids: readonly string[] } | { all: true }): Promise<number> {
  return withSession(source, async (query) => {
    await checkOutboxInstalled(query);
    const ids = 'all' in which ? null : which.ids.join(',');
    const [row] = await query(
      `with moved as (
         delete from oms_audit_outbox.audit_outbox_parked
         where $1::text is null or id = any (string_to_array($1::text, ',')::uuid[])
         returning position, id, event, created_at)
       , queued as (
         insert into oms_audit_outbox.audit_outbox (id, event, created_at)
         select id, event, created_at from moved order by position
         returning 1)
       select count(*)::int as n from queued`,
      [ids],
    );
    return row!.n as number;
  });
}
