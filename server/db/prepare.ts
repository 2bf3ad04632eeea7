/**
 * What the server (npm start) and the CLI make sure of before they work: the
 * schema is current (migrated as the owner where this process has the
 * owner's URL, otherwise checked), and their own connections (DATABASE_URL,
 * and DATABASE_READ_URL when set: checkReadDatabase) are the runtime role,
 * which cannot change the trail. Either failing stops them with a message naming the variable to fix.
 */
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { ALLOW_PRIVILEGED_RUNTIME, checkRuntimeRole, runtimeRoleRefusal, type RuntimeRoleCheck } from '@/supabase/functions/_shared/runtime-role.ts';
import type { Env } from '@/server/env.ts';
import { migrate, migrationStatus } from './migrate.ts';
import { checkMasterKey } from '@/server/services/personal/keys.ts';
import { reapplyErasures } from '@/server/services/personal/erasure-anchors.ts';
import type { OpenedDatabase } from './open.ts';

export class DatabaseSetupError extends Error {
  override name = 'DatabaseSetupError';
}

/** A connection as the owner (DATABASE_OWNER_URL, or embedded PostgreSQL's oms_audit_owner), for migrations. */
export function ownerConnection(opened: OpenedDatabase, env: Env): Sql {
  if (!opened.ownerUrl) {
    throw new DatabaseSetupError("DATABASE_OWNER_URL is not set: migrations run as oms_audit_owner (or a role that may act as it, such as Supabase's postgres); set DATABASE_OWNER_URL to its URL");
  }
  return connect(opened.ownerUrl, { max: 1, prepare: env.DB_PREPARE, applicationName: 'oms-audit-migrate' });
}

/** Applies pending migrations on an owner's connection; a failure names where the URL came from. */
export async function migrateAsOwner(owner: Sql, opened: OpenedDatabase, log?: (line: string) => void): Promise<string[]> {
  try {
    return await migrate(owner, { log });
  } catch (err) {
    throw new DatabaseSetupError(`migrations failed as ${opened.embedded ? 'the embedded oms_audit_owner' : 'DATABASE_OWNER_URL'}: ${(err as Error).message}`);
  }
}

/**
 * Migrates (when this process has the owner's URL) or checks that nothing is
 * pending, then checks the runtime connection. Returns the migrations applied.
 */
export async function prepareDatabase(opened: OpenedDatabase, runtime: Sql, env: Env, log: (line: string) => void = () => {}): Promise<string[]> {
  let applied: string[] = [];
  if (opened.ownerUrl) {
    const owner = ownerConnection(opened, env);
    try {
      applied = await migrateAsOwner(owner, opened, log);
    } finally {
      await owner.end({ timeout: 5 });
    }
  } else {
    const { pending } = await migrationStatus(runtime);
    if (pending.length) {
      throw new DatabaseSetupError(
        `${pending.length} database migration(s) are pending (${pending[0]}${pending.length > 1 ? ', …' : ''}) and DATABASE_OWNER_URL is not set: ` +
          'run `oms-audit migrate` with DATABASE_OWNER_URL (the oms_audit_owner role\'s URL), or set DATABASE_OWNER_URL for this process too',
      );
    }
  }
  refuseUnfitRole(opened.embedded ? 'the embedded runtime connection' : 'DATABASE_URL', await checkRuntimeRole(runtime), env, log);
  // A wrong or missing master key stops the process here, naming it, rather than failing on the first sealed event.
  try {
    await checkMasterKey(runtime);
  } catch (err) {
    throw new DatabaseSetupError((err as Error).message);
  }
  // Erasures recorded outside the database are applied again: a backup from before them brings no key back.
  try {
    const again = await reapplyErasures(runtime, env);
    if (again.length) log(`destroyed again ${again.length} personal-data key(s) erased before this database was restored: ${again.join(', ')}`);
  } catch (err) {
    throw new DatabaseSetupError(`the erasures anchored outside the database could not be read or applied: ${(err as Error).message}`);
  }
  return applied;
}

/** Stops (or, when the operator allowed it, warns about) a connection whose role could change the trail. */
function refuseUnfitRole(variable: string, check: RuntimeRoleCheck, env: Env, log: (line: string) => void): void {
  if (!check.problems.length) return;
  const message = runtimeRoleRefusal(variable, check);
  if (!env.OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME) throw new DatabaseSetupError(message);
  log(`warning (${ALLOW_PRIVILEGED_RUNTIME}=true): ${message}`);
}

/**
 * DATABASE_READ_URL, when set (the server at start, the CLI before each command): reachable, and held to the
 * same rule as DATABASE_URL (a replica's roles are the primary's: a superuser or the owner there is one on the
 * primary). Returns what it connects to; null when unset.
 */
export async function checkReadDatabase(env: Env, log: (line: string) => void): Promise<{ replica: boolean; user: string } | null> {
  if (!env.DATABASE_READ_URL) return null;
  const reads = connect(env.DATABASE_READ_URL!, { max: 1, prepare: env.DB_PREPARE, applicationName: 'oms-audit-read-check' });
  try {
    let check: RuntimeRoleCheck;
    let replica: boolean;
    try {
      check = await checkRuntimeRole(reads);
      const [row] = await reads<{ replica: boolean }[]>`select pg_is_in_recovery() as replica`;
      replica = row!.replica;
    } catch (err) {
      throw new DatabaseSetupError(`cannot read from DATABASE_READ_URL: ${(err as Error).message}`);
    }
    refuseUnfitRole('DATABASE_READ_URL', check, env, log);
    return { replica, user: check.user };
  } finally {
    await reads.end({ timeout: 2 });
  }
}
