import { writeFile } from 'node:fs/promises';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { parseTimeBound } from '@/supabase/functions/_shared/timestamps.ts';
import { archiveMonth, reverifyArchives } from '@/server/services/retention/archive.ts';
import { parseMonth, retentionContext } from '@/server/services/retention/context.ts';
import { withRetentionLock } from '@/server/services/retention/parts.ts';
import { getPolicy, listHolds, placeHold, releaseHold, setPolicy, type LegalHold } from '@/server/services/retention/policy.ts';
import { complianceCsv, complianceReport } from '@/server/services/retention/report.ts';
import { releaseRestore, restoreMonth } from '@/server/services/retention/restore.ts';
import { runRetention } from '@/server/services/retention/run.ts';
import type { Command, CommandContext } from '../command.ts';
import { optional, required, tenantArg, UUID } from '../args.ts';
import { UsageError } from '../usage-error.ts';

const ACTOR = 'cli';

const context = (ctx: CommandContext) => retentionContext(ctx.sql, ctx.env, { actor: ACTOR, log: (line) => process.stderr.write(`${line}\n`) });

function monthArg(ctx: CommandContext): string {
  const month = parseMonth(required(ctx, 'month'));
  if (!month) throw new UsageError('--month must be a month, e.g. 2025-01');
  return month;
}

function countArg(ctx: CommandContext, option: string): number | undefined {
  const raw = optional(ctx, option);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${option} must be a positive whole number`);
  return n;
}

function timeArg(ctx: CommandContext, option: 'from' | 'to'): string | undefined {
  const raw = optional(ctx, option);
  if (raw === undefined) return undefined;
  const parsed = parseTimeBound(raw, option === 'to');
  if (!parsed.ok) throw new UsageError(`--${option} ${parsed.message}`);
  return parsed.value.iso;
}

const holdLine = (h: LegalHold) =>
  `${h.id}  ${h.active ? 'active' : `released ${h.released_at}`}  ${h.object_type ? `${h.object_type} ${h.object_id ?? '*'}` : 'whole tenant'}  ${h.from ?? '…'} – ${h.to ?? '…'}  "${h.reason}"`;

export const retentionCommands: Command[] = [
  {
    name: 'retention run',
    args: '[--dry-run]',
    summary: 'archive, verify and drop months past the hot window; expire archives past retention',
    options: { 'dry-run': { type: 'boolean' } },
    async run(ctx) {
      const result = await runRetention(await context(ctx), { dryRun: ctx.values['dry-run'] === true });
      const lines = [
        ...result.plan.archive.map((m) => `${result.dry_run ? 'would archive' : 'archive'} ${m.month.slice(0, 7)}: ${m.tenants.reduce((n, t) => n + t.events, 0)} events of ${m.tenants.length} tenant(s)`),
        ...result.archived.map((m) => `${m.month.slice(0, 7)}: ${m.outcome}${m.rows_dropped ? ` (${m.rows_dropped} events now only in the archive)` : ''}`),
        ...result.plan.expire.map((e) => `${e.action === 'expire' ? (result.dry_run ? 'would expire' : 'expired') : `kept (${e.action}${e.holds.length ? ` by ${e.holds.join(', ')}` : ''})`} ${e.month.slice(0, 7)} of tenant ${e.tenant_id} part ${e.part} (${e.rows} events)`),
        ...result.problems.map((p) => `problem: ${p}`),
      ];
      return { text: lines.join('\n') || 'nothing to do', json: result, exitCode: result.problems.length ? 1 : 0 };
    },
  },
  {
    name: 'retention policy',
    args: '--tenant ID|NAME [--hot-months N] [--total-years N]',
    summary: "show or change a tenant's retention policy",
    options: { tenant: { type: 'string' }, 'hot-months': { type: 'string' }, 'total-years': { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const hot = countArg(ctx, 'hot-months');
      const total = countArg(ctx, 'total-years');
      const floor = ctx.env.RETENTION_MIN_TOTAL_YEARS;
      const policy =
        hot === undefined && total === undefined
          ? await getPolicy(ctx.sql, tenant.id, floor)
          : await setPolicy(ctx.sql, { tenantId: tenant.id, change: { hot_months: hot, total_years: total }, actor: ACTOR, minTotalYears: floor });
      return {
        text: `${tenant.name}: ${policy.hot_months} months hot, ${policy.total_years} years in total${policy.is_default ? ' (defaults)' : ''}; operator minimum ${policy.min_total_years} years`,
        json: policy,
      };
    },
  },
  {
    name: 'archive',
    args: '--month YYYY-MM [--keep]',
    summary: 'archive and verify one month now, then drop it from PostgreSQL (--keep: do not drop)',
    options: { month: { type: 'string' }, keep: { type: 'boolean' } },
    async run(ctx) {
      const month = monthArg(ctx);
      const retention = await context(ctx);
      const archivable = (await ctx.sql`select m::text as m from oms_audit.archivable_months() as m`).map((r) => r.m as string);
      const [partition] = await ctx.sql`select to_regclass(${`oms_audit.audit_events_${month.slice(0, 4)}_${month.slice(5, 7)}`}) is not null as ok`;
      if (partition!.ok && !archivable.includes(month)) {
        throw new AuditError('invalid_request', `${month.slice(0, 7)} is still inside the hot window of a tenant with events in it; nothing was archived`);
      }
      const result = await withRetentionLock(ctx.sql, { wait: false }, () => archiveMonth(retention, month, { drop: ctx.values.keep !== true }));
      const text = [
        `${month.slice(0, 7)}: ${result.outcome}`,
        ...result.tenants.map((t) => `  tenant ${t.tenant_id} part ${t.part}: ${t.rows} events, ${t.state}${t.problem ? ` — ${t.problem}` : ''}`),
      ].join('\n');
      return { text, json: result, exitCode: result.outcome === 'failed' ? 1 : 0 };
    },
  },
  {
    name: 'archive verify',
    args: '[--tenant ID|NAME] [--month YYYY-MM]',
    summary: 'read archived months back from storage and check them against the ledger',
    options: { tenant: { type: 'string' }, month: { type: 'string' } },
    async run(ctx) {
      const tenantId = optional(ctx, 'tenant') ? (await tenantArg(ctx)).id : undefined;
      const month = optional(ctx, 'month') ? monthArg(ctx) : undefined;
      const results = await reverifyArchives(await context(ctx), { tenantId, month });
      const bad = results.filter((r) => !r.ok);
      const text = results.map((r) => `${r.month} tenant ${r.tenant_id} part ${r.part}: ${r.ok ? 'verified' : `FAILED — ${r.problem}`}`).join('\n') || 'no archived months';
      return { text, json: { ok: bad.length === 0, parts: results }, exitCode: bad.length ? 1 : 0 };
    },
  },
  {
    name: 'restore',
    args: '--tenant ID|NAME --month YYYY-MM [--reason TEXT]',
    summary: "load an archived month back into PostgreSQL for an investigation",
    options: { tenant: { type: 'string' }, month: { type: 'string' }, reason: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const restore = await restoreMonth(await context(ctx), { tenantId: tenant.id, month: monthArg(ctx), reason: optional(ctx, 'reason') });
      return { text: `restored ${restore.month.slice(0, 7)} of ${tenant.name}: ${restore.row_count} events (restore ${restore.id})`, json: restore };
    },
  },
  {
    name: 'restore release',
    args: '--tenant ID|NAME --month YYYY-MM',
    summary: 'drop the restored copy of a month (the archive stays)',
    options: { tenant: { type: 'string' }, month: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const month = monthArg(ctx);
      const released = await releaseRestore(await context(ctx), { tenantId: tenant.id, month });
      return { text: released ? `released the restore of ${month.slice(0, 7)}` : `${month.slice(0, 7)} was not restored`, json: { released } };
    },
  },
  {
    name: 'hold add',
    args: '--tenant ID|NAME --reason TEXT [--object-type T --object-id ID] [--from DATE] [--to DATE]',
    summary: 'place a legal hold: nothing in scope is deleted while it lasts',
    options: { tenant: { type: 'string' }, reason: { type: 'string' }, 'object-type': { type: 'string' }, 'object-id': { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const hold = await placeHold(ctx.sql, {
        tenantId: tenant.id,
        reason: required(ctx, 'reason'),
        objectType: optional(ctx, 'object-type')?.toUpperCase(),
        objectId: optional(ctx, 'object-id'),
        from: timeArg(ctx, 'from'),
        to: timeArg(ctx, 'to'),
        actor: ACTOR,
      });
      return { text: `legal hold ${hold.id} placed on ${tenant.name}`, json: hold };
    },
  },
  {
    name: 'hold release',
    args: '--id HOLD_ID --reason TEXT',
    summary: 'release a legal hold (the reason is recorded)',
    options: { id: { type: 'string' }, reason: { type: 'string' } },
    async run(ctx) {
      const id = required(ctx, 'id');
      if (!UUID.test(id)) throw new AuditError('not_found', `No legal hold ${id}`);
      const [row] = await ctx.sql`select tenant_id from oms_audit.legal_holds where id = ${id.toLowerCase()}`;
      if (!row) throw new AuditError('not_found', `No legal hold ${id}`);
      const hold = await releaseHold(ctx.sql, { tenantId: row.tenant_id as string, id: id.toLowerCase(), reason: required(ctx, 'reason'), actor: ACTOR });
      return { text: `legal hold ${hold.id} released at ${hold.released_at}`, json: hold };
    },
  },
  {
    name: 'hold list',
    args: '--tenant ID|NAME [--all]',
    summary: "list a tenant's legal holds (--all: released ones too)",
    options: { tenant: { type: 'string' }, all: { type: 'boolean' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const holds = await listHolds(ctx.sql, tenant.id, { includeReleased: ctx.values.all === true });
      return { text: holds.map(holdLine).join('\n') || 'no legal holds', json: { holds } };
    },
  },
  {
    name: 'report compliance',
    args: '[--tenant ID|NAME] [--format json|csv] [--out FILE]',
    summary: 'per tenant and month: events hot and archived, archive hashes and verification, holds, seq gaps',
    options: { tenant: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } },
    async run(ctx) {
      const format = optional(ctx, 'format') ?? (ctx.values.json ? 'json' : 'csv');
      if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be csv or json');
      const tenantId = optional(ctx, 'tenant') ? (await tenantArg(ctx)).id : undefined;
      const report = await complianceReport(ctx.sql, { tenantId, minTotalYears: ctx.env.RETENTION_MIN_TOTAL_YEARS });
      const body = format === 'csv' ? complianceCsv(report) : JSON.stringify(report, null, 2) + '\n';
      const out = optional(ctx, 'out');
      if (out) await writeFile(out, body);
      const problems = report.tenants.flatMap((t) => [...(t.seq.gaps ? [`tenant ${t.tenant_id}: ${t.seq.gaps} seq gaps`] : []), ...t.months.filter((m) => m.events_unaccounted).map((m) => `tenant ${t.tenant_id} ${m.month}: ${m.events_unaccounted} events unaccounted`)]);
      return { text: out ? `wrote ${out}${problems.length ? `\n${problems.join('\n')}` : ''}` : body.trimEnd(), json: report, exitCode: problems.length ? 1 : 0 };
    },
  },
];
