/**
 * The audit trail audits itself (PCI DSS 10.2): sign-ins, searches, event
 * views, exports, the admins' changes to who may sign in (invitations,
 * roles, disabled members), API keys created and revoked, and verification
 * runs with their result, by console users, become audit events of the tenant,
 * written through the normal write path (seq, hash, ledger) with the user as
 * the actor.
 */
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { ObservedClient, Writer } from '@/supabase/functions/_shared/ingest.ts';
import type { Caller } from '@/server/auth/caller.ts';
import type { Exporter } from './export.ts';
import { logEvents } from './ingest.ts';

export const CONSOLE_EVENT_TYPES = {
  signIn: 'AUDIT_SIGN_IN',
  search: 'AUDIT_SEARCH',
  view: 'AUDIT_VIEW',
  export: 'AUDIT_EXPORT',
  /** An admin invited someone, or withdrew an invitation; a person accepted one. */
  invitation: 'AUDIT_INVITATION',
  /** An admin changed a member's role, disabled, re-enabled or removed them. */
  membership: 'AUDIT_MEMBERSHIP',
  /** An admin created or revoked an API key. */
  apiKey: 'AUDIT_API_KEY',
  /** Someone verified the tenant's trail; the outcome is failure when tampering was found. */
  verification: 'AUDIT_VERIFICATION',
  /** An admin changed the tenant's tolerance for its sources' clocks (docs/clock.md). */
  clockTolerance: 'AUDIT_CLOCK_TOLERANCE',
  /** An admin changed the context keys that relate events to an order (the whole order). */
  relatedKeys: 'AUDIT_RELATED_KEYS',
} as const;

/**
 * Administration, as the Activity view lists it: the console's administrative
 * event types, and the object types of retention's own records (policy
 * changes, legal holds placed and released).
 */
export const ADMINISTRATION = {
  eventTypes: [CONSOLE_EVENT_TYPES.invitation, CONSOLE_EVENT_TYPES.membership, CONSOLE_EVENT_TYPES.apiKey, CONSOLE_EVENT_TYPES.verification, CONSOLE_EVENT_TYPES.clockTolerance, CONSOLE_EVENT_TYPES.relatedKeys],
  objectTypes: ['RETENTION_POLICY', 'LEGAL_HOLD'],
} as const;

export const CONSOLE_SOURCE = 'oms-audit-console';

export interface ConsoleAction {
  eventType: (typeof CONSOLE_EVENT_TYPES)[keyof typeof CONSOLE_EVENT_TYPES];
  objectType: string;
  objectId: string;
  outcome?: 'success' | 'failure';
  context?: Record<string, unknown>;
}

function actorEvent(user: { id: string; email: string }, action: ConsoleAction): AuditEventRequest {
  return {
    actor_type: 'USER',
    actor_id: user.email || user.id,
    object_type: action.objectType,
    object_id: action.objectId,
    event_type: action.eventType,
    outcome: action.outcome ?? 'success',
    source: CONSOLE_SOURCE,
    context: { user_id: user.id, ...action.context },
  };
}

/** Records an action of a user in one tenant. */
export async function recordUserAction(sql: Sql, user: { id: string; email: string }, tenantId: string, action: ConsoleAction, observed: ObservedClient): Promise<void> {
  const events = parseBatch({ events: [actorEvent(user, action)] }, 1);
  await logEvents(sql, { tenantId, writer: { kind: 'console', userId: user.id } }, events, observed, 'trpc');
}

/** Records an action of the calling console user in their active tenant; API keys are audited by their own apps. */
export async function recordConsoleAction(sql: Sql, caller: Caller, action: ConsoleAction, observed: ObservedClient): Promise<void> {
  if (caller.kind !== 'user' || !caller.tenantId) return;
  await recordUserAction(sql, { id: caller.userId, email: caller.email }, caller.tenantId, action, observed);
}

/** Records an export (console, API key or CLI) once it has completed or failed. */
export async function recordExport(
  sql: Sql,
  tenantId: string,
  manifest: { export_id: string; exported_by: Exporter; status: string; format: string; excel: boolean; row_count: number | null; sha256: string | null; filters: unknown; order: string; personal?: { mode: string; erased_fields: number | null } },
  observed: ObservedClient,
): Promise<void> {
  const by = manifest.exported_by;
  const actor: { actor_type: string; actor_id: string; writer: Writer; extra: Record<string, unknown> } =
    by.kind === 'user'
      ? { actor_type: 'USER', actor_id: by.email || by.user_id, writer: { kind: 'console', userId: by.user_id }, extra: { user_id: by.user_id } }
      : by.kind === 'api_key'
        ? { actor_type: 'API_KEY', actor_id: by.key_id, writer: { kind: 'console', userId: null }, extra: {} }
        : { actor_type: 'SERVICE', actor_id: 'oms-audit-cli', writer: { kind: 'operator', name: 'cli' }, extra: { os_user: by.os_user } };
  const events = parseBatch(
    {
      events: [
        {
          actor_type: actor.actor_type,
          actor_id: actor.actor_id,
          object_type: 'AUDIT_EXPORT',
          object_id: manifest.export_id,
          event_type: CONSOLE_EVENT_TYPES.export,
          outcome: manifest.status === 'complete' ? 'success' : 'failure',
          source: by.kind === 'cli' ? 'oms-audit-cli' : CONSOLE_SOURCE,
          context: { ...actor.extra, format: manifest.format, excel: manifest.excel, row_count: manifest.row_count, sha256: manifest.sha256, filters: manifest.filters, order: manifest.order, personal: manifest.personal?.mode ?? 'stored' },
        },
      ],
    },
    1,
  );
  await logEvents(sql, { tenantId, writer: actor.writer }, events, observed, by.kind === 'cli' ? 'cli' : 'rest');
}
