/**
 * How many exports run at once, and what a running export reports. The
 * export calls acquireExportSlot() before it opens anything, progress() with
 * the bytes it has produced, and release() once it has ended, however it
 * ended. Each export holds up to two database connections of its own (and
 * DuckDB while it reads archives), so the process runs a few at a time; an
 * export that finds them all busy waits its turn for a while (a burst of
 * small exports passes), then is told to retry.
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { TenantClaims } from '@/supabase/functions/_shared/db.ts';

/** Exports at once per server process. */
export const MAX_CONCURRENT_EXPORTS = 4;
/** How long an export waits for a slot before it is refused (503, retry later). */
export const SLOT_WAIT_MS = 15_000;

export interface ExportSlot {
  /** Bytes produced so far (called as they are handed to the reader). */
  progress(bytes: number): void;
  /** Frees the slot; further calls do nothing. */
  release(): void;
}

interface Slots {
  running: number;
  waiting: (() => void)[];
}
const holder = globalThis as typeof globalThis & { __omsAuditExportSlots?: Slots };
const slots = (holder.__omsAuditExportSlots ??= { running: 0, waiting: [] });

/** A slot for one export of the tenant, waiting up to SLOT_WAIT_MS for one to free; otherwise a 503 to retry later. */
export async function acquireExportSlot(_claims: TenantClaims): Promise<ExportSlot> {
  if (slots.running >= MAX_CONCURRENT_EXPORTS) {
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        slots.waiting.splice(slots.waiting.indexOf(turn), 1);
        reject(new AuditError('unavailable', 'Too many exports are running; retry in a minute', [], 30));
      }, SLOT_WAIT_MS);
      slots.waiting.push(turn);
    });
  } else {
    slots.running++;
  }
  let released = false;
  return {
    progress: () => {},
    release: () => {
      if (released) return;
      released = true;
      // The slot passes to the next export waiting, if any; otherwise it is free.
      const next = slots.waiting.shift();
      if (next) next();
      else slots.running--;
    },
  };
}
