/**
 * Event content for the query benchmark: an OMS's order flow with the skew of a
 * real trail. Tenant sizes, symbols, accounts and traders follow Zipf-like
 * distributions (a few huge, a long tail of rare ones); a small set of "hot"
 * orders (algorithmic parents, GTC orders amended all day) collects hundreds
 * of events each; the rest are ordinary lifecycles of a handful of events.
 */
import type { AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';

export const SYMBOL_COUNT = 3000;
const NAMED = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'JPM', 'XOM', 'BRK.B', 'V', 'ASML', 'SAP', 'NESN'];
const VENUES = ['XNAS', 'XNYS', 'ARCX', 'BATS', 'IEXG', 'XETR'];
const TRADERS = 200;
const ACCOUNTS = 2000;

/** The symbol of Zipf rank `rank` (1 = most traded). */
export const symbolOf = (rank: number) => NAMED[rank - 1] ?? `S${String(rank).padStart(4, '0')}`;

/** mulberry32 */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples ranks 1..n with P(k) ∝ 1/k^s by binary search over the cumulative weights. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let k = 1; k <= n; k++) cumulative[k - 1] = total += 1 / k ** s;
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** Splits `total` events over `tenants` tenants, the k-th getting a share ∝ 1/k^1.1. */
export function tenantSizes(total: number, tenants: number): number[] {
  const weights = Array.from({ length: tenants }, (_, k) => 1 / (k + 1) ** 1.1);
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1000, Math.floor((total * w) / sum)));
  sizes[0]! += total - sizes.reduce((a, b) => a + b, 0);
  return sizes;
}

export interface TenantFlow {
  make(i: number): AuditEventRequest;
  /** Ids of hot orders (hundreds of events each). */
  hotOrders: string[];
  /** How many ordinary orders have been started so far (ORD-1 … ORD-n). */
  orders(): number;
  traders: number;
}

/** The event stream of one tenant with `events` events. */
export function tenantFlow(tenantIndex: number, events: number, seed: number): TenantFlow {
  const random = prng(seed);
  const symbol = zipf(SYMBOL_COUNT, 1.05, random);
  const account = zipf(ACCOUNTS, 1.0, random);
  const trader = zipf(TRADERS, 1.0, random);
  const hotCount = Math.max(5, Math.round(events / 20_000));
  const hotOrders = Array.from({ length: hotCount }, (_, k) => `ORD-H${tenantIndex}-${k + 1}`);
  const hotState = hotOrders.map(() => ({ symbol: symbolOf(symbol()), account: `ACC-${account()}`, n: 0 }));
  const firm = `firm${tenantIndex}.example`;
  let orderNo = 0;
  let step = 0;
  let length = 0;
  let current = { id: '', symbol: '', account: '', side: 'BUY', trader: '', venue: '', qty: 0 };

  const make = (): AuditEventRequest => {
    const r = random();
    if (r < 0.03) {
      // A hot order: amended, re-routed and filled all day long.
      const k = Math.floor(random() * hotOrders.length);
      const h = hotState[k]!;
      h.n++;
      const type = h.n % 3 === 0 ? 'FILL' : h.n % 3 === 1 ? 'UPDATE' : 'ROUTE';
      return {
        object_type: 'ORDER',
        object_id: hotOrders[k]!,
        actor_type: 'SERVICE',
        actor_id: 'algo-engine',
        event_type: type,
        source: 'algo-engine',
        request_id: `req-h${k}-${h.n}`,
        ip_address: '10.20.0.71',
        user_agent: 'algo-engine/5.1.0',
        context: { symbol: h.symbol, account: h.account, client_order_id: `CL-H${tenantIndex}-${k + 1}`, venue: VENUES[h.n % VENUES.length], child: h.n, last_qty: 100, last_px: 100 + (h.n % 50) / 10 },
      };
    }
    if (r < 0.035) {
      const t = trader();
      return {
        object_type: 'SESSION',
        object_id: `trader-${t}@${firm}`,
        actor_type: 'USER',
        actor_id: `trader-${t}@${firm}`,
        event_type: 'LOGIN',
        outcome: random() < 0.1 ? 'failure' : 'success',
        source: 'oms-gateway',
        ip_address: '203.0.113.10',
        user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0',
        context: { method: 'password+totp' },
      };
    }
    if (step >= length) {
      orderNo++;
      step = 0;
      length = 3 + Math.floor(random() * 6);
      current = {
        id: `ORD-${orderNo}`,
        symbol: symbolOf(symbol()),
        account: `ACC-${account()}`,
        side: random() < 0.5 ? 'BUY' : 'SELL',
        trader: `trader-${trader()}@${firm}`,
        venue: VENUES[Math.floor(random() * VENUES.length)]!,
        qty: (1 + Math.floor(random() * 50)) * 100,
      };
    }
    step++;
    const o = current;
    const base = { context: { symbol: o.symbol, account: o.account, client_order_id: `CL-${tenantIndex}-${orderNo}`, side: o.side } };
    if (step === 1) {
      return {
        object_type: 'ORDER', object_id: o.id, actor_type: 'USER', actor_id: o.trader, event_type: 'CREATE', source: 'oms-gateway',
        request_id: `req-${orderNo}-1`, ip_address: '203.0.113.22', user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0',
        context: { ...base.context, after: { quantity: o.qty, order_type: 'LIMIT', time_in_force: 'DAY', limit_price: 187.25, status: 'NEW' } },
      };
    }
    if (step === 2) {
      return {
        object_type: 'ORDER', object_id: o.id, actor_type: 'SERVICE', actor_id: 'smart-order-router', event_type: 'ROUTE', source: 'smart-order-router',
        request_id: `req-${orderNo}-2`, ip_address: '10.20.0.31', user_agent: 'sor/2.8.0',
        context: { ...base.context, venue: o.venue, before: { status: 'NEW' }, after: { status: 'ROUTED', venue: o.venue } },
      };
    }
    if (step === length && random() < 0.3) {
      const risk = random() < 0.02;
      return {
        object_type: 'ORDER', object_id: o.id, actor_type: risk ? 'SYSTEM' : 'USER', actor_id: risk ? 'risk-engine' : o.trader, event_type: risk ? 'RISK_REJECT' : 'CANCEL',
        outcome: risk ? 'failure' : 'success', source: risk ? 'risk-engine' : 'oms-gateway', request_id: `req-${orderNo}-${step}`,
        ip_address: risk ? '10.20.0.61' : '203.0.113.22', user_agent: risk ? 'risk-engine/3.0.0' : 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0',
        context: { ...base.context, reason: risk ? 'Exceeds account buying power' : 'Trader cancelled', before: { status: 'ROUTED' }, after: { status: risk ? 'REJECTED' : 'CANCELLED' } },
      };
    }
    const fill = step % 2 === 1;
    return {
      object_type: fill ? 'EXECUTION' : 'ORDER', object_id: fill ? `EXE-${orderNo}-${step}` : o.id, actor_type: 'SERVICE', actor_id: 'fix-engine',
      event_type: fill ? 'FILL' : 'STATUS_CHANGE', source: 'fix-engine', request_id: `req-${orderNo}-${step}`, ip_address: '10.20.0.41', user_agent: 'quickfix-j/2.3.1',
      context: fill
        ? { ...base.context, order_id: o.id, venue: o.venue, last_qty: 100, last_px: 187.31, exec_type: 'TRADE' }
        : { ...base.context, before: { status: 'ROUTED', filled_quantity: 0 }, after: { status: 'PARTIALLY_FILLED', filled_quantity: 100 } },
    };
  };
  return { make, hotOrders, orders: () => orderNo, traders: TRADERS };
}
