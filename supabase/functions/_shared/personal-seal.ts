/**
 * The write path's step for personal data. A tenant that declares its
 * personal data (oms_audit.personal_data_settings) has its events sealed
 * under per-subject keys before they are hashed (schema version 3). Sealing
 * needs the master key, which only the oms-audit server and CLI hold: they
 * register a sealer here (server/services/personal/seal.ts). A process without
 * one (the edge function) refuses such a tenant's events rather than store
 * their personal data in clear, and refuses `subject_id`, which only sealed
 * events can carry.
 */
import type { Sql } from './db.ts';
import { AuditError, invalid } from './errors.ts';
import type { StampedEvent } from './ingest.ts';
import { SEALED_MEMBER, SEALED_SCHEMA_VERSION } from './personal-data.ts';

export type PersonalDataSealer = (sql: Sql, tenantId: string, rows: StampedEvent[]) => Promise<void>;

const holder = globalThis as typeof globalThis & {
  __omsAuditSealer?: PersonalDataSealer;
  __omsAuditForgetSealingKeys?: (tenantId: string) => void;
  __omsAuditForgetSealingSettings?: (tenantId: string) => void;
  __omsAuditSealingTenants?: Map<string, { seals: boolean; until: number }>;
};

/**
 * Registers the sealer, how it forgets the tenant's cached keys when one of them turns out destroyed, and how it
 * forgets the tenant's cached settings when the database says the tenant declared its personal data.
 */
export function setPersonalDataSealer(sealer: PersonalDataSealer | undefined, forgetKeys?: (tenantId: string) => void, forgetSettings?: (tenantId: string) => void): void {
  holder.__omsAuditSealer = sealer;
  holder.__omsAuditForgetSealingKeys = forgetKeys;
  holder.__omsAuditForgetSealingSettings = forgetSettings;
}

/**
 * SQLSTATE of oms_audit.require_live_subject_keys: an erasure destroyed a key
 * the batch was sealed under, after it was sealed and before it committed.
 */
export const SEALED_KEY_DESTROYED = 'OA001';

/**
 * SQLSTATE of oms_audit.require_sealing_undeclared: the tenant declared its
 * personal data before this unsealed batch committed (a process that had not
 * noticed yet); nothing was stored, and the batch must be sealed.
 */
export const SEALING_DECLARED = 'OA002';

/** Whether a batch holds rows stored unsealed (which a tenant that declared its personal data refuses). */
export function hasUnsealedRows(rows: readonly StampedEvent[]): boolean {
  return rows.some((r) => r.schema_version !== SEALED_SCHEMA_VERSION);
}

/** Drops what this process read of the tenant's declaration, so the next batch reads it again. */
export function forgetSealingSettings(tenantId: string): void {
  holder.__omsAuditSealingTenants?.delete(tenantId);
  holder.__omsAuditForgetSealingSettings?.(tenantId);
}

/** The subject keys a batch was sealed under (its rows' `personal.sealed` members), each once. */
export function sealedKeyIds(rows: readonly StampedEvent[]): string[] {
  const ids = new Set<string>();
  for (const row of rows) {
    const sealed = row.personal?.[SEALED_MEMBER];
    if (sealed && typeof sealed === 'object') for (const id of Object.keys(sealed)) ids.add(id);
  }
  return [...ids];
}

/** Drops the tenant's cached subject keys, so the next seal reads (or creates) the live ones. */
export function forgetSealingKeys(tenantId: string): void {
  holder.__omsAuditForgetSealingKeys?.(tenantId);
}

/** How long a process trusts what it read of a tenant's settings. */
export const SETTINGS_CACHE_MS = 5000;

async function tenantSeals(sql: Sql, tenantId: string): Promise<boolean> {
  const cache = (holder.__omsAuditSealingTenants ??= new Map());
  const hit = cache.get(tenantId);
  const now = performance.now();
  if (hit && hit.until > now) return hit.seals;
  const [row] = await sql`select 1 as one from oms_audit.personal_data_settings where tenant_id = ${tenantId}`;
  cache.set(tenantId, { seals: !!row, until: now + SETTINGS_CACHE_MS });
  return !!row;
}

export async function sealPersonalData(sql: Sql, tenantId: string, rows: StampedEvent[]): Promise<void> {
  const sealer = holder.__omsAuditSealer;
  if (sealer) return sealer(sql, tenantId, rows);
  if (await tenantSeals(sql, tenantId)) {
    throw new AuditError('unavailable', 'This tenant keeps personal data under per-subject keys, which only the oms-audit server holds: send its events to the server. Nothing was stored.', [], 60);
  }
  const index = rows.findIndex((r) => r.subject_id !== null);
  if (index !== -1) throw invalid([{ index, field: 'subject_id', message: 'needs the tenant to declare its personal data (docs/personal-data.md)' }], 'batch');
}
