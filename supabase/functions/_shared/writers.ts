/**
 * Provenance: which credential wrote an event. Every event records it in
 * `written_by` (covered by the event hash from schema version 2 on), so an
 * app's API key can never pass for the console, and an auditor can tell which
 * key, user or operator put each event into the trail.
 *
 *   api_key:<key id>     an app's tenant API key (REST, tRPC, the edge function)
 *   service_role         a trusted back-end's service-role token (edge function)
 *   user:<user id>       a console user's own credential, through the API
 *   console:<user id>    the console's record of what that signed-in user did
 *   console              the console's record of its own work (no user)
 *   operator:<name>      the operator's tools: the oms-audit CLI, retention runs, demo data
 *
 * Event types beginning `AUDIT_` and the source `oms-audit-console` are the
 * console's records of its own use; only the console and the operator's tools
 * may write them.
 */

export type Writer =
  | { kind: 'api_key'; keyId: string }
  | { kind: 'service_role' }
  | { kind: 'user'; userId: string }
  | { kind: 'console'; userId: string | null }
  | { kind: 'operator'; name: string };

export type WriterKind = Writer['kind'];

/** Who writes, for which tenant: the tenant comes from the credential, never from the payload. */
export interface WriteCaller {
  tenantId: string;
  writer: Writer;
}

/** The stored `written_by` text of a writer. */
export function writtenBy(writer: Writer): string {
  switch (writer.kind) {
    case 'api_key':
      return `api_key:${writer.keyId}`;
    case 'service_role':
      return 'service_role';
    case 'user':
      return `user:${writer.userId}`;
    case 'console':
      return writer.userId ? `console:${writer.userId}` : 'console';
    case 'operator':
      return `operator:${writer.name}`;
    default:
      return unhandled(writer);
  }
}

/** Whether a writer may write the console's reserved records (AUDIT_* types, the console's source). */
export function mayWriteConsoleRecords(writer: Writer): boolean {
  switch (writer.kind) {
    case 'console':
    case 'operator':
      return true;
    case 'api_key':
    case 'service_role':
    case 'user':
      return false;
    default:
      return unhandled(writer);
  }
}

/** Event types the console writes about its own use. */
export const RESERVED_EVENT_TYPE_PREFIX = 'AUDIT_';
/** The `source` of the console's records. */
export const CONSOLE_SOURCE = 'oms-audit-console';

/** Compile-time exhaustiveness: a new kind that is not handled above does not type-check. */
export function unhandled(value: never): never {
  throw new Error(`unhandled kind: ${JSON.stringify(value)}`);
}
