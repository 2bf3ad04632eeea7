/**
 * Erasure of a data subject (GDPR Art. 17) without breaking a proof
 * (docs/personal-data.md): the subject's keys are destroyed, so every sealed
 * value about them — in PostgreSQL, archives, exports and backups — becomes
 * unreadable for good, while no stored byte and no hash changes.
 *
 * Refused, with nothing changed, while an active legal hold covers any of the
 * subject's events, or while the tenant's retention policy still requires the
 * records (a report of which months and until when), unless the tenant
 * declared its personal fields outside the retention duty. An erasure is
 * itself an audit event of the tenant (AUDIT_PERSONAL_DATA_ERASED, naming the
 * acting person and the subject only by its pseudonymous ref), and the
 * destroyed keys name that event. The checks, the event, the destruction and
 * its signed retention record (kind "erased", anchored outside the database
 * with the other records) are one transaction, under the tenant's
 * erasure-rules lock, which every write of a legal hold, a retention policy or
 * the tenant's declaration takes too: no hold or policy change can slip in
 * between the check and the destruction.
 */
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { withTenant, type AnySql, type Sql, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { Writer } from '@/supabase/functions/_shared/writers.ts';
import { appendEventsWithin } from '@/supabase/functions/_shared/ingest.ts';
import { NO_OBSERVED_CLIENT } from '../ingest.ts';
import { getPolicy } from '../retention/policy.ts';
import { findErasureRecord, issueErasureRecord, type RecordErasure } from '../retention/records.ts';
import { signer } from '../integrity/signing-key.ts';
import { anchorPending } from '../anchors/anchoring.ts';
import { RETENTION_RECORD_SOURCE } from '../anchors/sources.ts';
import { env as serverEnv, type Env } from '@/server/env.ts';
import { anchorErasures } from './erasure-anchors.ts';
import { forgetSubjectKeys, refOf } from './keys.ts';
import { personalSettings } from './settings.ts';
import { archivedSubjectEvents, holdScopeExpr, subjectSql, type ArchivedSubjectEvents, type HoldScope } from './archived-subject.ts';
import { wherePostgres } from '../filters/postgres.ts';

export const ERASURE_EVENT_TYPE = 'AUDIT_PERSONAL_DATA_ERASED';

/** Issues the erasure's signed retention record (kind "erased"), tied to the erasure event's seq. */
async function recordErasure(tx: TxSql, tenantId: string, eventId: string, erasure: RecordErasure): Promise<void> {
  const [row] = await tx`select seq from public.audit_ledger where tenant_id = ${tenantId} and id = ${eventId}`;
  if (!row) throw new Error(`the erasure event ${eventId} is not in the ledger`);
  await issueErasureRecord(tx, { tenantId, erasureSeq: Number(row.seq), erasure }, signer());
}
export const SUBJECT_OBJECT_TYPE = 'DATA_SUBJECT';

/** Who erases: a person at the console, or an operator's tool (the CLI). */
export type EraseActor = { kind: 'console'; userId: string; email: string } | { kind: 'operator'; name: string };

export interface ErasureBlock {
  /** Active holds covering some of the subject's events: how many in all, and how many of those in archived months. */
  holds: { id: string; reason: string; events: number; archived_events: number }[];
  /** Months of the subject's records the retention policy still requires, and until when (archived: the month left PostgreSQL). */
  retention: { month: string; events: number; retained_until: string; archived: boolean }[];
  /** The subject's events looked at: in PostgreSQL, and in archived months. */
  checked: { hot_events: number; archived_events: number };
}

export interface ErasureResult {
  subject_ref: string;
  erased: boolean;
  /** Keys destroyed now; empty when the subject was erased before. */
  key_ids: string[];
  /** Hot events that held the subject's sealed data. */
  events: number;
  erasure_event_id: string | null;
  erased_at: string | null;
  /** The erasure was also written to the anchor location, so a restored backup cannot undo it. */
  erasure_anchored: boolean;
}

const CANONICAL_TIME = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** The first day after `month` (YYYY-MM) plus `years`, as an ISO timestamp: until when the policy keeps the month. */
function retainedUntil(month: string, years: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y + years, m, 1)).toISOString();
}

/** What an erasure is checked against: the tenant's active legal holds, its retention and its declaration. */
interface ErasureRules {
  holds: (HoldScope & { reason: string })[];
  totalYears: number;
  outsideRetention: boolean;
}

async function readRules(sql: AnySql, tenantId: string, minTotalYears: number): Promise<ErasureRules> {
  const holds = await sql<(HoldScope & { reason: string })[]>`
    select id, reason, object_type, object_id,
           to_char(from_at at time zone 'UTC', ${sql.unsafe(CANONICAL_TIME)}) as from_at, to_char(to_at at time zone 'UTC', ${sql.unsafe(CANONICAL_TIME)}) as to_at
    from oms_audit.legal_holds where tenant_id = ${tenantId} and released_at is null order by created_at`;
  const policy = await getPolicy(sql, tenantId, minTotalYears);
  const [settings] = await sql`select outside_retention from oms_audit.personal_data_settings where tenant_id = ${tenantId}`;
  return { holds: [...holds], totalYears: policy.total_years, outsideRetention: settings?.outside_retention === true };
}

/** The subject's events in PostgreSQL: per hold in scope, and per month. */
interface HotSubjectEvents {
  holds: Map<string, number>;
  months: Map<string, number>;
}

/** The subject's hot events (in `tx`, a tenant transaction); only those after seq `afterSeq` when given. */
async function hotSubjectEvents(tx: TxSql, tenantId: string, ref: string, holds: HoldScope[], afterSeq?: number): Promise<HotSubjectEvents> {
  const after = afterSeq === undefined ? tx`` : tx`and seq > ${afterSeq}`;
  const result: HotSubjectEvents = { holds: new Map(), months: new Map() };
  const hotMonths = await tx`
    select to_char(date_trunc('month', occurred_at at time zone 'UTC'), 'YYYY-MM') as month, count(*)::int as events
    from public.audit_events
    where tenant_id = ${tenantId} and ${subjectSql(tx, ref)} ${after}
    group by 1 order by 1`;
  for (const m of hotMonths) result.months.set(m.month as string, m.events as number);
  if (!hotMonths.length) return result;
  for (const h of holds) {
    const [row] = await tx`
      select count(*)::int as n from public.audit_events
      where ${wherePostgres(tx, tenantId, holdScopeExpr(h))} and ${subjectSql(tx, ref)} ${after}`;
    result.holds.set(h.id, row!.n as number);
  }
  return result;
}

/** Adds the counts of `more` to `into`. */
function addCounts(into: Map<string, number>, more: Map<string, number>): void {
  for (const [k, n] of more) into.set(k, (into.get(k) ?? 0) + n);
}

/** Why the rules refuse erasing a subject with these events (empty lists: they do not). */
function blockOf(rules: ErasureRules, hot: HotSubjectEvents, archived: ArchivedSubjectEvents): ErasureBlock {
  const sum = (ns: Iterable<number>) => [...ns].reduce((a, b) => a + b, 0);
  const block: ErasureBlock = { holds: [], retention: [], checked: { hot_events: sum(hot.months.values()), archived_events: sum(archived.months.values()) } };
  for (const h of rules.holds) {
    const inArchive = archived.holds.get(h.id) ?? 0;
    const events = (hot.holds.get(h.id) ?? 0) + inArchive;
    if (events > 0) block.holds.push({ id: h.id, reason: h.reason, events, archived_events: inArchive });
  }
  if (!rules.outsideRetention) {
    const months = [
      ...[...hot.months].map(([month, events]) => ({ month, events, archived: false })),
      ...[...archived.months].map(([month, events]) => ({ month, events, archived: true })),
    ].sort((a, b) => a.month.localeCompare(b.month));
    const now = Date.now();
    for (const m of months) {
      const until = retainedUntil(m.month, rules.totalYears);
      if (Date.parse(until) > now) block.retention.push({ ...m, retained_until: until });
    }
  }
  return block;
}

/** The subject's events, hot then archived (in `tx`, a tenant transaction: a month dropped meanwhile is seen in one place or the other). */
async function subjectEvents(tx: TxSql, env: Env, tenantId: string, ref: string, rules: ErasureRules) {
  const hot = await hotSubjectEvents(tx, tenantId, ref, rules.holds);
  const archived = await archivedSubjectEvents(tx, env, tenantId, ref, rules.holds);
  return { hot, archived };
}

/** Runs the rest of `tx` as the tenant (row-level security), as withTenant does; `asOwnRole` goes back to the connection's role. */
const asTenant = (tx: TxSql, tenantId: string) =>
  tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ tenant_id: tenantId, sub: 'oms-audit-erasure', role: 'authenticated' })}, true)`;
const asOwnRole = (tx: TxSql) => tx`select set_config('role', 'none', true)`;

/**
 * Why the subject may not be erased now (empty lists: it may), over its events
 * in PostgreSQL and in archived months (archived-subject.ts). Throws, naming
 * the part, when an archived month cannot be read. A report (the preview):
 * eraseSubject checks again in the transaction that destroys the keys.
 */
export async function erasureBlock(sql: Sql, tenantId: string, ref: string, minTotalYears: number, env: Env = serverEnv()): Promise<ErasureBlock> {
  const rules = await readRules(sql, tenantId, minTotalYears);
  return withTenant(sql, { tenant_id: tenantId, sub: 'oms-audit-erasure', role: 'authenticated' }, async (tx) => {
    const { hot, archived } = await subjectEvents(tx, env, tenantId, ref, rules);
    return blockOf(rules, hot, archived);
  });
}

function refusal(block: ErasureBlock): AuditError {
  const why = [
    ...block.holds.map((h) => `legal hold ${h.id} ("${h.reason}") covers ${h.events} of its events${h.archived_events ? ` (${h.archived_events} in archived months)` : ''}`),
    ...block.retention.map((r) => `the retention policy requires ${r.events} record(s) of ${r.month}${r.archived ? ' (archived)' : ''} until ${r.retained_until}`),
  ];
  const error = new AuditError('forbidden', `The subject cannot be erased now: ${why.join('; ')}. Nothing was changed.`, [{ field: 'subject', message: why.join('; ') }]);
  return Object.assign(error, { block });
}

export async function eraseSubject(
  sql: Sql,
  input: { tenantId: string; subjectId: string; actor: EraseActor; reason: string; minTotalYears: number; env?: Env },
): Promise<ErasureResult> {
  const reason = input.reason.trim();
  if (!reason || reason.length > 2000) throw new AuditError('invalid_request', 'An erasure needs a reason (1 to 2000 characters)', [{ field: 'reason', message: 'must be 1 to 2000 characters' }]);
  if (!(await personalSettings(sql, input.tenantId, true))) {
    throw new AuditError('invalid_request', 'This tenant does not keep personal data under per-subject keys (docs/personal-data.md): there is nothing to erase this way', [{ field: 'tenant', message: 'has not declared its personal data' }]);
  }
  const ref = await refOf(sql, input.tenantId, input.subjectId);
  const keys = await sql<{ key_id: string; erased_at: string | null; erasure_event_id: string | null }[]>`
    select key_id, erased_at, erasure_event_id from oms_audit.subject_keys where tenant_id = ${input.tenantId} and subject_ref = ${ref} order by created_at`;
  if (!keys.length) throw new AuditError('not_found', 'No personal data of this subject is stored under a key of its own (nothing was sealed for it)');
  const live = keys.filter((k) => !k.erased_at);
  if (!live.length) {
    const last = keys[keys.length - 1]!;
    // An erasure made before erased records existed gets its record now.
    if (last.erasure_event_id && !(await findErasureRecord(sql, input.tenantId, last.erasure_event_id))) {
      const erasedKeys = await sql<{ key_id: string; erased_at: Date; erased_by: string }[]>`
        select key_id, erased_at, erased_by from oms_audit.subject_keys where tenant_id = ${input.tenantId} and erasure_event_id = ${last.erasure_event_id}`;
      await sql.begin((tx) =>
        recordErasure(tx, input.tenantId, last.erasure_event_id!, {
          subject_ref: ref,
          key_ids: erasedKeys.map((k) => k.key_id),
          erased_at: new Date(erasedKeys[0]!.erased_at).toISOString(),
          erased_by: erasedKeys[0]!.erased_by,
          erasure_event_id: last.erasure_event_id!,
        }),
      );
      await anchorPending(sql, input.env ?? serverEnv(), [RETENTION_RECORD_SOURCE], [input.tenantId]);
    }
    return { subject_ref: ref, erased: false, key_ids: [], events: 0, erasure_event_id: last.erasure_event_id, erased_at: new Date(last.erased_at!).toISOString(), erasure_anchored: false };
  }
  const env = input.env ?? serverEnv();
  const writer: Writer = input.actor.kind === 'console' ? { kind: 'console', userId: input.actor.userId } : { kind: 'operator', name: input.actor.name };
  const by = input.actor.kind === 'console' ? `console:${input.actor.userId}` : `operator:${input.actor.name}`;
  // One transaction checks, records and destroys. It holds the tenant's erasure-rules lock from before the checks
  // read the holds and the policy to its commit, and every write of a hold, a policy or the tenant's declaration takes
  // that lock (a trigger): a hold placed or a policy changed meanwhile waits for the erasure, or the erasure for it.
  const done = await sql.begin(async (tx) => {
    await tx`select oms_audit.lock_erasure_rules(${input.tenantId})`;
    const rules = await readRules(tx, input.tenantId, input.minTotalYears);
    const keyIds = (await tx<{ key_id: string }[]>`
      select key_id from oms_audit.subject_keys where tenant_id = ${input.tenantId} and subject_ref = ${ref} and erased_at is null order by created_at`).map((k) => k.key_id);
    if (!keyIds.length) return null; // erased by a concurrent erasure, which held the lock first
    await asTenant(tx, input.tenantId);
    const [last] = await tx`select coalesce(max(seq), 0) as seq from public.audit_ledger where tenant_id = ${input.tenantId}`;
    const checkedUpTo = Number(last!.seq);
    const { hot, archived } = await subjectEvents(tx, env, input.tenantId, ref, rules);
    // The tenant's writers now wait for this transaction: events of the subject stored while it was checked are checked too.
    await tx`select oms_audit.lock_tenant_sequence()`;
    const since = await hotSubjectEvents(tx, input.tenantId, ref, rules.holds, checkedUpTo);
    addCounts(hot.months, since.months);
    addCounts(hot.holds, since.holds);
    const block = blockOf(rules, hot, archived);
    if (block.holds.length || block.retention.length) throw refusal(block);

    // The erasure on the record, in the same transaction as the destruction: both or neither.
    const erasureEvent = parseBatch(
      {
        events: [
          {
            actor_type: input.actor.kind === 'console' ? 'USER' : 'OPERATOR',
            actor_id: input.actor.kind === 'console' ? input.actor.email : input.actor.name,
            object_type: SUBJECT_OBJECT_TYPE,
            object_id: ref,
            event_type: ERASURE_EVENT_TYPE,
            source: 'oms-audit-console',
            context: { reason, key_ids: keyIds, hot_events: block.checked.hot_events, archived_events: block.checked.archived_events, ...(input.actor.kind === 'console' ? { user_id: input.actor.userId } : {}) },
          },
        ],
      },
      1,
    );
    const [eventId] = [...(await appendEventsWithin(sql, tx, { tenantId: input.tenantId, writer }, erasureEvent, NO_OBSERVED_CLIENT))];
    await asOwnRole(tx);
    const gone = await tx<{ key_id: string }[]>`select oms_audit.destroy_subject_keys(${input.tenantId}, ${ref}, ${by}, ${eventId!}) as key_id`;
    const [at] = await tx<{ erased_at: string }[]>`select max(erased_at) as erased_at from oms_audit.subject_keys where tenant_id = ${input.tenantId} and subject_ref = ${ref}`;
    const erasedAt = new Date(at!.erased_at).toISOString();
    await recordErasure(tx, input.tenantId, eventId!, { subject_ref: ref, key_ids: gone.map((d) => d.key_id), erased_at: erasedAt, erased_by: by, erasure_event_id: eventId! });
    return { destroyed: gone, erasedAt, eventId: eventId!, events: block.checked.hot_events };
  });
  if (!done) return eraseSubject(sql, input);
  const { destroyed, erasedAt, eventId, events } = done;
  forgetSubjectKeys(input.tenantId);
  // The erased record goes to the anchor location now, like retention's own (else the server's anchoring job takes it).
  await anchorPending(sql, env, [RETENTION_RECORD_SOURCE], [input.tenantId]);
  const anchored = await anchorErasures(
    env,
    destroyed.map((d) => ({ tenant_id: input.tenantId, key_id: d.key_id, subject_ref: ref, erased_at: erasedAt, erased_by: by, erasure_event_id: eventId })),
  );
  return { subject_ref: ref, erased: true, key_ids: destroyed.map((d) => d.key_id), events, erasure_event_id: eventId, erased_at: erasedAt, erasure_anchored: anchored };
}
