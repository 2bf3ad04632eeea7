/**
 * People are shown by email, never by internal id. What the console stores as
 * "who did it" (legal holds, policies, verifications, API keys, invitations)
 * is the stable principal `user:<uuid>`, which survives a changed email; it is
 * turned into the person's email where it is read. Other principals (the CLI,
 * `api_key:<id>`, `oms-audit`) are kept as they are.
 */

/** SQL for the email of the person a principal column names, or the column itself. The column is a constant of the caller, qualified by its table (users has a created_by of its own). */
export function personSql(column: string): string {
  return `coalesce((select u.email from oms_audit.users u where ${column} like 'user:%' and u.id::text = substring(${column} from 6)), ${column})`;
}

/** The user id inside a `user:<uuid>` principal, or null. */
export function userIdOfPrincipal(principal: string): string | null {
  return principal.startsWith('user:') ? principal.slice('user:'.length) : null;
}
