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

export type PersonalDataSealer = (sql: Sql, tenantId: string, rows: StampedEvent[]) => Promise<void>;

const holder = globalThis as typeof globalThis & { __omsAuditSealer?: PersonalDataSealer; __omsAuditSealingTenants?: Map<string, { seals: boolean; until: number }> };

export function setPersonalDataSealer(sealer: PersonalDataSealer | undefined): void {
  holder.__omsAuditSealer = sealer;
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
