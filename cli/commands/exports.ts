import { createWriteStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { MANIFEST_FORMATS } from '@/lib/export-formats.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { recordExport } from '@/server/services/console-audit.ts';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { caughtUpRead } from '@/server/db/read-source.ts';
import { startExport, type ExportManifest, type StartedExport } from '@/server/services/export.ts';
import { parseExportRequest } from '@/server/services/exports/request.ts';
import { bundleExport } from '@/server/services/integrity/bundle.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import type { Command, CommandContext, CommandResult } from '../command.ts';
import { optional, required, tenantArg } from '../args.ts';
import { UsageError } from '../usage-error.ts';

/** CLI option → the list endpoint's query parameter (and time_zone: the zone the manifest states the range in). */
const FILTER_OPTIONS: Record<string, string> = {
  'object-type': 'object_type',
  'object-id': 'object_id',
  'actor-id': 'actor_id',
  'actor-type': 'actor_type',
  'event-type': 'event_type',
  outcome: 'outcome',
  source: 'source',
  'request-id': 'request_id',
  'ip-address': 'ip_address',
  'subject-id': 'subject_id',
  from: 'from',
  to: 'to',
  context: 'context',
  q: 'q',
  about: 'about',
  'about-type': 'about_type',
  'about-keys': 'about_keys',
  order: 'order',
  'time-zone': 'time_zone',
  // stored | opened | masked (docs/export-format.md, section 8): the operator holds the master key, so may open.
  personal: 'personal',
};

export const exportCommands: Command[] = [
  {
    name: 'export',
    args: `--tenant ID|NAME --format ${MANIFEST_FORMATS.join('|')} --out FILE [--excel] [--bundle] [--object-type T --object-id ID --actor-id A --actor-type T --event-type E[,E] --outcome O --source S --request-id R --ip-address IP --subject-id S --from T --to T --context JSON --q QUERY --about ID [--about-type T --about-keys K[,K]] --order asc|desc --time-zone ZONE] [--personal stored|opened|masked]`,
    summary: 'export matching events, hot and archived months, to a file with its manifest beside it (FILE.manifest.json); --bundle: a verifiable zip',
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      excel: { type: 'boolean' },
      bundle: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(FILTER_OPTIONS).filter((o) => o !== 'from' && o !== 'to').map((o) => [o, { type: 'string' as const }])),
      from: { type: 'string' },
      to: { type: 'string' },
    },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const out = required(ctx, 'out');
      const params = new URLSearchParams();
      for (const [option, param] of Object.entries(FILTER_OPTIONS)) {
        const value = optional(ctx, option);
        if (value !== undefined) params.set(param, value);
      }
      params.set('format', optional(ctx, 'format') ?? 'csv');
      if (ctx.values.excel === true) params.set('excel', 'true');
      if (ctx.values.bundle === true) params.set('bundle', 'true');
      let request;
      try {
        request = parseExportRequest(params);
      } catch (err) {
        // A wrong option is a usage error; a filter value the API would refuse is refused the same way (exit 1).
        const field = err instanceof AuditError ? err.issues[0]?.field : undefined;
        if (field && ['format', 'excel', 'bundle', 'personal'].includes(field)) throw new UsageError(`--${field} ${err instanceof AuditError ? err.issues[0]!.message : ''}`);
        throw err;
      }
      const claims = { tenant_id: tenant.id, sub: 'cli', role: 'authenticated' as const };
      // Like the server: rows from a caught-up replica when DATABASE_READ_URL is set, the manifest and its record on the primary.
      const replica = ctx.env.DATABASE_READ_URL ? connect(ctx.env.DATABASE_READ_URL, { max: 1, prepare: ctx.env.DB_PREPARE, applicationName: 'oms-audit-cli-reads' }) : undefined;
      try {
        const reads = await caughtUpRead(ctx.sql, replica, ctx.env.DATABASE_READ_MAX_WAIT_MS);
        return await writeExport(ctx, tenant, out, request, await startExport(ctx.sql, claims, { ...request, exporter: { kind: 'cli', os_user: userInfo().username }, tenantName: tenant.name }, reads));
      } finally {
        await replica?.end({ timeout: 1 });
      }
    },
  },
];

/** Where the rows came from, for the command's text output. */
function readFromLine(manifest: ExportManifest): string {
  const from = manifest.read_from;
  if (!from) return '';
  return from.database === 'replica' ? `read from the replica (caught up with the primary at ${from.primary_lsn})` : `read from the primary: ${from.reason}`;
}

async function writeExport(ctx: CommandContext, tenant: { id: string }, out: string, request: ReturnType<typeof parseExportRequest>, started: StartedExport): Promise<CommandResult> {
  // Written beside the target and renamed at the end, so a failed export leaves no partial file under the name asked for.
  const partial = `${out}.partial`;
  if (request.bundle) {
    const bundle = bundleExport(ctx.sql, started, signer());
    try {
      await pipeline(bundle.stream, createWriteStream(partial));
      const signed = await bundle.manifest;
      const manifest = await started.done;
      await recordExport(ctx.sql, tenant.id, manifest, { ip: null, userAgent: 'oms-audit-cli' });
      if (manifest.status !== 'complete') throw new Error(manifest.error ?? 'The export did not complete');
      await rename(partial, out);
      return {
        text: `exported ${manifest.row_count} events in a verifiable bundle: ${out} (unzip it, then: node verify.mjs --fingerprint ${signed.bundle.key_id} <folder>)\n${readFromLine(manifest)}`,
        json: { file: out, manifest: signed },
      };
    } catch (err) {
      await rm(partial, { force: true });
      await started.done.then((m) => recordExport(ctx.sql, tenant.id, m, { ip: null, userAgent: 'oms-audit-cli' })).catch(() => {});
      throw err;
    }
  }
  try {
    await pipeline(started.stream, createWriteStream(partial));
  } catch (err) {
    await rm(partial, { force: true });
    await started.done.then((m) => recordExport(ctx.sql, tenant.id, m, { ip: null, userAgent: 'oms-audit-cli' })).catch(() => {});
    throw err;
  }
  const manifest = await started.done;
  await recordExport(ctx.sql, tenant.id, manifest, { ip: null, userAgent: 'oms-audit-cli' });
  if (manifest.status !== 'complete') throw new Error(manifest.error ?? 'The export did not complete');
  await rename(partial, out);
  await writeFile(`${out}.manifest.json`, JSON.stringify(manifest, null, 2) + '\n');
  return {
    text: `exported ${manifest.row_count} events to ${out} (sha256 ${manifest.sha256})\nmanifest: ${out}.manifest.json\n${readFromLine(manifest)}`,
    json: { file: out, manifest_file: `${out}.manifest.json`, manifest },
  };
}
