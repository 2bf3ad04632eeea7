/**
 * A relay's lag and counters as Prometheus metrics, through the OMS's own
 * prom-client (handed in, so the SDK does not depend on it). `oms-audit relay
 * --metrics-port` serves these; an OMS that embeds the relay registers them in
 * the registry its /metrics already serves. Values are read from
 * relay.stats() at each scrape.
 */
import type { Relay, RelayStats } from './relay.ts';

interface MetricConfig {
  name: string;
  help: string;
  /** prom-client Registry objects (typed loosely: the SDK does not depend on prom-client). */
  registers?: never[];
  collect?: () => void;
}

/** What is used of prom-client: its default export, or its module namespace. */
export interface PromClientLike {
  Gauge: new (config: MetricConfig) => { set(value: number): void };
  Counter: new (config: MetricConfig) => { reset(): void; inc(value: number): void };
}

export interface RelayMetricsOptions {
  /** A prom-client Registry; prom-client's default registry when absent. */
  registry?: unknown;
  /** Prefix of every metric's name. Default `oms_audit_relay_`. */
  prefix?: string;
}

type Numeric = { [K in keyof RelayStats]: RelayStats[K] extends number | null ? K : never }[keyof RelayStats];

const GAUGES: [name: string, help: string, value: (s: RelayStats) => number][] = [
  ['pending_events', 'Events in the outbox not yet acknowledged by oms-audit (at the last check)', (s) => s.pendingRows ?? 0],
  ['lag_seconds', 'Age of the oldest event not yet acknowledged, in seconds (0 when none)', (s) => s.oldestPendingSeconds ?? 0],
  ['parked_events', 'Events in the outbox that the server refused and are kept aside (at the last check)', (s) => s.parkedRows ?? 0],
  ['leader', '1 while this relay is the one sending from the outbox, 0 otherwise', (s) => (s.role === 'leader' ? 1 : 0)],
  ['last_ack_timestamp_seconds', 'Unix time of the last acknowledgement (0: none yet)', (s) => (s.lastAckAt ? s.lastAckAt.getTime() / 1000 : 0)],
];

const COUNTERS: [name: string, help: string, stat: Numeric][] = [
  ['sent_events_total', 'Events acknowledged by oms-audit since this relay started (stored now or before)', 'sentEvents'],
  ['created_events_total', 'Events oms-audit stored for the first time', 'createdEvents'],
  ['duplicate_events_total', 'Events oms-audit had already stored (sent again after a lost acknowledgement)', 'duplicateEvents'],
  ['parked_events_total', 'Events this relay parked because the server refused them', 'parkedEvents'],
  ['requests_total', 'Requests sent to oms-audit', 'requests'],
  ['failed_requests_total', 'Requests that failed (no answer or a refusal); their events were kept', 'failedRequests'],
];

/** Registers the relay's metrics; they read relay.stats() whenever the registry is scraped. */
export function registerRelayMetrics(client: PromClientLike, relay: Relay, { registry, prefix = 'oms_audit_relay_' }: RelayMetricsOptions = {}): void {
  const registers = registry ? ([registry] as never[]) : undefined;
  for (const [name, help, value] of GAUGES) {
    const gauge: { set(value: number): void } = new client.Gauge({ name: prefix + name, help, registers, collect: () => gauge.set(value(relay.stats())) });
  }
  for (const [name, help, stat] of COUNTERS) {
    const counter: { reset(): void; inc(value: number): void } = new client.Counter({
      name: prefix + name,
      help,
      registers,
      collect: () => {
        counter.reset();
        counter.inc(relay.stats()[stat] ?? 0);
      },
    });
  }
}
