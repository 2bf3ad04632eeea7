/**
 * When retention records are issued:
 *
 * - archived: when a part is first verified against the database (before its
 *   month can be dropped), with exactly the seqs the read-back found intact; and
 *   for any dropped part that has none (months archived before records existed,
 *   or dropped by pg_cron), after reading it back and checking it against the
 *   ledger, so the statement is true whoever asked for it;
 * - expired: before an expired part's objects are deleted, with the seqs of its
 *   archived record and the policy that ended them; parts that had already
 *   expired when records were introduced (the migration's snapshot in
 *   oms_audit.expired_before_records) get one attested from the catalog,
 *   marked "catalog-at-upgrade" so verification reports them apart.
 */
import type { AnySql } from '@/supabase/functions/_shared/db.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { addMonths, monthStart, nextMonth, type RetentionContext } from './context.ts';
import { partsOf, type ArchivePart } from './parts.ts';
import { getPolicy } from './policy.ts';
import { findRecord, issueRecord, toRanges, type SignedRecord } from './records.ts';
import { verifyPart } from './verify.ts';

/** The part's archived record, issued now (inside `tx`) from the seqs just verified if there is none yet. */
export async function ensureArchivedRecord(tx: Parameters<typeof issueRecord>[0], part: ArchivePart, verifiedSeqs: number[]): Promise<SignedRecord> {
  const existing = await findRecord(tx, { tenantId: part.tenant_id, kind: 'archived', month: part.month, part: part.part, dataSha256: part.data_sha256 });
  if (existing) return existing;
  const seqs = [...verifiedSeqs].sort((a, b) => a - b);
  return issueRecord(tx, { tenantId: part.tenant_id, kind: 'archived', basis: 'read-back', part, seqRanges: toRanges(seqs), policy: null }, signer());
}

async function expiredBeforeRecords(sql: AnySql, part: ArchivePart): Promise<boolean> {
  const [row] = await sql`
    select 1 as ok from oms_audit.expired_before_records
    where tenant_id = ${part.tenant_id} and month = ${part.month}::date and part = ${part.part}`;
  return Boolean(row);
}

/** Seqs of the tenant's month in [min_seq, max_seq] that the ledger has and PostgreSQL does not: what an expired part took with it. */
async function absentSeqs(sql: AnySql, part: ArchivePart): Promise<number[]> {
  const rows = await sql`
    select l.seq from public.audit_ledger l
    where l.tenant_id = ${part.tenant_id} and l.seq between ${part.min_seq!} and ${part.max_seq!}
      and l.occurred_at >= ${part.month}::timestamptz and l.occurred_at < ${nextMonth(part.month)}::timestamptz
      and not exists (select 1 from public.audit_events e where e.tenant_id = l.tenant_id and e.occurred_at = l.occurred_at and e.seq = l.seq)
    order by l.seq`;
  return rows.map((r) => r.seq as number);
}

/**
 * The part's expired record, issued now if there is none: the seqs are those of
 * its archived record (or, for a part that expired before records existed, the
 * catalog's). Null when no record can be issued truthfully (the archive was
 * never proven): then the part must not be deleted.
 */
export async function ensureExpiredRecord(ctx: RetentionContext, part: ArchivePart): Promise<SignedRecord | null> {
  const where = { tenantId: part.tenant_id, month: part.month, part: part.part };
  const existing = await findRecord(ctx.sql, { ...where, kind: 'expired' });
  if (existing) return existing;
  const archived = await findRecord(ctx.sql, { ...where, kind: 'archived', dataSha256: part.data_sha256 });
  const upgrade = !archived && (await expiredBeforeRecords(ctx.sql, part));
  if (!archived && !upgrade) return null;
  const policy = await getPolicy(ctx.sql, part.tenant_id, ctx.env.RETENTION_MIN_TOTAL_YEARS);
  const ended = addMonths(monthStart(nextMonth(part.month)), policy.total_years * 12);
  const seqRanges = archived ? archived.seq_ranges : toRanges(await absentSeqs(ctx.sql, part));
  if (!seqRanges.length) return null;
  return ctx.sql.begin((tx) =>
    issueRecord(
      tx,
      {
        tenantId: part.tenant_id,
        kind: 'expired',
        basis: archived ? 'policy' : 'catalog-at-upgrade',
        part,
        seqRanges,
        policy: { hot_months: policy.hot_months, total_years: policy.total_years, retention_ended: ended.toISOString().replace(/\.\d{3}Z$/, '.000000Z') },
      },
      signer(),
    ),
  );
}

/**
 * Issues the records a deployment is missing: archived records for dropped parts
 * (after reading each back against the ledger) and catalog records for parts
 * that expired before records existed. Returns the problems met (a part whose
 * archive does not verify gets no record: verification will report its events).
 */
export async function issueMissingRecords(ctx: RetentionContext): Promise<{ issued: number; problems: string[] }> {
  let issued = 0;
  const problems: string[] = [];
  for (const part of await partsOf(ctx.sql, { states: ['dropped'] })) {
    if (await findRecord(ctx.sql, { tenantId: part.tenant_id, kind: 'archived', month: part.month, part: part.part, dataSha256: part.data_sha256 })) continue;
    const seqs: number[] = [];
    const problem = await verifyPart(ctx, part, 'ledger', (seq) => seqs.push(seq));
    if (problem) {
      problems.push(`${part.month.slice(0, 7)} tenant ${part.tenant_id} part ${part.part}: no retention record issued: ${problem}`);
      continue;
    }
    await ctx.sql.begin((tx) => ensureArchivedRecord(tx, part, seqs));
    issued++;
  }
  const snapshot = await ctx.sql`select tenant_id, month::text as month, part from oms_audit.expired_before_records order by tenant_id, month, part`;
  for (const s of snapshot) {
    const [part] = (await partsOf(ctx.sql, { tenantId: s.tenant_id as string, month: s.month as string })).filter((p) => p.part === s.part);
    if (!part || (await findRecord(ctx.sql, { tenantId: part.tenant_id, kind: 'expired', month: part.month, part: part.part }))) continue;
    if (await ensureExpiredRecord(ctx, part)) issued++;
  }
  if (issued) ctx.log(`${issued} retention record(s) issued for archives without one`);
  return { issued, problems };
}
