/**
 * The server's V8 heap limit, derived from MEMORY_LIMIT_MB. Write admission
 * bounds the memory requests in flight hold, but V8 sizes its heap from the
 * machine (about 4 GB here) and collects lazily below that, so garbage of
 * finished requests alone can carry resident memory past MEMORY_LIMIT_MB.
 * With the old generation capped a little below the limit, V8 collects as it
 * approaches the cap; the overload test's waves then peak near 400 MB
 * instead of 500–770 MB. `npm start` passes the flag; a process started
 * without it says so at boot.
 */
import v8 from 'node:v8';

/** Room under MEMORY_LIMIT_MB for what is not V8's old generation: code, the young generation, buffers. */
export const NON_HEAP_MB = 128;

export const heapLimitMb = (memoryLimitMb: number) => memoryLimitMb - NON_HEAP_MB;

/** The node flag for a MEMORY_LIMIT_MB (npm start computes the same in its shell line). */
export const heapFlag = (memoryLimitMb: number) => `--max-old-space-size=${heapLimitMb(memoryLimitMb)}`;

/** A line for the boot log when this process's heap may grow past MEMORY_LIMIT_MB, else null. */
export function heapLimitWarning(memoryLimitMb: number): string | null {
  const limitMb = Math.round(v8.getHeapStatistics().heap_size_limit / 1024 / 1024);
  if (limitMb <= memoryLimitMb) return null;
  return `the V8 heap may grow to ${limitMb} MB, above MEMORY_LIMIT_MB (${memoryLimitMb}): start node with ${heapFlag(memoryLimitMb)} (npm start does) so garbage is collected before memory passes the limit`;
}
