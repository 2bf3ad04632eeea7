/**
 * The order's fills and allocations as of a moment: how much was filled, at
 * what average price, and how much allocated to which accounts. Read from the
 * related events the order's page gathers: a fill is any event carrying
 * numeric `last_qty` and `last_px` in its context (FIX ExecutionReport fields);
 * an allocation is the latest event of each ALLOCATION object with an
 * `allocations` list of { account, quantity }.
 *
 * Arithmetic is decimal, not floating point: 100 × 187.25 + 200 × 187.5 is
 * exactly 56225, and the average price is rounded half-up to AVG_DECIMALS
 * decimals (shown as such), never silently.
 */
export interface RelatedEvent {
  id: string;
  occurred_at: string;
  object_type: string;
  object_id: string;
  context: Record<string, unknown>;
}

export interface FillSummary {
  fills: number;
  filled_quantity: string;
  /** Σ(qty × px) / Σ qty, rounded half-up to AVG_DECIMALS decimals; null before the first fill. */
  average_price: string | null;
  allocated_quantity: string;
  allocations: { allocation_id: string; account: string; quantity: string }[];
}

export const AVG_DECIMALS = 6;

/** A decimal as an integer of units of 10^-scale. */
interface Dec {
  units: bigint;
  scale: number;
}

function dec(n: number): Dec | null {
  if (!Number.isFinite(n)) return null;
  const text = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text);
  if (!m) return null;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  let scale = (m[3] ?? '').length - Number(m[4] ?? 0);
  let units = BigInt(digits);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: m[1] ? -units : units, scale };
}

const rescale = (d: Dec, scale: number): bigint => d.units * 10n ** BigInt(scale - d.scale);
const add = (a: Dec, b: Dec): Dec => {
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(a, scale) + rescale(b, scale), scale };
};
const mul = (a: Dec, b: Dec): Dec => ({ units: a.units * b.units, scale: a.scale + b.scale });

function text(d: Dec): string {
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const whole = digits.slice(0, digits.length - d.scale);
  const frac = d.scale ? digits.slice(digits.length - d.scale).replace(/0+$/, '') : '';
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** a / b rounded half-up (away from zero) to `decimals`. */
function divide(a: Dec, b: Dec, decimals: number): Dec {
  // a/b = (a.units / 10^a.scale) / (b.units / 10^b.scale); result in units of 10^-decimals.
  const num = a.units * 10n ** BigInt(decimals + b.scale);
  const den = b.units * 10n ** BigInt(a.scale);
  const negative = num < 0n !== den < 0n;
  const n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  let q = n / d;
  if ((n % d) * 2n >= d) q += 1n;
  return { units: negative ? -q : q, scale: decimals };
}

const ZERO: Dec = { units: 0n, scale: 0 };

export function fillsAsOf(events: readonly RelatedEvent[], at: string): FillSummary {
  let fills = 0;
  let quantity = ZERO;
  let notional = ZERO;
  const latestAllocation = new Map<string, RelatedEvent>();
  for (const e of events) {
    if (e.occurred_at > at) break;
    const qty = typeof e.context.last_qty === 'number' ? dec(e.context.last_qty) : null;
    const px = typeof e.context.last_px === 'number' ? dec(e.context.last_px) : null;
    if (qty && px) {
      fills++;
      quantity = add(quantity, qty);
      notional = add(notional, mul(qty, px));
    }
    if (e.object_type === 'ALLOCATION' && Array.isArray(e.context.allocations)) latestAllocation.set(e.object_id, e);
  }
  const allocations: FillSummary['allocations'] = [];
  let allocated = ZERO;
  for (const [allocationId, e] of latestAllocation) {
    for (const a of e.context.allocations as unknown[]) {
      const entry = (a ?? {}) as { account?: unknown; quantity?: unknown };
      const q = typeof entry.quantity === 'number' ? dec(entry.quantity) : null;
      if (!q) continue;
      allocated = add(allocated, q);
      allocations.push({ allocation_id: allocationId, account: String(entry.account ?? '—'), quantity: text(q) });
    }
  }
  return {
    fills,
    filled_quantity: text(quantity),
    average_price: quantity.units === 0n ? null : text(divide(notional, quantity, AVG_DECIMALS)),
    allocated_quantity: text(allocated),
    allocations,
  };
}
