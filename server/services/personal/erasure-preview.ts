/**
 * What erasing a data subject would do, before anything is done: shown to a
 * tenant admin on the console's erasure page so the decision is made on the
 * facts — the subject's keys, its events in PostgreSQL and in archived months,
 * and the legal holds and retention duty that would refuse the erasure (the
 * same report eraseSubject refuses with). Changes nothing.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { Env } from '@/server/env.ts';
import { getPolicy } from '../retention/policy.ts';
import { erasureBlock, type ErasureBlock } from './erase.ts';
import { refOf } from './keys.ts';
import { personalSettings } from './settings.ts';

export type ErasureStatus =
  /** The tenant keeps no personal data under per-subject keys. */
  | 'not_declared'
  /** Nothing was ever sealed for this subject id. */
  | 'unknown_subject'
  /** Every key of the subject was destroyed before. */
  | 'erased'
  /** A legal hold or the retention duty refuses the erasure now. */
  | 'blocked'
  /** An archived month could not be read: the checks are incomplete, so the erasure is refused. */
  | 'unreadable'
  | 'erasable';

export interface ErasurePreview {
  status: ErasureStatus;
  subject_ref: string | null;
  outside_retention: boolean;
  retention_total_years: number;
  keys: { key_id: string; created_at: string; erased_at: string | null; erasure_event_id: string | null }[];
  block: ErasureBlock | null;
  /** Why the checks could not be completed (status unreadable). */
  problem: string | null;
}

export async function erasurePreview(sql: Sql, input: { tenantId: string; subjectId: string; minTotalYears: number; env: Env }): Promise<ErasurePreview> {
  const settings = await personalSettings(sql, input.tenantId, true);
  const policy = await getPolicy(sql, input.tenantId, input.minTotalYears);
  const base = { outside_retention: settings?.outsideRetention ?? false, retention_total_years: policy.total_years, block: null, problem: null };
  if (!settings) return { ...base, status: 'not_declared', subject_ref: null, keys: [] };
  const ref = await refOf(sql, input.tenantId, input.subjectId);
  const keys = (
    await sql<{ key_id: string; created_at: Date; erased_at: Date | null; erasure_event_id: string | null }[]>`
      select key_id, created_at, erased_at, erasure_event_id from oms_audit.subject_keys where tenant_id = ${input.tenantId} and subject_ref = ${ref} order by created_at`
  ).map((k) => ({ key_id: k.key_id, created_at: new Date(k.created_at).toISOString(), erased_at: k.erased_at && new Date(k.erased_at).toISOString(), erasure_event_id: k.erasure_event_id }));
  if (!keys.length) return { ...base, status: 'unknown_subject', subject_ref: ref, keys };
  if (keys.every((k) => k.erased_at)) return { ...base, status: 'erased', subject_ref: ref, keys };
  try {
    const block = await erasureBlock(sql, input.tenantId, ref, input.minTotalYears, input.env);
    return { ...base, status: block.holds.length || block.retention.length ? 'blocked' : 'erasable', subject_ref: ref, keys, block };
  } catch (err) {
    if (err instanceof AuditError && err.code === 'unavailable') return { ...base, status: 'unreadable', subject_ref: ref, keys, problem: err.message };
    throw err;
  }
}
