/** What the retention steps work with: the database, the archive storage, a scratch folder, who acts. */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { scratchRoot } from '@/server/scratch.ts';
import { configuredArchiveUrl, requireArchiveUrl, storageAt, type ArchiveStorage } from '@/server/archive/storage.ts';

export interface RetentionContext {
  sql: Sql;
  env: Env;
  /** Where new archives are written; null when none is configured (reading, restoring and expiring still work). */
  storage: ArchiveStorage | null;
  /** Private scratch folder (<data dir>/scratch, 0700) in which each step makes and removes a folder of its own. */
  workDir: string;
  /** Who acts, as recorded in the audit trail: `cli`, `oms-audit-server`, `user:<id>`. */
  actor: string;
  log: (line: string) => void;
}

export async function retentionContext(sql: Sql, env: Env, options: { actor: string; log?: (line: string) => void; archiveUrl?: string; workDir?: string }): Promise<RetentionContext> {
  const url = options.archiveUrl ?? configuredArchiveUrl(env);
  const storage = url ? await storageAt(url, env) : null;
  const workDir = options.workDir ?? scratchRoot(env);
  return { sql, env, storage, workDir, actor: options.actor, log: options.log ?? (() => {}) };
}

/** First day of the month after `month` (YYYY-MM-01), as YYYY-MM-01. */
export function nextMonth(month: string): string {
  const d = new Date(`${month.slice(0, 7)}-01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 1);
  return d.toISOString().slice(0, 10);
}

/** `date` plus `months` months (UTC). */
export function addMonths(date: Date, months: number): Date {
  const d = new Date(date);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

/** The start of a month as a Date. */
export function monthStart(month: string): Date {
  return new Date(`${month.slice(0, 7)}-01T00:00:00Z`);
}

/** Parses YYYY-MM or YYYY-MM-DD into YYYY-MM-01. */
export function parseMonth(input: string): string | null {
  const m = /^(\d{4})-(0[1-9]|1[0-2])(-\d{2})?$/.exec(input.trim());
  return m ? `${m[1]}-${m[2]}-01` : null;
}

/** The storage new archives go to; a clear error when none is configured. */
export function archiveStorage(ctx: RetentionContext): ArchiveStorage {
  return ctx.storage ?? storageMissing(ctx.env);
}

function storageMissing(env: Env): never {
  requireArchiveUrl(env);
  throw new Error('archive storage is not configured');
}
