/**
 * Finds the database the server and the CLI use: DATABASE_URL (the runtime
 * role) and DATABASE_OWNER_URL (migrations) when set, otherwise embedded
 * PostgreSQL in the data folder (started, or reused when it is already
 * running, e.g. under a live server), whose roles it sets up itself.
 */
import type { Env } from '@/server/env.ts';
import { fromRoot } from '@/server/paths.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.ts';

export interface OpenedDatabase {
  /** oms_audit_runtime: everything but migrations. */
  runtimeUrl: string;
  /** Migrations and DDL; null when this process was given no owner's URL. */
  ownerUrl: string | null;
  embedded: EmbeddedDatabase | null;
}

/**
 * `adopt`: the server takes over a PostgreSQL left behind by a server that died (the CLI only borrows it).
 * `detached`: PostgreSQL in a process group of its own, stopped by the server (server/main.ts).
 */
export async function openDatabase(env: Env, log: (line: string) => void = () => {}, options: { adopt?: boolean; detached?: boolean } = {}): Promise<OpenedDatabase> {
  if (env.DATABASE_URL) return { runtimeUrl: env.DATABASE_URL, ownerUrl: env.DATABASE_OWNER_URL ?? null, embedded: null };
  const embedded = await startEmbeddedPostgres({
    dataDir: fromRoot(env.OMS_AUDIT_DATA_DIR),
    port: env.OMS_AUDIT_PG_PORT,
    pgHome: env.OMS_AUDIT_PG_HOME,
    log,
    adopt: options.adopt,
    detached: options.detached,
  });
  return { runtimeUrl: embedded.runtimeUrl, ownerUrl: embedded.ownerUrl, embedded };
}

export function dataPath(env: Env, ...parts: string[]): string {
  return fromRoot(env.OMS_AUDIT_DATA_DIR, ...parts);
}
