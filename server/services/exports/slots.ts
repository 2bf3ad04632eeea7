/**
 * How many exports run at once, and what a running export reports. The
 * export calls acquire() before it opens anything, progress() with the bytes
 * it has produced, and the release function acquire() returned once it has
 * ended, however it ended. Each export holds database connections for its
 * whole duration, so the process runs a few at a time.
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { TenantClaims } from '@/supabase/functions/_shared/db.ts';

/** Exports at once per server process. */
export const MAX_CONCURRENT_EXPORTS = 2;

const holder = globalThis as typeof globalThis & { __omsAuditExportsRunning?: number };

export interface ExportSlot {
  /** Bytes produced so far (called as they are handed to the reader). */
  progress(bytes: number): void;
  /** Frees the slot; further calls do nothing. */
  release(): void;
}

/** A slot for one export of the tenant, or a 503 to retry later. */
export function acquireExportSlot(_claims: TenantClaims): ExportSlot {
  const running = holder.__omsAuditExportsRunning ?? 0;
  if (running >= MAX_CONCURRENT_EXPORTS) throw new AuditError('unavailable', 'Too many exports are running; retry in a minute', [], 30);
  holder.__omsAuditExportsRunning = running + 1;
  let released = false;
  return {
    progress: () => {},
    release: () => {
      if (released) return;
      released = true;
      holder.__omsAuditExportsRunning = Math.max(0, (holder.__omsAuditExportsRunning ?? 1) - 1);
    },
  };
}
