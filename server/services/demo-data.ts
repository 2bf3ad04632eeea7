/**
 * Demo data: a brokerage's order flow over the last 30 days — orders created,
 * amended, routed, partly and fully filled, cancelled, allocated — by traders,
 * services and the risk engine, so the console has something to show on first
 * start. Written through the normal write path (seq, hashes, partitions).
 * Deterministic: the same seed gives the same orders (times follow "now").
 */
import { randomBytes } from 'node:crypto';
import type { AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { LIMITS } from '@/supabase/functions/_shared/contract.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { fromMicros } from '@/supabase/functions/_shared/timestamps.ts';
import { createApiKey, type CreatedApiKey } from './api-keys.ts';
import { logEvents, type WriteCaller } from './ingest.ts';
import { createTenant, findTenantByName, type Tenant } from './tenants.ts';
import { hashPassword } from '@/server/auth/passwords.ts';
import { addMembership, createAccount } from './users.ts';

export const DEMO_TENANT_NAME = 'Demo Brokerage';
/** The console user of the demo tenant (role auditor: search, inspect, export). */
export const DEMO_AUDITOR_EMAIL = 'auditor@demo-brokerage.example';

/** mulberry32: small, fast, deterministic. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
  };
}

const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'JPM', 'XOM', 'BRK.B', 'V', 'ASML', 'SAP', 'NESN'];
const VENUES = ['XNAS', 'XNYS', 'ARCX', 'BATS', 'IEXG', 'XETR'];
const ACCOUNTS = ['ACC-10001', 'ACC-10002', 'ACC-20417', 'ACC-31337', 'ACC-40020', 'ACC-55010'];
const TRADERS = [
  { id: 'alice.chen@demo-brokerage.example', ip: '203.0.113.10' },
  { id: 'bob.martin@demo-brokerage.example', ip: '203.0.113.22' },
  { id: 'carla.diaz@demo-brokerage.example', ip: '198.51.100.7' },
  { id: 'dev.patel@demo-brokerage.example', ip: '2001:db8:4::17' },
];
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const SERVICES = {
  gateway: { id: 'oms-gateway', ip: '10.20.0.11', ua: 'oms-gateway/4.2.1' },
  router: { id: 'smart-order-router', ip: '10.20.0.31', ua: 'sor/2.8.0' },
  fix: { id: 'fix-engine', ip: '10.20.0.41', ua: 'quickfix-j/2.3.1' },
  alloc: { id: 'allocation-service', ip: '10.20.0.51', ua: 'alloc-svc/1.9.4' },
  risk: { id: 'risk-engine', ip: '10.20.0.61', ua: 'risk-engine/3.0.0' },
};

interface OrderState {
  order_id: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: number;
  limit_price: number;
  order_type: 'LIMIT' | 'MARKET';
  time_in_force: 'DAY' | 'GTC' | 'IOC';
  account: string;
  status: string;
  filled_quantity: number;
  venue: string | null;
}

/** Generates `orders` order lifecycles ending before `nowMicros`. */
export function generateDemoEvents(orders: number, nowMicros: number, seed = 20261126): AuditEventRequest[] {
  const r = prng(seed);
  const events: AuditEventRequest[] = [];
  const spanMicros = 30 * 86_400_000_000;
  let requestSeq = 0;
  const requestId = () => `req-${(seed % 1000).toString().padStart(3, '0')}-${(++requestSeq).toString(36).padStart(6, '0')}`;

  for (let n = 1; n <= orders; n++) {
    const trader = r.pick(TRADERS);
    const symbol = r.pick(SYMBOLS);
    const price = Math.round((20 + r.next() * 480) * 100) / 100;
    const state: OrderState = {
      order_id: `ORD-${String(100000 + n)}`,
      symbol,
      side: r.next() < 0.5 ? 'BUY' : 'SELL',
      quantity: r.int(1, 50) * 100,
      limit_price: price,
      order_type: r.next() < 0.85 ? 'LIMIT' : 'MARKET',
      time_in_force: r.pick(['DAY', 'DAY', 'GTC', 'IOC'] as const),
      account: r.pick(ACCOUNTS),
      status: 'NEW',
      filled_quantity: 0,
      venue: null,
    };
    // Orders start across the whole window; a lifecycle takes at most ~3 hours, so none ends in the future.
    let t = nowMicros - Math.floor(r.next() * spanMicros) - 4 * 3_600_000_000;
    const step = (maxSeconds: number) => (t += r.int(50_000, maxSeconds * 1_000_000));
    const at = () => fromMicros(t).iso;
    const snapshot = () => ({ ...state });
    const base = { object_type: 'ORDER', object_id: state.order_id };

    const createReq = requestId();
    events.push({
      ...base,
      occurred_at: at(),
      actor_type: 'USER',
      actor_id: trader.id,
      event_type: 'CREATE',
      source: SERVICES.gateway.id,
      request_id: createReq,
      ip_address: trader.ip,
      user_agent: BROWSER,
      device_fingerprint: `fp-${trader.id.split('@')[0]}-ws01`,
      context: { symbol, side: state.side, account: state.account, after: snapshot() },
    });

    const risk = r.next();
    if (risk < 0.03) {
      step(2);
      const before = snapshot();
      state.status = 'REJECTED';
      events.push({
        ...base,
        occurred_at: at(),
        actor_type: 'SYSTEM',
        actor_id: SERVICES.risk.id,
        event_type: 'STATUS_CHANGE',
        outcome: 'failure',
        source: SERVICES.risk.id,
        request_id: createReq,
        ip_address: SERVICES.risk.ip,
        user_agent: SERVICES.risk.ua,
        context: { symbol, reason: 'Exceeds account buying power', before: { status: before.status }, after: { status: state.status } },
      });
      continue;
    }

    if (r.next() < 0.25) {
      step(600);
      const before = snapshot();
      const changed: string[] = [];
      if (r.next() < 0.6) {
        state.quantity += r.int(1, 10) * 100;
        changed.push('quantity');
      }
      if (changed.length === 0 || r.next() < 0.5) {
        state.limit_price = Math.round(state.limit_price * (1 + (r.next() - 0.5) / 50) * 100) / 100;
        changed.push('limit_price');
      }
      events.push({
        ...base,
        occurred_at: at(),
        actor_type: 'USER',
        actor_id: trader.id,
        event_type: 'UPDATE',
        source: SERVICES.gateway.id,
        request_id: requestId(),
        ip_address: trader.ip,
        user_agent: BROWSER,
        context: {
          symbol,
          changed,
          before: Object.fromEntries(changed.map((k) => [k, before[k as keyof OrderState]])),
          after: Object.fromEntries(changed.map((k) => [k, state[k as keyof OrderState]])),
        },
      });
    }

    step(5);
    const routeReq = requestId();
    const venue = r.pick(VENUES);
    state.venue = venue;
    events.push({
      ...base,
      occurred_at: at(),
      actor_type: 'SERVICE',
      actor_id: SERVICES.router.id,
      event_type: 'ROUTE',
      source: SERVICES.router.id,
      request_id: routeReq,
      ip_address: SERVICES.router.ip,
      user_agent: SERVICES.router.ua,
      context: { symbol, venue, before: { venue: null, status: 'NEW' }, after: { venue, status: 'ROUTED' } },
    });
    state.status = 'ROUTED';

    const fate = r.next();
    const fills = fate < 0.15 ? 0 : r.int(1, 4);
    let execN = 0;
    for (let f = 0; f < fills && state.filled_quantity < state.quantity; f++) {
      step(900);
      const remaining = state.quantity - state.filled_quantity;
      const qty = f === fills - 1 && fate > 0.3 ? remaining : Math.min(remaining, r.int(1, Math.max(1, remaining / 100)) * 100);
      const fillPrice = Math.round(state.limit_price * (1 + (r.next() - 0.5) / 200) * 100) / 100;
      const before = { status: state.status, filled_quantity: state.filled_quantity };
      state.filled_quantity += qty;
      state.status = state.filled_quantity >= state.quantity ? 'FILLED' : 'PARTIALLY_FILLED';
      const execId = `EXE-${state.order_id.slice(4)}-${++execN}`;
      const fixReq = requestId();
      events.push({
        object_type: 'EXECUTION',
        object_id: execId,
        occurred_at: at(),
        actor_type: 'SERVICE',
        actor_id: SERVICES.fix.id,
        event_type: 'FILL',
        source: SERVICES.fix.id,
        request_id: fixReq,
        ip_address: SERVICES.fix.ip,
        user_agent: SERVICES.fix.ua,
        context: { symbol, order_id: state.order_id, venue, last_qty: qty, last_px: fillPrice, side: state.side, exec_type: 'TRADE' },
      });
      t += 1000;
      events.push({
        ...base,
        occurred_at: at(),
        actor_type: 'SERVICE',
        actor_id: SERVICES.fix.id,
        event_type: 'STATUS_CHANGE',
        source: SERVICES.fix.id,
        request_id: fixReq,
        ip_address: SERVICES.fix.ip,
        user_agent: SERVICES.fix.ua,
        context: { symbol, execution_id: execId, before, after: { status: state.status, filled_quantity: state.filled_quantity } },
      });
    }

    if (state.status !== 'FILLED' && fate < 0.45) {
      step(3600);
      const byUser = r.next() < 0.7;
      const before = { status: state.status };
      state.status = 'CANCELLED';
      events.push({
        ...base,
        occurred_at: at(),
        actor_type: byUser ? 'USER' : 'SYSTEM',
        actor_id: byUser ? trader.id : SERVICES.risk.id,
        event_type: 'CANCEL',
        source: byUser ? SERVICES.gateway.id : SERVICES.risk.id,
        request_id: requestId(),
        ip_address: byUser ? trader.ip : SERVICES.risk.ip,
        user_agent: byUser ? BROWSER : SERVICES.risk.ua,
        context: { symbol, reason: byUser ? 'Trader cancelled' : 'End of day: DAY order expired', before, after: { status: state.status } },
      });
    }

    if (state.filled_quantity > 0) {
      step(1800);
      const split = r.next() < 0.4 ? 2 : 1;
      events.push({
        object_type: 'ALLOCATION',
        object_id: `ALC-${state.order_id.slice(4)}`,
        occurred_at: at(),
        actor_type: 'SERVICE',
        actor_id: SERVICES.alloc.id,
        event_type: 'CREATE',
        source: SERVICES.alloc.id,
        request_id: requestId(),
        ip_address: SERVICES.alloc.ip,
        user_agent: SERVICES.alloc.ua,
        context: {
          symbol,
          order_id: state.order_id,
          allocations:
            split === 2
              ? [
                  { account: state.account, quantity: Math.ceil(state.filled_quantity / 2) },
                  { account: r.pick(ACCOUNTS), quantity: Math.floor(state.filled_quantity / 2) },
                ]
              : [{ account: state.account, quantity: state.filled_quantity }],
        },
      });
    }
  }
  // Failed sign-ins and an account change, as a real trail has them.
  for (let i = 0; i < Math.ceil(orders / 50); i++) {
    const trader = r.pick(TRADERS);
    events.push({
      object_type: 'ACCOUNT',
      object_id: r.pick(ACCOUNTS),
      occurred_at: fromMicros(nowMicros - Math.floor(r.next() * spanMicros)).iso,
      actor_type: 'USER',
      actor_id: trader.id,
      event_type: 'LOGIN',
      outcome: r.next() < 0.2 ? 'failure' : 'success',
      source: SERVICES.gateway.id,
      ip_address: trader.ip,
      user_agent: BROWSER,
      context: { method: 'password+totp' },
    });
  }
  return events.sort((a, b) => (a.occurred_at! < b.occurred_at! ? -1 : 1));
}

export interface DemoResult {
  tenant: Tenant;
  apiKey: CreatedApiKey | null;
  events: number;
  /** Set when the demo auditor was created now (the password is shown once). */
  auditor: { email: string; password: string } | null;
}

/**
 * The demo auditor, once: a new account with a random password (a known one
 * would open any forgotten demo install), shown to the operator who started
 * the demo. An existing account of that email is left alone.
 */
async function ensureDemoAuditor(sql: Sql, tenant: Tenant): Promise<DemoResult['auditor']> {
  const password = randomBytes(12).toString('base64url');
  const userId = await createAccount(sql, { email: DEMO_AUDITOR_EMAIL, passwordHash: await hashPassword(password), createdBy: 'oms-audit seed' });
  if (!userId) return null;
  await addMembership(sql, { tenantId: tenant.id, userId, role: 'auditor', createdBy: 'oms-audit seed' });
  return { email: DEMO_AUDITOR_EMAIL, password };
}

/** Creates the demo tenant with a key, its events and a console auditor, unless they exist already. */
export async function seedDemo(sql: Sql, options: { orders?: number; log?: (line: string) => void } = {}): Promise<DemoResult> {
  const existing = await findTenantByName(sql, DEMO_TENANT_NAME);
  if (existing) return { tenant: existing, apiKey: null, events: 0, auditor: await ensureDemoAuditor(sql, existing) };
  const tenant = await createTenant(sql, DEMO_TENANT_NAME);
  const apiKey = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:write', 'events:read'], name: 'demo', createdBy: 'oms-audit seed' });
  const nowMicros = Date.now() * 1000;
  const events = generateDemoEvents(options.orders ?? 900, nowMicros);
  const writer: WriteCaller = { tenantId: tenant.id, writer: { kind: 'operator', name: 'demo-data' } };
  for (let i = 0; i < events.length; i += LIMITS.apiBatch) {
    const batch = parseBatch({ events: events.slice(i, i + LIMITS.apiBatch) }, LIMITS.apiBatch);
    await logEvents(sql, writer, batch, { ip: null, userAgent: 'oms-audit seed' }, 'cli');
  }
  options.log?.(`demo data: tenant "${tenant.name}" with ${events.length} events`);
  return { tenant, apiKey, events: events.length, auditor: await ensureDemoAuditor(sql, tenant) };
}
