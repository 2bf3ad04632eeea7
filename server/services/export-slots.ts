/**
 * Export slots: each streaming export holds a database connection and a
 * repeatable-read snapshot for as long as its reader takes, so the process
 * runs at most MAX_CONCURRENT_EXPORTS at once and a tenant at most
 * EXPORTS_PER_TENANT (fewer), and an export whose reader takes nothing for
 * EXPORT_STALL_SECONDS while data waits for it is ended, which frees its slot.
 * No tenant can hold every slot, and none can hold one for ever by reading
 * nothing. A reader that waits on the database (a slow query) is not stalled.
 *
 * The export (server/services/export.ts) acquires a slot before it starts,
 * reports progress each time its reader asks for more, and releases the slot
 * once its connection is closed.
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { env } from '@/server/env.ts';

export interface ExportLimits {
  maxConcurrent: number;
  perTenant: number;
  /** 0: an export is never ended for its reader's sake. */
  stallMs: number;
}

export interface ExportSlot {
  /** The reader asked for more: the stall clock starts again. */
  progress(): void;
  /**
   * Ends the export through `end` once its reader has asked for nothing for
   * the stall time while `waiting()` says data is there for it.
   */
  watch(waiting: () => boolean, end: (reason: AuditError) => void): void;
  /** Frees the slot; later calls do nothing. */
  release(): void;
}

/** Seconds a refused export is asked to wait. */
export const EXPORT_RETRY_AFTER_SECONDS = 30;

export class ExportSlots {
  private total = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(readonly limits: ExportLimits) {}

  running(tenantId?: string): number {
    return tenantId === undefined ? this.total : (this.byTenant.get(tenantId) ?? 0);
  }

  /** A slot for one export of the tenant, or 429 (the tenant's limit) / 503 (the process's), with Retry-After. */
  acquire(tenantId: string): ExportSlot {
    const mine = this.byTenant.get(tenantId) ?? 0;
    if (mine >= this.limits.perTenant) {
      throw new AuditError('rate_limited', `This tenant already has ${mine} exports running, its limit; retry when one has finished`, [], EXPORT_RETRY_AFTER_SECONDS);
    }
    if (this.total >= this.limits.maxConcurrent) {
      throw new AuditError('unavailable', 'Too many exports are running on this server; retry in a minute', [], EXPORT_RETRY_AFTER_SECONDS);
    }
    this.total++;
    this.byTenant.set(tenantId, mine + 1);
    let last = performance.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    let released = false;
    const { stallMs } = this.limits;
    return {
      progress: () => {
        last = performance.now();
      },
      watch: (waiting, end) => {
        if (stallMs <= 0 || released) return;
        timer = setInterval(() => {
          // Waiting on the database is not the reader's stall.
          if (!waiting()) last = performance.now();
          else if (performance.now() - last >= stallMs) {
            clearInterval(timer);
            end(new AuditError('unavailable', `The export was ended: its reader took no data for ${Math.round(stallMs / 1000)} s`));
          }
        }, Math.min(1000, Math.max(50, stallMs / 4)));
        timer.unref?.();
      },
      release: () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        this.total--;
        const left = (this.byTenant.get(tenantId) ?? 1) - 1;
        if (left > 0) this.byTenant.set(tenantId, left);
        else this.byTenant.delete(tenantId);
      },
    };
  }
}

const holder = globalThis as typeof globalThis & { __omsAuditExportSlots?: ExportSlots };

/** The process's export slots (one per process, from the environment). */
export function exportSlots(): ExportSlots {
  const { MAX_CONCURRENT_EXPORTS, EXPORTS_PER_TENANT, EXPORT_STALL_SECONDS } = env();
  holder.__omsAuditExportSlots ??= new ExportSlots({ maxConcurrent: MAX_CONCURRENT_EXPORTS, perTenant: EXPORTS_PER_TENANT, stallMs: EXPORT_STALL_SECONDS * 1000 });
  return holder.__omsAuditExportSlots;
}
