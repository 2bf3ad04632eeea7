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
import { checkpointHash, GENESIS_HASH, signatureValid, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { connectionUrl, type Sql } from '@/supabase/functions/_shared/db.ts';
import { eventHash, type HashableEvent } from '@/supabase/functions/_shared/event-hash.ts';
import { toHex } from '@/supabase/functions/_shared/merkle.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { decodeInet, decodeInt2, decodeJsonbText, decodeText, decodeTimestamptz, decodeUuid } from '@/server/db/copy-binary.ts';
import { rowCheckPool } from './hash-pool.ts';
import { copyOutRows, type RowChunks } from '@/server/db/copy-rows.ts';
import { ROW, VERIFY_COLUMNS, type RowDetail, type RowResults } from './row-hasher.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import type { Env } from '@/server/env.ts';
import { checkAnchored, emptyAnchorReport, type AnchorReport } from '@/server/services/anchors/check.ts';
import { checkpointKind } from '@/server/services/anchors/kinds.ts';
import { checkAbsent, type AbsentEvent } from './absent.ts';
import { listCheckpoints } from './checkpoints.ts';
import { RootBuilder } from './root-builder.ts';
import { subtreeRootsFactory } from './subtree-roots.ts';
import * as crypto from 'node:crypto';
import { signer, type Signer } from './signing-key.ts';
import { signRecord, trustedBase, VERIFICATION_RECORD_VERSION, type VerificationRecord } from './verify-record.ts';

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
  /**
   * full: every checkpoint and event; incremental: the checkpoints sealed since
   * `base` and the events after it; range: the checkpoints sealed in from…to.
   */
  kind: 'full' | 'incremental' | 'range';
  /** The signed, intact verification an incremental run built on (what it did not check again). */
  base: { verified_at: string; verified_through: number; full_verified_at: string } | null;
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
  scope: { from?: string; to?: string; seq_from: number; seq_to: number; checkpoint_from: number; checkpoint_to: number };
}

export interface VerifyOptions {
  /** Keys whose signatures are accepted, by key id. */
  keys: Map<string, crypto.KeyObject>;
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
  /**
   * full (default): everything. incremental: only what was sealed since the
   * newest signed, intact verification (full when there is none). Ignored with from/to.
   */
  mode?: 'full' | 'incremental';
  /** Signs the recorded result (default: the operator's key). */
  signer?: Signer;
  /** Seqs of ledger rows held for their events (a power of two; tests narrow it to reach every path of the pairing). */
  ledgerWindow?: number;
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

/** `previous`: the checkpoint before all[0] (already verified), or null when all[0] is number 1. */
function checkChain(all: SignedCheckpoint[], keys: Map<string, crypto.KeyObject>, problems: Problems, previous: SignedCheckpoint | null = null) {
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

/** Fewer events than this are hashed on the calling thread. */
const SMALL_RUN_EVENTS = 20_000;

/** COPY takes no parameters: only a UUID and whole numbers are ever inlined. */
function inline(tenantId: string, ...numbers: number[]): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tenantId) || !numbers.every(Number.isSafeInteger)) {
    throw new Error('invalid verification scope');
  }
}

/**
 * A ledger row as binary COPY sends it, which has one size: the field count (2
 * bytes), then seq, id, event_hash and occurred_at, each behind its length (4 bytes).
 */
const LEDGER_ROW = { size: 82, seq: 6, id: 18, hash: 38, occurredAt: 74 } as const;

/**
 * Ledger rows held for their events, by seq: a window of this many consecutive
 * seqs (a power of two), about 3 MB. The ledger reads at most half of it ahead of
 * the highest seq the events have reached.
 */
const DEFAULT_LEDGER_WINDOW = 1 << 16;

/** A ledger row that left the window before its event came (kept until the end). */
interface LedgerRow {
  id: Uint8Array;
  hash: Uint8Array;
  /** occurred_at, microseconds since 2000-01-01 (PostgreSQL's epoch). */
  at: number;
}

/** An event waiting for its ledger row (the ledger has not reached its seq yet), or come again after it. */
interface EventRow {
  seq: number;
  code: number;
  id: Uint8Array;
  hash: Uint8Array;
  detail: RowDetail | null;
}

/** The snapshot id pg_export_snapshot returns (inlined into SET TRANSACTION SNAPSHOT). */
const SNAPSHOT_ID = /^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i;

const PG_EPOCH_MS = 946_684_800_000;

/**
 * Passes 2 and 3 over two COPY streams of one snapshot: the ledger in seq order
 * (gaps, and each checkpoint's Merkle root), and the events as PostgreSQL
 * stores them, rehashed by worker threads (hash-pool.ts) while they are read.
 * Each event meets its ledger row by seq here, in Node, instead of in a join in
 * PostgreSQL: PostgreSQL only reads, as for a plain COPY of the events. Ledger
 * rows wait in a window of consecutive seqs (typed arrays, no object per row);
 * an event whose seq the ledger has not reached yet (one stored out of seq
 * order) waits in a map, and a ledger row pushed out of the window before its
 * event came (an archived or missing event, or one stored much later) too.
 * With `openEnded`, events claiming a seq beyond the ledger's last are
 * included (and reported). Returns events checked.
 */
async function checkLedgerAndEvents(
  sql: Sql,
  url: string,
  tenantId: string,
  lo: number,
  hi: number,
  openEnded: boolean,
  checkpoints: SignedCheckpoint[],
  problems: Problems,
  absent: AbsentEvent[],
  eventsWhere = '',
  ledgerWindow = DEFAULT_LEDGER_WINDOW,
): Promise<number> {
  inline(tenantId, lo, hi);
  if (!(ledgerWindow >= 2 && (ledgerWindow & (ledgerWindow - 1)) === 0)) throw new Error('ledger window: a power of two');
  // Open-ended, both sides read the same range in one snapshot: an event written while verification
  // runs is seen with its ledger row or not at all, and an event past the ledger's tail is caught.
  const range = openEnded ? `seq >= ${lo}` : `seq between ${lo} and ${hi}`;
  let snapshot = '';
  const ledgerStream = await copyOutRows(
    url,
    `copy (select seq, id, event_hash, occurred_at from public.audit_ledger where tenant_id = '${tenantId}' and ${range} order by seq) to stdout (format binary)`,
    { setup: [{ text: 'set transaction isolation level repeatable read, read only' }], exportSnapshot: (id) => (snapshot = id) },
  );
  let eventStream: RowChunks;
  try {
    if (!SNAPSHOT_ID.test(snapshot)) throw new Error('unexpected snapshot id');
    eventStream = await copyOutRows(url, `copy (select ${VERIFY_COLUMNS.join(', ')} from public.audit_events where tenant_id = '${tenantId}' and ${range}${eventsWhere}) to stdout (format binary)`, {
      setup: [{ text: 'set transaction isolation level repeatable read, read only' }, { text: `set transaction snapshot '${snapshot}'` }],
    });
  } catch (err) {
    ledgerStream.destroy();
    throw err;
  }

  const seen = new Uint8Array(Math.max(0, hi - lo + 1));
  const misplaced: { seq: number; id: string; ledgerId: string | null }[] = [];
  const twice: number[] = [];
  /** Events at a seq whose ledger row another event already met (a copy, or a second event at that seq). */
  const late: EventRow[] = [];
  // Seqs whose ledger row met an event: within lo–hi a byte each, beyond hi (open-ended runs) a set.
  const met = new Uint8Array(Math.max(0, hi - lo + 1));
  const metBeyond = new Set<number>();
  const taken = (seq: number) => (seq - lo < met.length ? (met[seq - lo] = 1) : metBeyond.add(seq));
  const wasTaken = (seq: number) => (seq - lo < met.length ? met[seq - lo] === 1 : metBeyond.has(seq));
  // The window: ledger rows of seqs [windowFrom, ledgerNext), slot seq & (ledgerWindow - 1).
  const MASK = ledgerWindow - 1;
  const slotState = new Uint8Array(ledgerWindow); // 0 no ledger row at that seq, 1 waiting for its event, 2 met
  const slotId = new Uint8Array(16 * ledgerWindow);
  const slotHash = new Uint8Array(32 * ledgerWindow);
  const slotAt = new Float64Array(ledgerWindow);
  let windowFrom = lo;
  let ledgerNext = lo;
  let ledgerDone = false;
  const evicted = new Map<number, LedgerRow>();
  const eventsWaiting = new Map<number, EventRow[]>();
  let eventsReached = lo - 1;
  let checked = 0;

  const uuidText = (bytes: Uint8Array, at: number) => decodeUuid(Buffer.from(bytes.buffer, bytes.byteOffset + at, 16));
  const sameBytes = (x: Uint8Array, xAt: number, y: Uint8Array, yAt: number, n: number) => {
    for (let k = 0; k < n; k++) if (x[xAt + k] !== y[yAt + k]) return false;
    return true;
  };
  const modified = (seq: number, id: string) =>
    problems.add({ seq, id, kind: 'modified', detail: `event ${id} (seq ${seq}) was changed after it was written: its fields no longer hash to the recorded hash` });
  /** An event (its id and recomputed hash at their offsets) with its ledger row's (id and hash at theirs). */
  const judge = (seq: number, code: number, detail: RowDetail | null, id: Uint8Array, idAt: number, hash: Uint8Array, hashAt: number, lId: Uint8Array, lIdAt: number, lHash: Uint8Array, lHashAt: number) => {
    checked++;
    if (!sameBytes(id, idAt, lId, lIdAt, 16)) {
      misplaced.push({ seq, id: uuidText(id, idAt), ledgerId: uuidText(lId, lIdAt) });
      return;
    }
    // The same event stored twice under its seq (a copy with another occurred_at).
    if (seen[seq - lo]) {
      twice.push(seq);
      return;
    }
    seen[seq - lo] = 1;
    if (code === ROW.HASHED) {
      if (!sameBytes(hash, hashAt, lHash, lHashAt, 32)) modified(seq, uuidText(id, idAt));
    } else if (code === ROW.BAD_VERSION) {
      problems.add({ seq, id: uuidText(id, idAt), kind: 'modified', detail: `event ${uuidText(id, idAt)} (seq ${seq}) claims schema version ${detail!.version}, which no event was written under` });
    } else if (!rowHashMatches(detail!.row!, Buffer.from(lHash.buffer, lHash.byteOffset + lHashAt, 32))) modified(seq, uuidText(id, idAt));
  };
  const judgeEvent = (e: EventRow, lId: Uint8Array, lIdAt: number, lHash: Uint8Array, lHashAt: number) =>
    judge(e.seq, e.code, e.detail, e.id, 0, e.hash, 0, lId, lIdAt, lHash, lHashAt);
  /** The window's oldest seq leaves it; a ledger row still waiting for its event is kept aside. */
  const evictOldest = () => {
    const s = windowFrom & MASK;
    if (slotState[s] === 1) {
      evicted.set(windowFrom, { id: slotId.slice(16 * s, 16 * s + 16), hash: slotHash.slice(32 * s, 32 * s + 32), at: slotAt[s]! });
    }
    slotState[s] = 0;
    windowFrom++;
  };

  // The ledger side: pass 2 (gaps and Merkle roots up to hi), and each row into the window or to its waiting event.
  let wake: (() => void) | null = null;
  let eventsDone = false;
  // Hashing threads: the events' hashes, and the checkpoints' Merkle subtrees over each ledger chunk.
  // Starting threads costs more than hashing a few thousand rows (an incremental run's usual share).
  const pool = rowCheckPool(hi - lo < SMALL_RUN_EVENTS ? 0 : undefined);
  /** Per ledger chunk with leaves: its segments (checkpoint index, first leaf, leaves) and their subtree roots to come. */
  const merkleParts: { segments: number[]; roots: Promise<Uint8Array> }[] = [];
  const readLedger = async () => {
    let index = 0;
    /** Leaves (ledger rows in its seq range) of each checkpoint so far. */
    const leaves = new Float64Array(checkpoints.length);
    let expected = lo;
    try {
      for await (const chunk of ledgerStream) {
        const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        // This chunk's runs of consecutive leaves of one checkpoint: [byte offset, leaves, first leaf] for the
        // hashing thread, [checkpoint index, first leaf, leaves] to combine the subtree roots it returns.
        const segments: number[] = [];
        const owners: number[] = [];
        let runEnd = -1;
        for (let at = 0; at < bytes.length; at += LEDGER_ROW.size) {
          if (bytes.readInt16BE(at) !== 4 || bytes.readInt32BE(at + 2) !== 8 || bytes.readInt32BE(at + 34) !== 32) throw new Error('unexpected ledger row in COPY');
          const seq = bytes.readInt32BE(at + LEDGER_ROW.seq) * 4294967296 + bytes.readUInt32BE(at + LEDGER_ROW.seq + 4);
          // Not too far ahead of the events: the window holds what they have not reached yet.
          while (!eventsDone && seq - eventsReached > ledgerWindow / 2) await new Promise<void>((resolve) => (wake = resolve));
          if (seq - windowFrom >= ledgerWindow) {
            // The window moves on; past a gap wider than it, at most its own rows are looked at.
            const from = seq - ledgerWindow + 1;
            while (windowFrom < from && windowFrom < ledgerNext) evictOldest();
            windowFrom = from;
            if (ledgerNext < from) ledgerNext = from;
          }
          for (; ledgerNext < seq; ledgerNext++) slotState[ledgerNext & MASK] = 0;
          ledgerNext = seq + 1;
          const s = seq & MASK;
          const waiting = eventsWaiting.size ? eventsWaiting.get(seq) : undefined;
          if (waiting) {
            eventsWaiting.delete(seq);
            taken(seq);
            slotState[s] = 2;
            for (const e of waiting) judgeEvent(e, bytes, at + LEDGER_ROW.id, bytes, at + LEDGER_ROW.hash);
          } else {
            slotState[s] = 1;
            for (let k = 0, from = at + LEDGER_ROW.id, to = 16 * s; k < 16; k++) slotId[to + k] = bytes[from + k]!;
            for (let k = 0, from = at + LEDGER_ROW.hash, to = 32 * s; k < 32; k++) slotHash[to + k] = bytes[from + k]!;
            slotAt[s] = bytes.readInt32BE(at + LEDGER_ROW.occurredAt) * 4294967296 + bytes.readUInt32BE(at + LEDGER_ROW.occurredAt + 4);
          }
          if (seq > hi) continue;
          if (seq > expected) {
            problems.add({ seq: expected, id: null, kind: 'missing', detail: seq - expected === 1 ? `seq ${expected} is missing from the ledger` : `seq ${expected}–${seq - 1} are missing from the ledger` });
          }
          expected = seq + 1;
          while (index < checkpoints.length && seq > checkpoints[index]!.seq_to) index++;
          if (index < checkpoints.length && seq >= checkpoints[index]!.seq_from) {
            // A leaf of checkpoint `index`: it extends the current run if it is the next row of the same checkpoint.
            if (at === runEnd && owners[owners.length - 3] === index) {
              segments[segments.length - 2]!++;
              owners[owners.length - 1]!++;
            } else {
              segments.push(at, 1, leaves[index]!);
              owners.push(index, leaves[index]!, 1);
            }
            leaves[index]!++;
            runEnd = at + LEDGER_ROW.size;
          }
        }
        if (segments.length) {
          const roots = pool.subtreeRoots(chunk, Float64Array.from(segments), LEDGER_ROW.size, LEDGER_ROW.hash, (back) => ledgerStream.recycle(back));
          roots.catch(() => {}); // awaited after both streams
          merkleParts.push({ segments: owners, roots });
        } else ledgerStream.recycle(chunk);
      }
    } finally {
      ledgerDone = true;
    }
    if (expected <= hi) problems.add({ seq: expected, id: null, kind: 'missing', detail: `seq ${expected}–${hi} are missing from the ledger` });
  };
  /** Each checkpoint's Merkle root from its subtree roots, against the signed root. */
  const checkRoots = async () => {
    const { nextHeight } = subtreeRootsFactory(crypto as never);
    const builders = checkpoints.map(() => new RootBuilder());
    for (const part of merkleParts) {
      const roots = await part.roots;
      let k = 0;
      for (let i = 0; i < part.segments.length; i += 3) {
        const builder = builders[part.segments[i]!]!;
        for (let first = part.segments[i + 1]!, n = part.segments[i + 2]!; n > 0; k++) {
          const height = nextHeight(first, n);
          builder.pushSubtree(roots, 32 * k, height);
          first += 2 ** height;
          n -= 2 ** height;
        }
      }
    }
    checkpoints.forEach((c, i) => {
      const builder = builders[i]!;
      if (builder.count === 0 || toHex(builder.root()) !== c.merkle_root) {
        problems.add({
          seq: c.seq_from,
          id: null,
          kind: 'modified',
          checkpoint: c.number,
          detail: `events seq ${c.seq_from}–${c.seq_to} do not match the signed Merkle root of checkpoint ${c.number}: an event hash in the ledger was changed, added, removed or moved`,
        });
      }
    });
  };

  // The event side: each hashed event handed to its ledger row, or left waiting for it.
  const keep = (r: RowResults, i: number, detail: RowDetail | null): EventRow => ({
    seq: r.seqs[i]!,
    code: r.codes[i]!,
    id: r.ids.slice(16 * i, 16 * i + 16),
    hash: r.hashes.slice(32 * i, 32 * i + 32),
    detail,
  });
  const take = (r: RowResults) => {
    // How far the events have come: the chunk's median seq, so that a few events stored far from
    // their seq (a late event filed in an earlier month) do not draw the ledger ahead of the rest.
    if (r.count) {
      const sorted = r.seqs.slice().sort();
      eventsReached = Math.max(eventsReached, sorted[sorted.length >> 1]!);
    }
    // The result arrays as locals: the object they came in (from another thread) is slow to read through.
    const { count, codes, seqs, ids, hashes, details } = r;
    let d = 0;
    for (let i = 0; i < count; i++) {
      const detail = codes[i] === ROW.HASHED ? null : details[d++]!;
      const seq = seqs[i]!;
      if (seq >= ledgerNext) {
        // The ledger has not reached this seq (yet, or at all when it has ended).
        if (ledgerDone) {
          checked++;
          misplaced.push({ seq, id: uuidText(ids, 16 * i), ledgerId: null });
        } else {
          const list = eventsWaiting.get(seq);
          if (list) list.push(keep(r, i, detail));
          else eventsWaiting.set(seq, [keep(r, i, detail)]);
        }
        continue;
      }
      if (seq >= windowFrom) {
        const s = seq & MASK;
        const state = slotState[s];
        if (state === 1) {
          slotState[s] = 2;
          taken(seq);
          judge(seq, codes[i]!, detail, ids, 16 * i, hashes, 32 * i, slotId, 16 * s, slotHash, 32 * s);
        } else if (state === 2) late.push(keep(r, i, detail));
        else {
          checked++;
          misplaced.push({ seq, id: uuidText(ids, 16 * i), ledgerId: null });
        }
        continue;
      }
      const l = evicted.get(seq);
      if (l) {
        evicted.delete(seq);
        taken(seq);
        judge(seq, codes[i]!, detail, ids, 16 * i, hashes, 32 * i, l.id, 0, l.hash, 0);
      } else if (wasTaken(seq)) late.push(keep(r, i, detail));
      else {
        checked++;
        misplaced.push({ seq, id: uuidText(ids, 16 * i), ledgerId: null });
      }
    }
    const w = wake;
    wake = null;
    w?.();
  };
  const readEvents = async () => {
    try {
      const inflight: Promise<RowResults>[] = [];
      for await (const rows of eventStream) {
        const result = pool.check(rows, (back) => eventStream.recycle(back));
        result.catch(() => {}); // awaited in order below
        inflight.push(result);
        if (inflight.length >= pool.size * 2) take(await inflight.shift()!);
      }
      while (inflight.length) take(await inflight.shift()!);
    } finally {
      eventsDone = true;
      const w = wake;
      wake = null;
      w?.();
    }
  };
  try {
    await Promise.all([readLedger(), readEvents()]);
    await checkRoots();
  } finally {
    ledgerStream.destroy();
    eventStream.destroy();
    await pool.close();
  }

  // Ledger rows without an event: not in PostgreSQL, their month may be archived (pass 4).
  const absentAt = (seq: number, id: Uint8Array, idAt: number, at: number) =>
    absent.push({ seq, id: uuidText(id, idAt), month: new Date(Math.floor(at / 1000) + PG_EPOCH_MS).toISOString().slice(0, 7) + '-01' });
  for (const [seq, l] of evicted) absentAt(seq, l.id, 0, l.at);
  for (let seq = windowFrom; seq < ledgerNext; seq++) {
    const s = seq & MASK;
    if (slotState[s] === 1) absentAt(seq, slotId, 16 * s, slotAt[s]!);
  }
  absent.sort((a, b) => a.seq - b.seq);
  // Events whose seq the ledger never reached.
  for (const [seq, list] of eventsWaiting) {
    for (const e of list) {
      checked++;
      misplaced.push({ seq, id: uuidText(e.id, 0), ledgerId: null });
    }
  }
  if (late.length) {
    // Each meets the ledger row another event met before it, read again.
    const seqs = [...new Set(late.map((e) => e.seq))];
    const rows = await sql`select seq, id, event_hash from public.audit_ledger where tenant_id = ${tenantId} and seq = any(${seqs}::bigint[])`;
    const ledgerAt = new Map(rows.map((r) => [Number(r.seq), { id: Buffer.from((r.id as string).replace(/-/g, ''), 'hex'), hash: r.event_hash as Buffer }]));
    for (const e of late) {
      const l = ledgerAt.get(e.seq);
      if (l) judgeEvent(e, l.id, 0, l.hash, 0);
      else {
        checked++;
        misplaced.push({ seq: e.seq, id: uuidText(e.id, 0), ledgerId: null });
      }
    }
  }
  if (twice.length) {
    // A second copy has the ledger's id at its seq.
    const rows = await sql`select seq, id from public.audit_ledger where tenant_id = ${tenantId} and seq = any(${twice}::bigint[])`;
    const idAt = new Map(rows.map((r) => [Number(r.seq), r.id as string]));
    for (const seq of twice) problems.add({ seq, id: idAt.get(seq) ?? null, kind: 'inserted', detail: `event ${idAt.get(seq)} is stored twice at seq ${seq}` });
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

/** The reference hash (event-hash.ts) of a row the row hasher left to it, compared with the ledger's. */
function rowHashMatches(row: Uint8Array, ledgerHash: Buffer): boolean {
  const bytes = Buffer.from(row.buffer, row.byteOffset, row.byteLength);
  const f: (Buffer | null)[] = [];
  for (let p = 2; f.length < VERIFY_COLUMNS.length; ) {
    const len = bytes.readInt32BE(p);
    p += 4;
    f.push(len < 0 ? null : bytes.subarray(p, p + len));
    if (len > 0) p += len;
  }
  const text = (b: Buffer | null) => (b ? decodeText(b) : null);
  const event: HashableEvent = {
    id: decodeUuid(f[0]!),
    tenant_id: decodeUuid(f[1]!),
    occurred_at: decodeTimestamptz(f[3]!),
    received_at: decodeTimestamptz(f[4]!),
    actor_type: decodeText(f[5]!),
    actor_id: decodeText(f[6]!),
    object_type: decodeText(f[7]!),
    object_id: decodeText(f[8]!),
    event_type: decodeText(f[9]!),
    outcome: decodeText(f[10]!),
    source: text(f[11]!),
    request_id: text(f[12]!),
    ip_address: f[13] ? decodeInet(f[13]) : null,
    user_agent: text(f[14]!),
    device_fingerprint: text(f[15]!),
    observed_ip: f[16] ? decodeInet(f[16]) : null,
    observed_user_agent: text(f[17]!),
    context: null,
    schema_version: decodeInt2(f[19]!),
    written_by: text(f[20]!),
    personal: f[21] ? JSON.parse(decodeJsonbText(f[21])) : null,
  };
  return eventHash(event, canonicalJson(JSON.parse(decodeJsonbText(f[18]!)))) === ledgerHash.toString('hex');
}

/** ISO timestamps only are inlined into COPY. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * Where an incremental run looks for the events of seq ≥ lo: in each month
 * those seqs fall in (by the ledger, read through its primary key), from the
 * earliest of their occurred_at to the month's end, so that PostgreSQL reads the
 * new events through the events' primary key instead of the whole trail. An
 * event claiming a new seq earlier than that is left to the next full
 * verification (docs/integrity.md).
 */
export async function newEventsWhere(sql: Sql, tenantId: string, lo: number): Promise<string> {
  const spans = await sql`
    select min(occurred_at) as first,
      (date_trunc('month', min(occurred_at) at time zone 'UTC') + interval '1 month') at time zone 'UTC' as month_end
    from public.audit_ledger
    where tenant_id = ${tenantId} and seq >= ${lo}
    group by date_trunc('month', occurred_at at time zone 'UTC')`;
  const ranges = spans.map((r) => {
    const [a, b] = [r.first as string, r.month_end as string];
    if (!ISO.test(a) || !ISO.test(b)) throw new Error('unexpected timestamp form');
    return `(occurred_at >= '${a}' and occurred_at < '${b}')`;
  });
  return ranges.length ? ` and (${ranges.join(' or ')})` : ' and false';
}

export async function verifyTenant(sql: Sql, tenantId: string, options: VerifyOptions): Promise<VerificationReport> {
  const started = performance.now();
  const startedAt = nowTimestamp().iso;
  const problems = new Problems(options.maxProblems ?? 100);
  const ranged = Boolean(options.from || options.to);

  // An incremental run starts after the newest signed, intact verification, if its last checkpoint is unchanged.
  let base = !ranged && options.mode === 'incremental' ? await trustedBase(sql, tenantId, options.keys) : null;
  if (base && !base.record.ok) base = null;
  let baseCheckpoint: SignedCheckpoint | null = null;
  if (base && base.record.verified_through > 0) {
    const n = base.record.verified_through;
    [baseCheckpoint = null] = await listCheckpoints(sql, tenantId, { fromNumber: n, toNumber: n });
    if (!baseCheckpoint || baseCheckpoint.hash !== base.record.verified_through_hash || checkpointHash(baseCheckpoint) !== baseCheckpoint.hash) {
      problems.add({
        seq: baseCheckpoint?.seq_from ?? null,
        id: null,
        kind: 'checkpoint',
        checkpoint: n,
        detail: `checkpoint ${n} is ${baseCheckpoint ? 'no longer the one' : 'missing, though it was'} verified at ${base.finished_at}: the trail was rewritten since; everything was verified again`,
      });
      base = null;
      baseCheckpoint = null;
    }
  }
  const kind: VerificationReport['kind'] = ranged ? 'range' : base ? 'incremental' : 'full';
  const after = base?.record.verified_through ?? 0;

  const all = await listCheckpoints(sql, tenantId, { fromNumber: after + 1 });
  checkChain(all, options.keys, problems, baseCheckpoint);
  const databaseHead = all.at(-1)?.number ?? after;
  let checkpointAnchors = emptyAnchorReport(databaseHead);
  if (options.env) {
    const anchored = await checkAnchored(sql, options.env, tenantId, checkpointKind(options.keys), baseCheckpoint ? [baseCheckpoint, ...all] : all, options.now, after + 1);
    checkpointAnchors = anchored.report;
    for (const f of anchored.findings) {
      const c = all.find((x) => x.number === f.number) ?? anchored.anchored.get(f.number);
      problems.add({ seq: c?.seq_from ?? null, id: null, kind: f.kind, checkpoint: f.number, detail: f.detail });
    }
  }

  const inScope = all.filter((c) => (!options.from || c.sealed_at >= options.from) && (!options.to || c.sealed_at < options.to));
  const [head] = await sql`select coalesce(last_seq, 0)::bigint as last_seq from oms_audit.tenant_sequences where tenant_id = ${tenantId}`;
  const lastSeq = (head?.last_seq as number | undefined) ?? 0;
  const lastSealed = all.length ? all[all.length - 1]!.seq_to : (baseCheckpoint?.seq_to ?? 0);
  const lo = inScope.length ? inScope[0]!.seq_from : options.to ? 1 : lastSealed + 1;
  const hi = options.to ? (inScope.length ? inScope[inScope.length - 1]!.seq_to : 0) : lastSeq;

  let checked = 0;
  const absent: AbsentEvent[] = [];
  if (hi >= lo) {
    const url = connectionUrl(sql);
    const eventsWhere = kind === 'incremental' ? await newEventsWhere(sql, tenantId, lo) : '';
    checked = await checkLedgerAndEvents(sql, url, tenantId, lo, hi, !options.to, inScope, problems, absent, eventsWhere, options.ledgerWindow);
  }
  const fromArchives = await checkAbsent(sql, tenantId, absent, options.env, options.keys, (p) => problems.add(p));
  checked += fromArchives.archived;
  problems.trim();

  const through = all.at(-1) ?? baseCheckpoint;
  const report: VerificationReport = {
    ok: problems.count === 0,
    tenant_id: tenantId,
    kind,
    base: base ? { verified_at: base.finished_at, verified_through: after, full_verified_at: base.record.full_verified_at } : null,
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
    scope: {
      from: options.from,
      to: options.to,
      seq_from: lo,
      seq_to: Math.max(hi, lo - 1),
      checkpoint_from: inScope[0]?.number ?? 0,
      checkpoint_to: inScope.at(-1)?.number ?? 0,
    },
  };
  if (options.record !== false) {
    let signed: { text: string; signature: string; keyId: string } | null = null;
    if (kind !== 'range') {
      const by = options.signer ?? signer();
      const record: VerificationRecord = {
        version: VERIFICATION_RECORD_VERSION,
        tenant_id: tenantId,
        kind,
        ok: report.ok,
        checkpoint_from: report.scope.checkpoint_from,
        checkpoint_to: report.scope.checkpoint_to,
        verified_through: through?.number ?? 0,
        verified_through_hash: through?.hash ?? null,
        seq_from: report.scope.seq_from,
        seq_to: report.scope.seq_to,
        events_checked: report.events_checked,
        problem_count: report.problem_count,
        base_hash: base?.hash ?? null,
        full_verified_at: base?.record.full_verified_at ?? startedAt,
        started_at: startedAt,
        key_id: by.keyId,
      };
      signed = { ...signRecord(record, by), keyId: by.keyId };
    }
    await sql`
      insert into oms_audit.integrity_verifications
        (tenant_id, started_at, finished_at, ok, events_checked, checkpoints_checked, problem_count, problems, scope, verified_by, kind, record, signature, key_id)
      values (${tenantId}, ${startedAt}::timestamptz, now(), ${report.ok}, ${report.events_checked}, ${report.checkpoints_checked},
        ${report.problem_count}, ${sql.json(report.problems as never)}, ${sql.json({ ...report.scope, base: report.base } as never)}, ${options.verifiedBy ?? 'oms-audit'},
        ${kind}, ${signed?.text ?? null}, ${signed?.signature ?? null}, ${signed?.keyId ?? null})`;
  }
  return report;
}
