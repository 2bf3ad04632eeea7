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
 * acting person and the subject only by its pseudonymous ref), written before
 * the keys are destroyed, and the destroyed keys name that event; the
 * destruction and its signed retention record (kind "erased", anchored outside
 * the database with the other records) commit together.
 */
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { withTenant, type Sql, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { Writer } from '@/supabase/functions/_shared/writers.ts';
import { logEvents } from '../ingest.ts';
import { getPolicy } from '../retention/policy.ts';
import { findErasureRecord, issueErasureRecord, type RecordErasure } from '../retention/records.ts';
import { signer } from '../integrity/signing-key.ts';
import { anchorPending } from '../anchors/anchoring.ts';
import { RETENTION_RECORD_SOURCE } from '../anchors/sources.ts';
import { env as serverEnv, type Env } from '@/server/env.ts';
import { anchorErasures } from './erasure-anchors.ts';
import { forgetSubjectKeys, refOf } from './keys.ts';
import { personalSettings } from './settings.ts';
import { archivedSubjectEvents, holdScopeExpr, subjectSql, type HoldScope } from './archived-subject.ts';
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

/**
 * Why the subject may not be erased now (empty lists: it may), over its events
 * in PostgreSQL and in archived months (archived-subject.ts). Throws, naming
 * the part, when an archived month cannot be read.
 */
export async function erasureBlock(sql: Sql, tenantId: string, ref: string, minTotalYears: number, env: Env = serverEnv()): Promise<ErasureBlock> {
  const settings = await personalSettings(sql, tenantId, true);
  const holds = await sql<(HoldScope & { reason: string })[]>`
    select id, reason, object_type, object_id,
           to_char(from_at at time zone 'UTC', ${sql.unsafe(CANONICAL_TIME)}) as from_at, to_char(to_at at time zone 'UTC', ${sql.unsafe(CANONICAL_TIME)}) as to_at
    from oms_audit.legal_holds where tenant_id = ${tenantId} and released_at is null order by created_at`;
  const policy = await getPolicy(sql, tenantId, minTotalYears);
  return withTenant(sql, { tenant_id: tenantId, sub: 'oms-audit-erasure', role: 'authenticated' }, async (tx) => {
    const hotHolds = new Map<string, number>();
    for (const h of holds) {
      const [row] = await tx`
        select count(*)::int as n from public.audit_events
        where ${wherePostgres(tx, tenantId, holdScopeExpr(h))} and ${subjectSql(tx, ref)}`;
      hotHolds.set(h.id, row!.n as number);
    }
    const hotMonths = await tx`
      select to_char(date_trunc('month', occurred_at at time zone 'UTC'), 'YYYY-MM') as month, count(*)::int as events
      from public.audit_events
      where tenant_id = ${tenantId} and ${subjectSql(tx, ref)}
      group by 1 order by 1`;
    // After the query of audit_events, in the same transaction: a month dropped meanwhile is seen in one place or the other.
    const archived = await archivedSubjectEvents(tx, env, tenantId, ref, holds);

    const sum = (ns: Iterable<number>) => [...ns].reduce((a, b) => a + b, 0);
    const checked = { hot_events: sum(hotMonths.map((m) => m.events as number)), archived_events: sum(archived.months.values()) };
    const block: ErasureBlock = { holds: [], retention: [], checked };
    for (const h of holds) {
      const inArchive = archived.holds.get(h.id) ?? 0;
      const events = (hotHolds.get(h.id) ?? 0) + inArchive;
      if (events > 0) block.holds.push({ id: h.id, reason: h.reason, events, archived_events: inArchive });
    }
    if (!settings?.outsideRetention) {
      const months = [
        ...hotMonths.map((m) => ({ month: m.month as string, events: m.events as number, archived: false })),
        ...[...archived.months].map(([month, events]) => ({ month, events, archived: true })),
      ].sort((a, b) => a.month.localeCompare(b.month));
      const now = Date.now();
      for (const m of months) {
        const until = retainedUntil(m.month, policy.total_years);
        if (Date.parse(until) > now) block.retention.push({ ...m, retained_until: until });
      }
    }
    return block;
  });
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
  const block = await erasureBlock(sql, input.tenantId, ref, input.minTotalYears, input.env);
  if (block.holds.length || block.retention.length) {
    const why = [
      ...block.holds.map((h) => `legal hold ${h.id} ("${h.reason}") covers ${h.events} of its events${h.archived_events ? ` (${h.archived_events} in archived months)` : ''}`),
      ...block.retention.map((r) => `the retention policy requires ${r.events} record(s) of ${r.month}${r.archived ? ' (archived)' : ''} until ${r.retained_until}`),
    ];
    const error = new AuditError('forbidden', `The subject cannot be erased now: ${why.join('; ')}. Nothing was changed.`, [{ field: 'subject', message: why.join('; ') }]);
    Object.assign(error, { block });
    throw error;
  }
  const [counted] = await withTenant(sql, { tenant_id: input.tenantId, sub: 'oms-audit-erasure', role: 'authenticated' }, (tx) =>
    tx`select count(*)::int as n from public.audit_events where tenant_id = ${input.tenantId} and ${subjectSql(tx, ref)}`,
  );
  const events = counted!.n as number;
  const keyIds = live.map((k) => k.key_id);

  // The erasure on the record first: if destroying the keys then failed, running it again finishes it.
  const writer: Writer = input.actor.kind === 'console' ? { kind: 'console', userId: input.actor.userId } : { kind: 'operator', name: input.actor.name };
  const actorEvent = parseBatch(
    {
      events: [
        {
          actor_type: input.actor.kind === 'console' ? 'USER' : 'OPERATOR',
          actor_id: input.actor.kind === 'console' ? input.actor.email : input.actor.name,
          object_type: SUBJECT_OBJECT_TYPE,
          object_id: ref,
          event_type: ERASURE_EVENT_TYPE,
          source: 'oms-audit-console',
          context: { reason, key_ids: keyIds, hot_events: events, archived_events: block.checked.archived_events, ...(input.actor.kind === 'console' ? { user_id: input.actor.userId } : {}) },
        },
      ],
    },
    1,
  );
  const recorded = await logEvents(sql, { tenantId: input.tenantId, writer }, actorEvent, { ip: null, userAgent: null }, 'cli');
  const eventId = recorded.ids[0]!;
  const by = input.actor.kind === 'console' ? `console:${input.actor.userId}` : `operator:${input.actor.name}`;
  // The keys are destroyed and the erasure's signed retention record issued in one transaction: either both or neither.
  const { destroyed, erasedAt } = await sql.begin(async (tx) => {
    const gone = await tx<{ key_id: string }[]>`select oms_audit.destroy_subject_keys(${input.tenantId}, ${ref}, ${by}, ${eventId}) as key_id`;
    const [done] = await tx<{ erased_at: string }[]>`select max(erased_at) as erased_at from oms_audit.subject_keys where tenant_id = ${input.tenantId} and subject_ref = ${ref}`;
    const at = new Date(done!.erased_at).toISOString();
    await recordErasure(tx, input.tenantId, eventId, { subject_ref: ref, key_ids: gone.map((d) => d.key_id), erased_at: at, erased_by: by, erasure_event_id: eventId });
    return { destroyed: gone, erasedAt: at };
  });
  forgetSubjectKeys(input.tenantId);
  // The erased record goes to the anchor location now, like retention's own (else the server's anchoring job takes it).
  await anchorPending(sql, input.env ?? serverEnv(), [RETENTION_RECORD_SOURCE], [input.tenantId]);
  const anchored = await anchorErasures(
    input.env ?? serverEnv(),
    destroyed.map((d) => ({ tenant_id: input.tenantId, key_id: d.key_id, subject_ref: ref, erased_at: erasedAt, erased_by: by, erasure_event_id: eventId })),
  );
  return { subject_ref: ref, erased: true, key_ids: destroyed.map((d) => d.key_id), events, erasure_event_id: eventId, erased_at: erasedAt, erasure_anchored: anchored };
}
