/**
 * Verification pass 4: events the ledger has and PostgreSQL does not. Each must
 * be accounted for by a valid signed retention record (docs/retention.md):
 *   - an expired record covering its seq: gone under the policy → expired_events;
 *   - otherwise the newest archived record covering it: the archive file it names
 *     is read back (its SHA-256 as signed) and the event found there, its hash
 *     equal to the ledger's → archived_events_checked;
 *   - otherwise it is missing, whatever the archive catalog says.
 * The records themselves are read from the anchors outside the database when
 * configured (an anchored record deleted or edited in the database still
 * counts, and the edit is reported), else from the database, and each must be
 * validly signed by a trusted key; the chain of records must be unbroken.
 * Erased records are checked too: the keys they name must be destroyed.
 */
import type { KeyObject } from 'node:crypto';
import { GENESIS_HASH } from '@/supabase/functions/_shared/checkpoint.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { checkAnchored, emptyAnchorReport, type AnchorReport } from '@/server/services/anchors/check.ts';
import { recordKind } from '@/server/services/anchors/kinds.ts';
import { addMonths, monthStart, nextMonth, retentionContext } from '@/server/services/retention/context.ts';
import { listRecords, partOfRecord, rangesCount, type SignedRecord } from '@/server/services/retention/records.ts';
import { verifyPart } from '@/server/services/retention/verify.ts';
import type { Problem } from './verify.ts';

export interface AbsentEvent {
  seq: number;
  id: string;
  /** YYYY-MM-01 of the event's occurred_at, as the ledger records it. */
  month: string;
}

export interface AbsentResult {
  archived: number;
  expired: number;
  /** Of `expired`, events whose expiry was attested from the catalog when records were introduced. */
  expired_attested_at_upgrade: number;
  records_checked: number;
  record_anchors: AnchorReport;
}

const firstSeq = (r: SignedRecord) => r.seq_ranges[0]?.[0] ?? null;

/** Why a validly signed record still cannot be relied on, or null. */
function recordFlaw(r: SignedRecord): string | null {
  let last = 0;
  for (const [a, b] of r.seq_ranges) {
    if (!(a > last && b >= a)) return 'its seq ranges are not ascending and disjoint';
    last = b;
  }
  if (rangesCount(r.seq_ranges) !== r.count) return 'its count differs from its seq ranges';
  if (r.kind === 'expired') {
    if (!r.policy) return 'it records an expiry without the policy that ended retention';
    const ended = addMonths(monthStart(nextMonth(`${r.month}-01`)), r.policy.total_years * 12);
    if (Date.parse(r.policy.retention_ended) !== ended.getTime()) return `its retention end ${r.policy.retention_ended} is not ${r.month} plus ${r.policy.total_years} years`;
    if (ended.getTime() > Date.parse(r.issued_at)) return `it expires events on ${r.issued_at.slice(0, 10)}, before their retention ended on ${r.policy.retention_ended.slice(0, 10)}`;
  }
  return null;
}

/** The tenant's records verification relies on: anchored ones (the truth when configured), else the database's, each valid. */
async function usableRecords(sql: Sql, env: Env | undefined, tenantId: string, keys: Map<string, KeyObject>, report: (p: Problem) => void) {
  const kind = recordKind(keys);
  const database = await listRecords(sql, tenantId);
  const byNumber = new Map<number, SignedRecord>();
  let anchors = emptyAnchorReport(database.at(-1)?.number ?? 0);
  const seqOf = (number: number) => {
    const r = byNumber.get(number) ?? database.find((d) => d.number === number);
    return r ? firstSeq(r) : null;
  };
  for (const r of database) {
    const flaw = kind.validate(r);
    if (flaw) report({ seq: firstSeq(r), id: null, kind: 'retention', detail: `retention record ${r.number} in the database is not valid: ${flaw}` });
    else byNumber.set(r.number, r);
  }
  if (env) {
    const check = await checkAnchored(sql, env, tenantId, kind, database);
    anchors = check.report;
    for (const [number, r] of check.anchored) byNumber.set(number, r);
    for (const f of check.findings) report({ seq: seqOf(f.number), id: null, kind: f.kind === 'anchor' ? 'retention' : 'timestamp', detail: f.detail });
  }
  const records = [...byNumber.values()].sort((a, b) => a.number - b.number);
  const usable: SignedRecord[] = [];
  records.forEach((r, i) => {
    const prev = records[i - 1];
    if (r.number !== (prev?.number ?? 0) + 1 || r.prev_hash !== (prev?.hash ?? GENESIS_HASH)) {
      report({ seq: firstSeq(r), id: null, kind: 'retention', detail: `retention record ${r.number} does not follow ${prev ? `record ${prev.number}` : 'the start of the chain'}: a record is missing or was replaced` });
    }
    const flaw = r.tenant_id === tenantId ? recordFlaw(r) : 'it belongs to another tenant';
    if (flaw) report({ seq: firstSeq(r), id: null, kind: 'retention', detail: `retention record ${r.number} cannot account for events: ${flaw}` });
    else usable.push(r);
  });
  return { usable, anchors, checked: records.length };
}

/**
 * Erased records: every subject key a signed record says was destroyed must be
 * destroyed in the database. A live one means a backup from before the
 * erasure was restored (or the key row was put back): the person's data reads
 * again until the erasure is applied once more.
 */
async function checkErasures(sql: Sql, tenantId: string, usable: SignedRecord[], report: (p: Problem) => void): Promise<void> {
  for (const r of usable) {
    if (r.kind !== 'erased' || !r.erasure) continue;
    const live = await sql`select key_id from oms_audit.subject_keys where tenant_id = ${tenantId} and key_id = any(${r.erasure.key_ids}::uuid[]) and wrapped is not null`;
    for (const k of live) {
      report({
        seq: firstSeq(r),
        id: r.erasure.erasure_event_id,
        kind: 'retention',
        detail: `retention record ${r.number} states that subject key ${k.key_id as string} was destroyed at ${r.erasure.erased_at} by ${r.erasure.erased_by}, but the database holds it live (a backup from before the erasure restored?): erase the subject again`,
      });
    }
  }
}

/** Index of the first element ≥ seq in an ascending array. */
function lowerBound(sorted: readonly AbsentEvent[], seq: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Calls fn for each absent event (index) inside the record's ranges. */
function eachCovered(sorted: readonly AbsentEvent[], r: SignedRecord, fn: (i: number) => void) {
  for (const [a, b] of r.seq_ranges) for (let i = lowerBound(sorted, a); i < sorted.length && sorted[i]!.seq <= b; i++) fn(i);
}

export async function checkAbsent(sql: Sql, tenantId: string, absentEvents: AbsentEvent[], env: Env | undefined, keys: Map<string, KeyObject>, report: (p: Problem) => void): Promise<AbsentResult> {
  const { usable, anchors, checked } = await usableRecords(sql, env, tenantId, keys, report);
  const result: AbsentResult = { archived: 0, expired: 0, expired_attested_at_upgrade: 0, records_checked: checked, record_anchors: anchors };
  await checkErasures(sql, tenantId, usable, report);
  if (!absentEvents.length) return result;
  const absent = [...absentEvents].sort((a, b) => a.seq - b.seq);
  // 0: unaccounted, 1: expired, 2: verified in its archive; archivedBy: the newest archived record covering it.
  const state = new Uint8Array(absent.length);
  const archivedBy: (SignedRecord | undefined)[] = new Array(absent.length);
  for (const r of usable.filter((r) => r.kind === 'expired')) {
    eachCovered(absent, r, (i) => {
      if (state[i]) return;
      state[i] = 1;
      result.expired++;
      if (r.basis === 'catalog-at-upgrade') result.expired_attested_at_upgrade++;
    });
  }
  const archivedRecords = usable.filter((r) => r.kind === 'archived').sort((a, b) => b.number - a.number);
  for (const r of archivedRecords) eachCovered(absent, r, (i) => (archivedBy[i] ??= r));

  const byRecord = new Map<SignedRecord, Map<number, number>>();
  absent.forEach((e, i) => {
    const r = archivedBy[i];
    if (state[i] || !r) return;
    if (!byRecord.has(r)) byRecord.set(r, new Map());
    byRecord.get(r)!.set(e.seq, i);
  });
  const context = env ? await retentionContext(sql, env, { actor: 'oms-audit-verify' }) : null;
  for (const [r, mine] of byRecord) {
    const problem = context
      ? await verifyPart(context, partOfRecord(r), 'ledger', (seq) => {
          const i = mine.get(seq);
          if (i !== undefined && !state[i]) {
            state[i] = 2;
            result.archived++;
          }
        })
      : 'no archive settings were given to read it with';
    if (problem) report({ seq: firstSeq(r), id: null, kind: 'modified', detail: `archive of ${r.month} (part ${r.part}, retention record ${r.number}): ${problem}` });
  }
  absent.forEach((e, i) => {
    if (state[i]) return;
    const record = archivedBy[i];
    report({
      seq: e.seq,
      id: e.id,
      kind: 'missing',
      detail: record
        ? `event ${e.id} (seq ${e.seq}) is absent from PostgreSQL and not intact in the archive of ${record.month} that retention record ${record.number} names`
        : `event ${e.id} (seq ${e.seq}) is absent from PostgreSQL and no signed retention record accounts for it`,
    });
  });
  return result;
}
