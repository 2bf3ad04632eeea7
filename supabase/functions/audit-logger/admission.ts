/**
 * Write admission of the function's own process, by bytes (the same charges as
 * the Node server's, supabase/functions/_shared/write-budget.ts): a request is
 * charged before its body is read, and refused with 503 + Retry-After when the
 * function's budget (MAX_INFLIGHT_WRITE_BYTES, derived from MEMORY_LIMIT_MB)
 * cannot take it. A chunked body is charged as the largest the function
 * accepts until it has arrived, then as its real size.
 */
import { LIMITS } from '../_shared/limits.ts';
import { atCapacity, WriteBudget, writeCharge, type WriteTicket } from '../_shared/write-budget.ts';

/** Resident memory of the idle function (Deno, the pool) plus headroom for garbage not yet collected. */
const MEMORY_NOT_FOR_WRITES_MB = 96;

/** Bytes of requests in flight when MAX_INFLIGHT_WRITE_BYTES is not set. */
export function functionWriteBudgetBytes(memoryLimitMb: number, maxInflightWriteBytes?: number): number {
  return maxInflightWriteBytes ?? Math.max(16, memoryLimitMb - MEMORY_NOT_FOR_WRITES_MB) * 1024 * 1024;
}

const charge = (bodyBytes: number) => writeCharge(Math.min(bodyBytes, LIMITS.edgeBodyBytes), LIMITS.edgeBatch);

export interface Admitted {
  ticket: WriteTicket;
  /** The request to read the body from (a chunked body is counted as it is read). */
  req: Request;
}

/** Admits a write, or throws 503 with Retry-After. Release the ticket once the request is answered. */
export function admitWrite(budget: WriteBudget, req: Request): Admitted {
  const declared = req.headers.get('content-length');
  const ticket = budget.admit(charge(declared === null ? LIMITS.edgeBodyBytes : Number(declared)));
  if (!ticket) throw atCapacity();
  if (declared !== null || !req.body) return { ticket, req };
  let bytes = 0;
  const counted = req.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
      flush() {
        ticket.resize(charge(bytes));
      },
    }),
  );
  return { ticket, req: new Request(req, { body: counted, duplex: 'half' } as RequestInit) };
}
