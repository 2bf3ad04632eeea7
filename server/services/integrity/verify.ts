/**
 * Verification: recomputes what the checkpoints promise and reports every way
 * the stored trail departs from it.
 *
 *   1. the checkpoint chain: numbers and seq ranges consecutive, each body hashing
 *      to its recorded hash and linking to the previous one, each signature valid
 *      for a trusted key                                  → checkpoint, signature
 *   2. the ledger, in seq order: no gaps, and the Merkle root of each checkpoint's
 *      event hashes equals the signed root                → missing, modified
 *   3. the events against the ledger (one pass, any order): every ledger seq has
 *      its event, every event its ledger seq and id, and each event's recomputed
 *      hash equals the ledger's                            → missing, inserted,
 *                                                            reordered, modified
 *   4. events absent from PostgreSQL: each must be accounted for by a signed
 *      retention record — expired under the policy, or archived, in which case
 *      it is read back from the archive the record names and hashed against
 *      the ledger (absent.ts)                             → missing, modified, retention
 *   5. the anchors outside the database (with an anchor location configured):
 *      every anchored checkpoint present and equal in the database, the
 *      database's head not behind the anchored head, every checkpoint older
 *      than the grace period anchored, time-stamp tokens valid → anchor, timestamp
 */
import type { KeyObject } from 'node:crypto';
import { checkpointHash, GENESIS_HASH, signatureValid, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { connectionUrl, type Sql } from '@/supabase/functions/_shared/db.ts';
import { eventHash, isHashVersion, type HashableEvent } from '@/supabase/functions/_shared/event-hash.ts';
import { toHex } from '@/supabase/functions/_shared/merkle.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { binaryCopyRows, decodeInet, decodeInt2, decodeInt8, decodeJsonbText, decodeText, decodeTimestamptz, decodeUuid } from '@/server/db/copy-binary.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import type { Env } from '@/server/env.ts';
import { checkAnchored, emptyAnchorReport, type AnchorReport } from '@/server/services/anchors/check.ts';
import { checkpointKind } from '@/server/services/anchors/kinds.ts';
import { checkAbsent, type AbsentEvent } from './absent.ts';
import { listCheckpoints } from './checkpoints.ts';
import { RootBuilder } from './root-builder.ts';

export const PROBLEM_KINDS = ['modified', 'missing', 'inserted', 'reordered', 'checkpoint', 'signature', 'anchor', 'timestamp', 'retention'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface Problem {
  seq: number | null;
  id: string | null;
  kind: ProblemKind;
  detail: string;
  /** The checkpoint concerned, where there is one. */
  checkpoint?: number;
}

export interface VerificationReport {
  ok: boolean;
  tenant_id: string;
  events_checked: number;
  /** Of events_checked, those read back from archives of months no longer in PostgreSQL. */
  archived_events_checked: number;
  /** Events gone under the retention policy, each accounted for by a signed expiry record. */
  expired_events: number;
  /** Of expired_events, those that had expired before retention records existed (attested from the catalog at upgrade). */
  expired_events_attested_at_upgrade: number;
  /** What was checked outside the database: anchored checkpoints and retention records, time-stamp tokens. */
  anchors: { checkpoints: AnchorReport; retention_records: AnchorReport };
  checkpoints_checked: number;
  /** Committed events not yet under a checkpoint (sealed within seconds normally). */
  uncovered_events: number;
  problem_count: number;
  /** Sorted by seq, the first problem first; at most `maxProblems`. */
  problems: Problem[];
  started_at: string;
  duration_ms: number;
  scope: { from?: string; to?: string; seq_from: number; seq_to: number };
}

export interface VerifyOptions {
  /** Keys whose signatures are accepted, by key id. */
  keys: Map<string, KeyObject>;
  /** Only checkpoints sealed in [from, to); events after the last checkpoint are included when `to` is open. */
  from?: string;
  to?: string;
  maxProblems?: number;
  /** Record the result for the console (default true). */
  record?: boolean;
  verifiedBy?: string;
  /** Settings to read archives and anchors with; without them, archived months are reported unreadable and anchors are not checked. */
  env?: Env;
  /** "Now" for the anchoring grace period (tests). */
  now?: Date;
}

class Problems {
  readonly list: Problem[] = [];
  count = 0;
  constructor(private readonly max: number) {}
  add(p: Problem) {
    this.count++;
    this.list.push(p);
    // Keep the earliest by seq; trim now and then so memory stays bounded.
    if (this.list.length > this.max * 4) this.trim();
  }
  trim() {
    this.list.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
    this.list.length = Math.min(this.list.length, this.max);
  }
}

function checkChain(all: SignedCheckpoint[], keys: Map<string, KeyObject>, problems: Problems) {
  let previous: SignedCheckpoint | null = null;
  for (const c of all) {
    const expectNumber = (previous?.number ?? 0) + 1;
    const expectFrom = (previous?.seq_to ?? 0) + 1;
    if (c.number !== expectNumber) {
      problems.add({ seq: expectFrom, id: null, kind: 'checkpoint', checkpoint: expectNumber, detail: `checkpoint ${expectNumber} is missing (the next one stored is ${c.number})` });
    } else if (c.seq_from !== expectFrom) {
      problems.add({ seq: expectFrom, id: null, kind: 'checkpoint', checkpoint: c.number, detail: `checkpoint ${c.number} starts at seq ${c.seq_from}, expected ${expectFrom}` });
    }
    if (c.prev_hash !== (previous ? previous.hash : GENESIS_HASH)) {
      problems.add({ seq: c.seq_from, id: null, kind: 'checkpoint', checkpoint: c.number, detail: `checkpoint ${c.number} does not link to the checkpoint before it (prev_hash differs)` });
    }
    if (checkpointHash(c) !== c.hash) {
      problems.add({ seq: c.seq_from, id: null, kind: 'checkpoint', checkpoint: c.number, detail: `checkpoint ${c.number} was modified: its fields no longer hash to its recorded hash` });
    }
    const key = keys.get(c.key_id);
    if (!key) {
      problems.add({ seq: c.seq_from, id: null, kind: 'signature', checkpoint: c.number, detail: `checkpoint ${c.number} is signed by key ${c.key_id.slice(0, 16)}…, which is not trusted` });
    } else if (!signatureValid(c, key)) {
      problems.add({ seq: c.seq_from, id: null, kind: 'signature', checkpoint: c.number, detail: `checkpoint ${c.number} has an invalid signature` });
    }
    previous = c;
  }
}

/** Column of the ledger's occurred_at in checkEvents' COPY: after the ledger's seq, id, hash and EVENT_FIELDS. */
const LEDGER_OCCURRED_AT = 3 + EVENT_FIELDS.length;

/** COPY takes no parameters: only a UUID and whole numbers are ever inlined. */
function inline(tenantId: string, ...numbers: number[]): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tenantId) || !numbers.every(Number.isSafeInteger)) {
    throw new Error('invalid verification scope');
  }
}

/** Pass 2: the ledger in seq order against the checkpoints' Merkle roots. */
async function checkLedger(url: string, tenantId: string, lo: number, hi: number, checkpoints: SignedCheckpoint[], problems: Problems) {
  let index = 0;
  let builder = new RootBuilder();
  let expected = lo;
  const close = (c: SignedCheckpoint) => {
    if (builder.count === 0 || toHex(builder.root()) !== c.merkle_root) {
      problems.add({
        seq: c.seq_from,
        id: null,
        kind: 'modified',
        checkpoint: c.number,
        detail: `events seq ${c.seq_from}–${c.seq_to} do not match the signed Merkle root of checkpoint ${c.number}: an event hash in the ledger was changed, added, removed or moved`,
      });
    }
    builder = new RootBuilder();
  };
  inline(tenantId, lo, hi);
  const stream = await copyOut(url, `copy (select seq, event_hash from public.audit_ledger where tenant_id = '${tenantId}' and seq between ${lo} and ${hi} order by seq) to stdout (format binary)`);
  for await (const rows of binaryCopyRows(stream)) {
    for (const row of rows) {
      const seq = decodeInt8(row[0]!);
      if (seq > expected) {
        problems.add({ seq: expected, id: null, kind: 'missing', detail: seq - expected === 1 ? `seq ${expected} is missing from the ledger` : `seq ${expected}–${seq - 1} are missing from the ledger` });
      }
      expected = seq + 1;
      while (index < checkpoints.length && seq > checkpoints[index]!.seq_to) close(checkpoints[index++]!);
      if (index < checkpoints.length && seq >= checkpoints[index]!.seq_from) builder.push(row[1]!);
    }
  }
  while (index < checkpoints.length) close(checkpoints[index++]!);
  if (expected <= hi) problems.add({ seq: expected, id: null, kind: 'missing', detail: `seq ${expected}–${hi} are missing from the ledger` });
}

/**
 * Pass 3: events against the ledger. With `openEnded`, events claiming a seq
 * beyond the ledger's last are included (and reported). Returns events checked.
 */

async function checkEvents(
  sql: Sql,
  url: string,
  tenantId: string,
  lo: number,
  hi: number,
  openEnded: boolean,
  problems: Problems,
  absent: AbsentEvent[],
): Promise<number> {
  const seen = new Uint8Array(Math.max(0, hi - lo + 1));
  const misplaced: { seq: number; id: string; ledgerId: string | null }[] = [];
  let checked = 0;
  inline(tenantId, lo, hi);
  const columns = EVENT_FIELDS.map((f) => `e.${f}`).join(', ');
  const eventRange = openEnded ? `seq >= ${lo}` : `seq between ${lo} and ${hi}`;
  {
    const stream = await copyOut(
      url,
      `copy (
        select l.seq, l.id, l.event_hash, ${columns}, l.occurred_at
        from (select seq, id, event_hash, occurred_at from public.audit_ledger where tenant_id = '${tenantId}' and seq between ${lo} and ${hi}) l
        full join (select * from public.audit_events where tenant_id = '${tenantId}' and ${eventRange}) e on e.seq = l.seq
      ) to stdout (format binary)`,
      // One hash join over the tenant's rows; memory for it rather than temporary files.
      { setup: [{ text: "set local work_mem = '256MB'" }] },
    );
    for await (const rows of binaryCopyRows(stream)) {
      for (const f of rows) {
        // f: ledger seq, ledger id, ledger hash, then EVENT_FIELDS in order.
        const ledgerSeq = f[0] ? decodeInt8(f[0]) : null;
        const ledgerId = f[1] ? decodeUuid(f[1]) : null;
        if (!f[3]) {
          // Not in PostgreSQL: its month may be archived (checked in pass 4).
          absent.push({ seq: ledgerSeq!, id: ledgerId!, month: `${decodeTimestamptz(f[LEDGER_OCCURRED_AT]!).slice(0, 7)}-01` });
          continue;
        }
        checked++;
        const id = decodeUuid(f[3]!);
        const seq = decodeInt8(f[5]!);
        if (ledgerSeq === null || id !== ledgerId) {
          misplaced.push({ seq, id, ledgerId });
          continue;
        }
        // The same event stored twice under its seq (a copy with another occurred_at).
        if (seen[seq - lo]) {
          problems.add({ seq, id, kind: 'inserted', detail: `event ${id} is stored twice at seq ${seq}` });
          continue;
        }
        seen[seq - lo] = 1;
        const contextJson = canonicalJson(JSON.parse(decodeJsonbText(f[21]!)));
        const event: HashableEvent = {
          id,
          tenant_id: decodeUuid(f[4]!),
          occurred_at: decodeTimestamptz(f[6]!),
          received_at: decodeTimestamptz(f[7]!),
          actor_type: decodeText(f[8]!),
          actor_id: decodeText(f[9]!),
          object_type: decodeText(f[10]!),
          object_id: decodeText(f[11]!),
          event_type: decodeText(f[12]!),
          outcome: decodeText(f[13]!),
          source: f[14] ? decodeText(f[14]) : null,
          request_id: f[15] ? decodeText(f[15]) : null,
          ip_address: f[16] ? decodeInet(f[16]) : null,
          user_agent: f[17] ? decodeText(f[17]) : null,
          device_fingerprint: f[18] ? decodeText(f[18]) : null,
          observed_ip: f[19] ? decodeInet(f[19]) : null,
          observed_user_agent: f[20] ? decodeText(f[20]) : null,
          context: null,
          schema_version: decodeInt2(f[22]!),
          written_by: f[23] ? decodeText(f[23]) : null,
          personal: f[24] ? JSON.parse(decodeJsonbText(f[24])) : null,
        };
        if (!isHashVersion(event.schema_version)) {
          problems.add({ seq, id, kind: 'modified', detail: `event ${id} (seq ${seq}) claims schema version ${event.schema_version}, which no event was written under` });
        } else if (eventHash(event, contextJson) !== f[2]!.toString('hex')) {
          problems.add({ seq, id, kind: 'modified', detail: `event ${id} (seq ${seq}) was changed after it was written: its fields no longer hash to the recorded hash` });
        }
      }
    }
  }
  if (misplaced.length) {
    const ids = [...new Set(misplaced.map((m) => m.id))];
    const rows = await sql`select id, seq from public.audit_ledger where tenant_id = ${tenantId} and id = any(${ids}::uuid[])`;
    const ledgerSeq = new Map(rows.map((r) => [r.id as string, r.seq as number]));
    for (const m of misplaced) {
      const at = ledgerSeq.get(m.id);
      if (at !== undefined && at !== m.seq) {
        problems.add({ seq: m.seq, id: m.id, kind: 'reordered', detail: `event ${m.id} is stored at seq ${m.seq}, but the ledger places it at seq ${at}` });
      } else {
        problems.add({
          seq: m.seq,
          id: m.id,
          kind: 'inserted',
          detail: m.ledgerId ? `event ${m.id} claims seq ${m.seq}, which belongs to event ${m.ledgerId}` : `event ${m.id} claims seq ${m.seq}, which the ledger does not have`,
        });
      }
    }
  }
  return checked;
}

export async function verifyTenant(sql: Sql, tenantId: string, options: VerifyOptions): Promise<VerificationReport> {
  const started = performance.now();
  const startedAt = nowTimestamp().iso;
  const problems = new Problems(options.maxProblems ?? 100);

  const all = await listCheckpoints(sql, tenantId);
  checkChain(all, options.keys, problems);
  let checkpointAnchors = emptyAnchorReport(all.at(-1)?.number ?? 0);
  if (options.env) {
    const anchored = await checkAnchored(sql, options.env, tenantId, checkpointKind(options.keys), all, options.now);
    checkpointAnchors = anchored.report;
    for (const f of anchored.findings) {
      const c = all.find((x) => x.number === f.number) ?? anchored.anchored.get(f.number);
      problems.add({ seq: c?.seq_from ?? null, id: null, kind: f.kind, checkpoint: f.number, detail: f.detail });
    }
  }

  const inScope = all.filter((c) => (!options.from || c.sealed_at >= options.from) && (!options.to || c.sealed_at < options.to));
  const [head] = await sql`select coalesce(last_seq, 0)::bigint as last_seq from oms_audit.tenant_sequences where tenant_id = ${tenantId}`;
  const lastSeq = (head?.last_seq as number | undefined) ?? 0;
  const lastSealed = all.length ? all[all.length - 1]!.seq_to : 0;
  const lo = inScope.length ? inScope[0]!.seq_from : options.to ? 1 : lastSealed + 1;
  const hi = options.to ? (inScope.length ? inScope[inScope.length - 1]!.seq_to : 0) : lastSeq;

  let checked = 0;
  const absent: AbsentEvent[] = [];
  if (hi >= lo) {
    const url = connectionUrl(sql);
    await checkLedger(url, tenantId, lo, hi, inScope, problems);
    checked = await checkEvents(sql, url, tenantId, lo, hi, !options.to, problems, absent);
  }
  const fromArchives = await checkAbsent(sql, tenantId, absent, options.env, options.keys, (p) => problems.add(p));
  checked += fromArchives.archived;
  problems.trim();

  const report: VerificationReport = {
    ok: problems.count === 0,
    tenant_id: tenantId,
    events_checked: checked,
    archived_events_checked: fromArchives.archived,
    expired_events: fromArchives.expired,
    expired_events_attested_at_upgrade: fromArchives.expired_attested_at_upgrade,
    anchors: { checkpoints: checkpointAnchors, retention_records: fromArchives.record_anchors },
    checkpoints_checked: all.length,
    uncovered_events: Math.max(0, lastSeq - lastSealed),
    problem_count: problems.count,
    problems: problems.list,
    started_at: startedAt,
    duration_ms: Math.round(performance.now() - started),
    scope: { from: options.from, to: options.to, seq_from: lo, seq_to: Math.max(hi, lo - 1) },
  };
  if (options.record !== false) {
    await sql`
      insert into oms_audit.integrity_verifications
        (tenant_id, started_at, finished_at, ok, events_checked, checkpoints_checked, problem_count, problems, scope, verified_by)
      values (${tenantId}, ${startedAt}::timestamptz, now(), ${report.ok}, ${report.events_checked}, ${report.checkpoints_checked},
        ${report.problem_count}, ${sql.json(report.problems as never)}, ${sql.json(report.scope as never)}, ${options.verifiedBy ?? 'oms-audit'})`;
  }
  return report;
}
