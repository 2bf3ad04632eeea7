import { readFileSync } from 'node:fs';
import { keyIdOf, publicKeyFromPem } from '@/supabase/functions/_shared/checkpoint.ts';
import { parseTimeBound } from '@/supabase/functions/_shared/timestamps.ts';
import { sealAll } from '@/server/services/integrity/checkpoints.ts';
import { signer, trustedKeys } from '@/server/services/integrity/signing-key.ts';
import { verifyTenant, type VerificationReport } from '@/server/services/integrity/verify.ts';
import { anchorEverything } from '@/server/services/anchors/sources.ts';
import type { Command, CommandContext } from '../command.ts';
import { optional, tenantArg } from '../args.ts';
import { UsageError } from '../usage-error.ts';

function bound(ctx: CommandContext, option: 'from' | 'to'): string | undefined {
  const raw = optional(ctx, option);
  if (raw === undefined) return undefined;
  const parsed = parseTimeBound(raw, option === 'to');
  if (!parsed.ok) throw new UsageError(`--${option} ${parsed.message.replace('must be', 'must be a date or')}`);
  return parsed.value.iso;
}

/** Which kind of verification ran, and what it covered (and, incremental, what it built on). */
export function kindLine(r: VerificationReport): string {
  const cp = r.scope.checkpoint_to ? `checkpoints ${r.scope.checkpoint_from}–${r.scope.checkpoint_to}` : 'no new checkpoints';
  const seqs = r.scope.seq_to >= r.scope.seq_from ? `seq ${r.scope.seq_from}–${r.scope.seq_to}` : 'no events';
  if (r.kind === 'incremental' && r.base) {
    return `  incremental: ${cp}, ${seqs}; checkpoints 1–${r.base.verified_through} were verified at ${r.base.verified_at} (resting on the full verification of ${r.base.full_verified_at}) and are not checked again (--full checks everything)`;
  }
  if (r.kind === 'range') return `  range: ${cp}, ${seqs} (sealed ${r.scope.from ?? 'from the start'} to ${r.scope.to ?? 'now'})`;
  return `  full: ${cp}, ${seqs}`;
}

/** What the verification covered besides the database: archives, expiries, anchors, time stamps. */
function coverageLines(r: VerificationReport): string[] {
  const a = r.anchors.checkpoints;
  return [
    ...(r.archived_events_checked ? [`  ${r.archived_events_checked} events read back from archives`] : []),
    ...(r.expired_events
      ? [`  ${r.expired_events} events expired under signed retention records${r.expired_events_attested_at_upgrade ? ` (${r.expired_events_attested_at_upgrade} attested from the catalog at upgrade)` : ''}`]
      : []),
    a.configured
      ? `  anchors at ${a.location}: ${a.anchors_checked} checkpoints compared (anchored head ${a.anchored_head ?? 'none'}, database head ${a.database_head}), ${a.timestamps_checked} time-stamp tokens verified` +
        (a.timestamps_unchecked ? `, ${a.timestamps_unchecked} NOT checked (no ANCHOR_TSA_CA_FILE)` : '') +
        (a.pending ? `, ${a.pending} within the anchoring grace period` : '')
      : '  NOT CHECKED against anchors: no anchor location is configured (ARCHIVE_URL or ANCHOR_URL); a cut-off tail would not be detected',
  ];
}

export const integrityCommands: Command[] = [
  {
    name: 'seal',
    args: '[--tenant ID|NAME]',
    summary: 'close a signed checkpoint now over everything committed, and anchor it outside the database',
    options: { tenant: { type: 'string' } },
    async run(ctx) {
      const tenants = ctx.values.tenant ? [(await tenantArg(ctx)).id] : undefined;
      const result = await sealAll(ctx.sql, signer(), tenants);
      const anchors = await anchorEverything(ctx.sql, ctx.env, tenants, result.checkpoints);
      const text = [
        `${result.checkpoints.length} checkpoint(s) sealed for ${result.tenants} tenant(s)`,
        ...result.checkpoints.map((c) => `  ${c.tenant_id} #${c.number}: seq ${c.seq_from}–${c.seq_to} root ${c.merkle_root.slice(0, 16)}…`),
        ...result.failures.map((f) => `  failed ${f.tenant_id}: ${f.error}`),
        anchors.configured
          ? `${anchors.anchored} anchored, ${anchors.timestamped} time-stamped outside the database`
          : 'NOT ANCHORED: no anchor location (set ARCHIVE_URL or ANCHOR_URL): the checkpoints exist only in the database',
        ...anchors.failures.map((f) => `  anchoring failed, ${f.kind} ${f.number} of ${f.tenant_id}: ${f.error}`),
      ].join('\n');
      const failed = result.failures.length + anchors.failures.length > 0;
      return { text, json: { ...result, anchors }, exitCode: failed ? 1 : 0 };
    },
  },
  {
    name: 'verify',
    args: '--tenant ID|NAME [--full] [--from T] [--to T] [--public-key FILE]',
    summary: 'recompute hashes and chains of what was sealed since the last verification (--full: everything); exit 0 intact, 1 tampering found',
    options: { tenant: { type: 'string' }, full: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' }, 'public-key': { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      let keys = trustedKeys();
      const keyFile = optional(ctx, 'public-key');
      if (keyFile) {
        // Verify against a key obtained out of band only.
        const key = publicKeyFromPem(readFileSync(keyFile, 'utf8'));
        keys = new Map([[keyIdOf(key), key]]);
      }
      const mode = ctx.values.full ? 'full' : 'incremental';
      const report = await verifyTenant(ctx.sql, tenant.id, { keys, mode, from: bound(ctx, 'from'), to: bound(ctx, 'to'), verifiedBy: 'cli', env: ctx.env });
      const lines = [
        `${report.ok ? 'intact' : 'TAMPERING FOUND'}: ${report.events_checked} events and ${report.checkpoints_checked} checkpoints checked in ${report.duration_ms} ms` +
          (report.uncovered_events ? `; ${report.uncovered_events} events not yet sealed` : ''),
        kindLine(report),
        ...coverageLines(report),
        ...report.problems.map((p) => `  ${p.kind.padEnd(10)} ${p.checkpoint !== undefined ? `checkpoint ${p.checkpoint} ` : ''}${p.seq !== null ? `seq ${p.seq}` : ''} ${p.detail}`),
        ...(report.problem_count > report.problems.length ? [`  … and ${report.problem_count - report.problems.length} more`] : []),
      ];
      const { ok, kind, base, events_checked, checkpoints_checked, problems, problem_count, uncovered_events, scope, duration_ms, archived_events_checked, expired_events, expired_events_attested_at_upgrade, anchors } = report;
      return {
        text: lines.join('\n'),
        json: { ok, kind, base, events_checked, checkpoints_checked, problems, problem_count, uncovered_events, scope, duration_ms, archived_events_checked, expired_events, expired_events_attested_at_upgrade, anchors },
        exitCode: ok ? 0 : 1,
      };
    },
  },
];
