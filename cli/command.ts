/** What a CLI command is: its words, usage line, options, and what it does. */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';

export interface CommandContext {
  sql: Sql;
  env: Env;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  appliedMigrations: string[];
}

/** What a command that needs no database gets (e.g. `monitor`, run on a customer's machine). */
export type OfflineContext = Omit<CommandContext, 'sql' | 'appliedMigrations'>;

export interface CommandResult {
  text: string;
  json: unknown;
  /** Exit code (default 0), e.g. 1 when a verification finds a problem. */
  exitCode?: number;
}

export interface Command {
  /** The command's words, e.g. "key create". */
  name: string;
  /** Arguments for the help text, e.g. "--tenant ID|NAME --scopes S[,S]". */
  args?: string;
  /** What it does, in a few words. */
  summary: string;
  /** Options this command accepts (besides --json and --help). */
  options?: Record<string, { type: 'string' | 'boolean' }>;
  run?(ctx: CommandContext): Promise<CommandResult>;
  /** Instead of run: a command that needs no database, which is then neither opened nor migrated. */
  runOffline?(ctx: OfflineContext): Promise<CommandResult>;
}
