/**
 * oms-audit CLI. Honours DATABASE_URL / DATABASE_OWNER_URL / OMS_AUDIT_DATA_DIR
 * like the server and works while the server runs (it reuses the running
 * embedded PostgreSQL). `migrate` connects as the owner; every other command
 * as the runtime role, after migrating when it has the owner's URL (embedded,
 * or DATABASE_OWNER_URL set) and otherwise checking that nothing is pending.
 * With --json every command prints one JSON object on stdout.
 * Exit codes: 0 success, 1 failure (verify: tampering found), 2 usage error or database unreachable.
 */
import { parseArgs } from 'node:util';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError, isConnectionError } from '@/supabase/functions/_shared/errors.ts';
import { parseEnv } from '@/server/env.ts';
import { openDatabase } from '@/server/db/open.ts';
import { checkReadDatabase, DatabaseSetupError, migrateAsOwner, ownerConnection, prepareDatabase } from '@/server/db/prepare.ts';
import { sweepScratch } from '@/server/scratch.ts';
import { COMMANDS } from './commands.ts';
import type { Command, CommandContext } from './command.ts';
import { UsageError } from './usage-error.ts';

const line = (c: (typeof COMMANDS)[number]) => {
  const head = `  ${c.name}${c.args ? ` ${c.args}` : ''}`;
  return head.length < 44 ? `${head.padEnd(44)}${c.summary}` : `${head}\n${''.padEnd(44)}${c.summary}`;
};

export const USAGE = `Usage: oms-audit <command> [options]

Commands:
${COMMANDS.map(line).join('\n')}

Options:
  --json                                    print one JSON object on stdout
  -h, --help                                show this help

Environment: DATABASE_URL (external PostgreSQL, as oms_audit_runtime) and DATABASE_OWNER_URL
(as oms_audit_owner: migrate), or OMS_AUDIT_DATA_DIR (embedded, default .data).`;

export async function main(argv: string[], io: { out: (s: string) => void; err: (s: string) => void } = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') }): Promise<number> {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        ...(Object.assign({}, ...COMMANDS.map((c) => c.options ?? {})) as Record<string, { type: 'string' | 'boolean' }>),
      },
    }) as typeof parsed;
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const name = positionals.slice(0, 2).join(' ');
  const command = COMMANDS.find((c) => c.name === name) ?? COMMANDS.find((c) => c.name === positionals[0]);
  if (values.help || !command) {
    // `oms-audit help` is what people type when `--help` is taken by a wrapper (npx, npm run).
    if (values.help || positionals.length === 0 || (positionals.length === 1 && positionals[0] === 'help')) {
      io.out(USAGE);
      return 0;
    }
    io.err(`Unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
    return 2;
  }

  let sql: Sql | undefined;
  let stopDatabase = async () => {};
  const json = values.json === true;
  if (command.runOffline) return runOffline(command, values, positionals, json, io);
  try {
    const env = parseEnv(process.env);
    await sweepScratch(env);
    const opened = await openDatabase(env, () => {});
    if (opened.embedded?.owned) stopDatabase = async () => void (await opened.embedded!.stop());
    let applied: string[];
    if (command.name === 'migrate') {
      sql = ownerConnection(opened, env);
      applied = await migrateAsOwner(sql, opened);
    } else {
      sql = connect(opened.runtimeUrl, { max: 4, prepare: env.DB_PREPARE, applicationName: 'oms-audit-cli' });
      applied = await prepareDatabase(opened, sql, env, (line) => io.err(`oms-audit: ${line}`));
      await checkReadDatabase(env, (line) => io.err(`oms-audit: ${line}`));
    }
    const ctx: CommandContext = { sql, env, values, positionals, appliedMigrations: applied };
    const result = await command.run!(ctx);
    io.out(json ? JSON.stringify(result.json) : result.text);
    return result.exitCode ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    const message = err instanceof AuditError || err instanceof Error ? err.message : String(err);
    // The database could not be reached: an environment problem (2), not a finding (1).
    const unreachable = isConnectionError(err) || err instanceof DatabaseSetupError || /Embedded PostgreSQL did not start|ECONNREFUSED/.test(message);
    if (json) io.out(JSON.stringify({ error: { code: err instanceof AuditError ? err.code : unreachable ? 'unavailable' : 'error', message } }));
    io.err(`oms-audit: ${message}`);
    return unreachable ? 2 : 1;
  } finally {
    await sql?.end({ timeout: 5 });
    await stopDatabase();
  }
}

/** A command that needs no database (e.g. `monitor`, on a customer's machine): nothing is opened or migrated. */
async function runOffline(command: Command, values: Record<string, string | boolean | undefined>, positionals: string[], json: boolean, io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  try {
    const result = await command.runOffline!({ env: parseEnv(process.env), values, positionals });
    io.out(json ? JSON.stringify(result.json) : result.text);
    return result.exitCode ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    const message = (err as Error).message ?? String(err);
    if (json) io.out(JSON.stringify({ error: { code: 'error', message } }));
    io.err(`oms-audit: ${message}`);
    return 1;
  }
}
