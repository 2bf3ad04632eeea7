/**
 * Server side of the write path: the shared appendEvents() with the server's
 * pool. REST, tRPC and the CLI call this; the edge function calls
 * appendEvents() directly with its own connection.
 */
import type { AuditEventInput, IngestMethod, IngestResult } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { appendEvents, type ObservedClient, type WriteCaller } from '@/supabase/functions/_shared/ingest.ts';
// Registers the sealer of personal data with the write path.
import '@/server/services/personal/seal.ts';

export type { ObservedClient, WriteCaller };

export const NO_OBSERVED_CLIENT: ObservedClient = { ip: null, userAgent: null };

export async function logEvents(
  sql: Sql,
  writer: WriteCaller,
  events: readonly AuditEventInput[],
  observed: ObservedClient,
  method: IngestMethod,
): Promise<IngestResult> {
  return appendEvents(sql, writer, events, observed, method);
}

/**
 * One event (tRPC events.log, POST /api/v1/audit/event). Concurrent single
 * events of a tenant are committed together in one multi-row insert (the
 * appender's group commit); the call resolves once its event is committed.
 */
export function logEvent(sql: Sql, writer: WriteCaller, event: AuditEventInput, observed: ObservedClient): Promise<IngestResult> {
  return appendEvents(sql, writer, [event], observed, 'group_commit');
}
