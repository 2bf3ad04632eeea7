/**
 * Write admission by bytes, for every process that accepts batches (the Node
 * server and the audit-logger edge function): each write request is charged,
 * before its body is read, the memory it will hold — its body, the values
 * JSON.parse and the contract make of it, the stamped rows and the insert's
 * parameters — and is refused with 503 + Retry-After when the charges of the
 * requests in flight would pass the process's budget. A count of requests alone
 * cannot bound memory: one request may carry 80 bytes or 4 MiB.
 *
 * The figures below come from bench/write-memory.ts (heap per stage of a
 * 500-event batch, for the shapes a client can send) and from the overload
 * test's waves against a real server; docs/design.md ("Bounded work") has both.
 */
import { AuditError } from './errors.ts';

export const WRITE_COST = {
  /**
   * Heap per byte of body, kept alive or left as garbage while the request is
   * handled: the body's text, the parsed values, the contract's output, the
   * canonical context JSON, the insert's array parameters.
   */
  perBodyByte: 20,
  /** Per event a request can carry: the objects and strings of one stamped row, whatever its size. */
  perEvent: 3 * 1024,
  /** Per request: the framework's request and response objects, headers, the answer. */
  perRequest: 64 * 1024,
} as const;

/** The smallest JSON an event can be (the five required fields, one character each). */
const MIN_EVENT_JSON_BYTES = 80;

/**
 * What a write request with a body of `bodyBytes` is charged: the body's
 * expansion plus a fixed cost per event it can hold (at most `maxEvents`, and
 * no more than that many minimal events fit in the body).
 */
export function writeCharge(bodyBytes: number, maxEvents: number): number {
  const events = Math.min(maxEvents, Math.ceil(bodyBytes / MIN_EVENT_JSON_BYTES));
  return WRITE_COST.perRequest + bodyBytes * WRITE_COST.perBodyByte + events * WRITE_COST.perEvent;
}

/** A request's share of the budget, held until the request is answered. */
export interface WriteTicket {
  readonly charge: number;
  /** Changes the charge (a chunked body's, once its real size is known). */
  resize(charge: number): void;
  /** Gives the charge back; later calls do nothing. */
  release(): void;
}

export class WriteBudget {
  private bytesInFlight = 0;
  private requestsInFlight = 0;

  constructor(
    /** Most bytes charged at once. */
    readonly maxBytes: number,
    /** Most write requests at once, whatever their size. */
    readonly maxRequests: number,
  ) {}

  get bytes(): number {
    return this.bytesInFlight;
  }

  get requests(): number {
    return this.requestsInFlight;
  }

  /**
   * Admits a request charged `charge` bytes, or returns null when the budget
   * cannot take it. A request alone is always admitted, so a budget smaller
   * than one request's charge slows writes down instead of stopping them.
   */
  admit(charge: number): WriteTicket | null {
    if (this.requestsInFlight >= this.maxRequests) return null;
    if (this.requestsInFlight > 0 && this.bytesInFlight + charge > this.maxBytes) return null;
    this.bytesInFlight += charge;
    this.requestsInFlight++;
    return new Ticket(this, charge);
  }

  /** Ticket's bookkeeping (a class, not closures: one object per request on the hot path of single events). */
  static adjust(budget: WriteBudget, bytes: number, requests: number): void {
    budget.bytesInFlight += bytes;
    budget.requestsInFlight += requests;
  }
}

class Ticket implements WriteTicket {
  private released = false;

  constructor(
    private readonly budget: WriteBudget,
    private held: number,
  ) {}

  get charge(): number {
    return this.held;
  }

  resize(next: number): void {
    if (this.released) return;
    WriteBudget.adjust(this.budget, next - this.held, 0);
    this.held = next;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    WriteBudget.adjust(this.budget, -this.held, -1);
  }
}

/** The answer to a write the budget cannot take: 503, retry in a second, nothing stored. */
export function atCapacity(): AuditError {
  return new AuditError('unavailable', 'The server is at capacity; retry shortly. Nothing was stored.', [], 1);
}
