/**
 * Retention policies and legal holds of a tenant. Every change is recorded in
 * the retention log and the tenant's audit trail (log.ts).
 */
import type { AnySql, Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { flushRetentionEvents, recordRetention } from './log.ts';
import { personSql } from '../people.ts';

export const DEFAULT_POLICY = { hot_months: 13, total_years: 10 } as const;

export interface RetentionPolicy {
  tenant_id: string;
  /** Months a month stays in PostgreSQL after it ends. */
  hot_months: number;
  /** Years a month is kept in all (hot, then archived) after it ends. */
  total_years: number;
  /** No policy was set: the defaults apply. */
  is_default: boolean;
  /** The operator's floor for total_years. */
  min_total_years: number;
  updated_at: string | null;
  updated_by: string | null;
}

export async function getPolicy(sql: AnySql, tenantId: string, minTotalYears: number): Promise<RetentionPolicy> {
  const [row] = await sql`select hot_months, total_years, updated_at, ${sql.unsafe(personSql('retention_policies.updated_by'))} as updated_by from oms_audit.retention_policies where tenant_id = ${tenantId}`;
  return {
    tenant_id: tenantId,
    hot_months: (row?.hot_months as number) ?? DEFAULT_POLICY.hot_months,
    total_years: (row?.total_years as number) ?? Math.max(DEFAULT_POLICY.total_years, minTotalYears),
    is_default: !row,
    min_total_years: minTotalYears,
    updated_at: (row?.updated_at as string) ?? null,
    updated_by: (row?.updated_by as string) ?? null,
  };
}

export interface PolicyChange {
  hot_months?: number;
  total_years?: number;
}

/** Sets a tenant's policy. A total retention below the operator's floor is refused, and so is a hot window longer than the total. */
export async function setPolicy(sql: Sql, input: { tenantId: string; change: PolicyChange; actor: string; minTotalYears: number }): Promise<RetentionPolicy> {
  const { change } = input;
  for (const [field, value, max] of [['hot_months', change.hot_months, 600], ['total_years', change.total_years, 100]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) {
      throw new AuditError('invalid_request', `${field} must be a whole number from 1 to ${max}`, [{ field, message: `must be a whole number from 1 to ${max}` }]);
    }
  }
  const policy = await sql.begin(async (tx) => {
    const [tenant] = await tx`select id from oms_audit.tenants where id = ${input.tenantId}`;
    if (!tenant) throw new AuditError('not_found', `No tenant ${input.tenantId}`);
    // One change at a time per tenant, so "before" is what the change replaced (the lock erasures take too).
    await tx`select oms_audit.lock_erasure_rules(${input.tenantId})`;
    const before = await getPolicy(tx, input.tenantId, input.minTotalYears);
    const after = { hot_months: change.hot_months ?? before.hot_months, total_years: change.total_years ?? before.total_years };
    if (after.total_years < input.minTotalYears) {
      throw new AuditError('invalid_request', `Total retention of ${after.total_years} years is below the operator's minimum of ${input.minTotalYears} years; nothing was changed`, [
        { field: 'total_years', message: `must be at least ${input.minTotalYears} (the operator's floor)` },
      ]);
    }
    if (after.hot_months > after.total_years * 12) {
      throw new AuditError('invalid_request', `The hot window (${after.hot_months} months) cannot be longer than the total retention (${after.total_years} years)`, [
        { field: 'hot_months', message: 'must not exceed the total retention' },
      ]);
    }
    await tx`
      insert into oms_audit.retention_policies (tenant_id, hot_months, total_years, updated_by)
      values (${input.tenantId}, ${after.hot_months}, ${after.total_years}, ${input.actor})
      on conflict (tenant_id) do update set hot_months = excluded.hot_months, total_years = excluded.total_years, updated_at = now(), updated_by = excluded.updated_by`;
    await recordRetention(tx, {
      tenantId: input.tenantId,
      action: 'policy_change',
      objectId: input.tenantId,
      actor: input.actor,
      detail: { before: { hot_months: before.hot_months, total_years: before.total_years }, after },
    });
    return getPolicy(tx, input.tenantId, input.minTotalYears);
  });
  await flushRetentionEvents(sql, input.tenantId);
  return policy;
}

export interface LegalHold {
  id: string;
  tenant_id: string;
  object_type: string | null;
  object_id: string | null;
  /** occurred_at range in scope (from inclusive, to exclusive); null: unbounded. */
  from: string | null;
  to: string | null;
  reason: string;
  created_at: string;
  created_by: string;
  released_at: string | null;
  released_by: string | null;
  release_reason: string | null;
  active: boolean;
}

// Who placed and released a hold are read as their email (server/services/people.ts).
const HOLD_COLUMNS = `id, tenant_id, object_type, object_id, from_at as "from", to_at as "to", reason, created_at, ${personSql('legal_holds.created_by')} as created_by,
  released_at, ${personSql('legal_holds.released_by')} as released_by, release_reason, released_at is null as active`;

export async function listHolds(sql: AnySql, tenantId: string, options: { includeReleased?: boolean } = {}): Promise<LegalHold[]> {
  return (await sql`
    select ${sql.unsafe(HOLD_COLUMNS)} from oms_audit.legal_holds
    where tenant_id = ${tenantId} ${options.includeReleased ? sql`` : sql`and released_at is null`}
    order by created_at desc, id`) as unknown as LegalHold[];
}

export interface HoldInput {
  tenantId: string;
  reason: string;
  objectType?: string | null;
  objectId?: string | null;
  /** Canonical timestamps (parsed by the caller). */
  from?: string | null;
  to?: string | null;
  actor: string;
}

export async function placeHold(sql: Sql, input: HoldInput): Promise<LegalHold> {
  const reason = input.reason.trim();
  if (!reason || reason.length > 2000) throw new AuditError('invalid_request', 'A legal hold needs a reason (1 to 2000 characters)', [{ field: 'reason', message: 'must be 1 to 2000 characters' }]);
  if (input.objectId && !input.objectType) throw new AuditError('invalid_request', 'An object hold names the object type too', [{ field: 'object_type', message: 'is required with object_id' }]);
  if (input.from && input.to && input.from >= input.to) throw new AuditError('invalid_request', '"from" must be before "to"', [{ field: 'from', message: 'must be before "to"' }]);
  const hold = await sql.begin(async (tx) => {
    const [tenant] = await tx`select id from oms_audit.tenants where id = ${input.tenantId}`;
    if (!tenant) throw new AuditError('not_found', `No tenant ${input.tenantId}`);
    const [row] = await tx`
      insert into oms_audit.legal_holds (tenant_id, object_type, object_id, from_at, to_at, reason, created_by)
      values (${input.tenantId}, ${input.objectType ?? null}, ${input.objectId ?? null}, ${input.from ?? null}, ${input.to ?? null}, ${reason}, ${input.actor})
      returning ${tx.unsafe(HOLD_COLUMNS)}`;
    const hold = row as unknown as LegalHold;
    await recordRetention(tx, { tenantId: input.tenantId, action: 'hold_place', objectId: hold.id, actor: input.actor, detail: { reason, scope: scopeOf(hold) } });
    return hold;
  });
  await flushRetentionEvents(sql, input.tenantId);
  return hold;
}

/** Releases a hold. A release needs a written reason: it lets data be deleted that a court or regulator asked to keep. */
export async function releaseHold(sql: Sql, input: { tenantId: string; id: string; reason: string; actor: string }): Promise<LegalHold> {
  const reason = input.reason?.trim() ?? '';
  if (!reason || reason.length > 2000) {
    throw new AuditError('invalid_request', 'Releasing a legal hold needs a reason (1 to 2000 characters); the hold was not released', [{ field: 'reason', message: 'must be 1 to 2000 characters' }]);
  }
  const hold = await sql.begin(async (tx) => {
    const [row] = await tx`
      update oms_audit.legal_holds set released_at = now(), released_by = ${input.actor}, release_reason = ${reason}
      where id = ${input.id} and tenant_id = ${input.tenantId} and released_at is null
      returning ${tx.unsafe(HOLD_COLUMNS)}`;
    if (!row) {
      const [existing] = await tx`select ${tx.unsafe(HOLD_COLUMNS)} from oms_audit.legal_holds where id = ${input.id} and tenant_id = ${input.tenantId}`;
      if (!existing) throw new AuditError('not_found', `No legal hold ${input.id}`);
      return existing as unknown as LegalHold; // released before: releasing again changes nothing
    }
    const hold = row as unknown as LegalHold;
    await recordRetention(tx, { tenantId: input.tenantId, action: 'hold_release', objectId: hold.id, actor: input.actor, detail: { reason: hold.release_reason, scope: scopeOf(hold), placed_reason: hold.reason } });
    return hold;
  });
  await flushRetentionEvents(sql, input.tenantId);
  return hold;
}

export function scopeOf(hold: Pick<LegalHold, 'object_type' | 'object_id' | 'from' | 'to'>): Record<string, string | null> {
  return { object_type: hold.object_type, object_id: hold.object_id, from: hold.from, to: hold.to };
}

/** Active holds of a tenant whose time range overlaps [from, to). Object holds are returned too: the caller checks the object. */
export function holdsOverlapping(holds: LegalHold[], from: string, to: string): LegalHold[] {
  return holds.filter((h) => h.active && (!h.from || h.from < to) && (!h.to || h.to > from));
}
