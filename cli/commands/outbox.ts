/**
 * oms-audit outbox init|status|retry and oms-audit relay: the transactional
 * outbox in an OMS's own PostgreSQL (sdk/outbox), run on the OMS's side. None
 * of them opens oms-audit's database: they connect to the OMS database named
 * by --database-url / --source (or OMS_AUDIT_OUTBOX_DATABASE_URL, which keeps
 * a password off the command line) and, for the relay, to the oms-audit server
 * over HTTP with an API key (--key or OMS_AUDIT_API_KEY).
 *
 * `relay` runs until SIGTERM or SIGINT: it then finishes the request in
 * flight, removes what the server acknowledged, releases the leadership and
 * exits 0. With --metrics-port it serves its lag and counters at /metrics.
 */
import http from 'node:http';
import exitHook from 'async-exit-hook';
import client from 'prom-client';
import { installOutbox, outboxStatus, retryParked } from '@/sdk/outbox/admin.ts';
import { registerRelayMetrics } from '@/sdk/outbox/metrics.ts';
import { startRelay, type RelayStats } from '@/sdk/outbox/relay.ts';
import { outboxSql } from '@/sdk/outbox/schema.ts';
import type { Command, OfflineContext } from '../command.ts';
import { optional, positiveInt, UUID } from '../args.ts';
import { UsageError } from '../usage-error.ts';

const DATABASE_ENV = 'OMS_AUDIT_OUTBOX_DATABASE_URL';

function databaseUrl(ctx: OfflineContext, option: 'database-url' | 'source'): string {
  const url = optional(ctx, option) ?? process.env[DATABASE_ENV]?.trim();
  if (!url) throw new UsageError(`--${option} (or ${DATABASE_ENV}) is required: the OMS's PostgreSQL database holding the outbox`);
  return url;
}

const roles = (ctx: OfflineContext, option: string) =>
  (optional(ctx, option) ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);

function port(ctx: OfflineContext): number | undefined {
  const raw = optional(ctx, 'metrics-port');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError('--metrics-port must be a port number');
  return n;
}

/** Serves the registry at /metrics until closed. */
async function serveMetrics(registry: client.Registry, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

/** Removes an exit hook's handler for `signal` where one was registered (unhooking one never hooked throws). */
function unhook(signal: 'SIGTERM' | 'SIGINT'): void {
  try {
    exitHook.unhookEvent(signal);
  } catch {
    // Nothing was hooked for it.
  }
}

/**
 * Resolves at the first SIGTERM or SIGINT. Where a loaded module registered an
 * exit hook that would end the process at once on these signals (143), the
 * relay takes them over to stop in order.
 */
const termination = () =>
  new Promise<NodeJS.Signals>((resolve) => {
    unhook('SIGTERM');
    unhook('SIGINT');
    const done = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve(signal);
    };
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
  });

const summary = (s: RelayStats) => `sent ${s.sentEvents} events (${s.createdEvents} new, ${s.duplicateEvents} already stored), parked ${s.parkedEvents}, ${s.pendingRows ?? '?'} waiting`;

export const outboxCommands: Command[] = [
  {
    name: 'outbox init',
    args: '--database-url URL [--writer-role R[,R]] [--relay-role R[,R]] | --print',
    summary: "create or update the transactional outbox in the OMS's own PostgreSQL (--print: the SQL only)",
    options: { 'database-url': { type: 'string' }, 'writer-role': { type: 'string' }, 'relay-role': { type: 'string' }, print: { type: 'boolean' } },
    async runOffline(ctx) {
      const grants = { writerRoles: roles(ctx, 'writer-role'), relayRoles: roles(ctx, 'relay-role') };
      const script = outboxSql(grants);
      if (ctx.values.print === true) return { text: script, json: { sql: script } };
      await installOutbox(databaseUrl(ctx, 'database-url'), grants);
      return { text: `the outbox is installed (schema oms_audit_outbox)${grants.writerRoles.length ? `; writers: ${grants.writerRoles.join(', ')}` : ''}${grants.relayRoles.length ? `; relays: ${grants.relayRoles.join(', ')}` : ''}`, json: { installed: true, ...grants } };
    },
  },
  {
    name: 'outbox status',
    args: '--database-url URL',
    summary: 'events waiting in the outbox, the oldest one’s age, and the events the server refused (parked)',
    options: { 'database-url': { type: 'string' } },
    async runOffline(ctx) {
      const status = await outboxStatus(databaseUrl(ctx, 'database-url'));
      const parked = status.parked.map((p) => `  parked ${p.id} (position ${p.position}, ${p.parkedAt.toISOString()}): ${p.error.status ?? 'no status'} ${p.error.message}${p.error.issues.map((i) => `; ${i.field}: ${i.message}`).join('')}`);
      return {
        text: [`${status.pendingRows} events waiting, the oldest for ${status.oldestPendingSeconds.toFixed(1)} s; ${status.parkedRows} parked`, ...parked].join('\n'),
        json: status,
      };
    },
  },
  {
    name: 'outbox retry',
    args: '--database-url URL (--id EVENT_ID[,EVENT_ID] | --all)',
    summary: 'put parked events back in the outbox (after their cause was fixed)',
    options: { 'database-url': { type: 'string' }, id: { type: 'string' }, all: { type: 'boolean' } },
    async runOffline(ctx) {
      const ids = roles(ctx, 'id');
      if (ctx.values.all !== true && !ids.length) throw new UsageError('outbox retry needs --id or --all');
      const bad = ids.find((id) => !UUID.test(id));
      if (bad) throw new UsageError(`--id ${bad} is not an event id (a UUID)`);
      const requeued = await retryParked(databaseUrl(ctx, 'database-url'), ctx.values.all === true ? { all: true } : { ids });
      return { text: `${requeued} parked events are back in the outbox`, json: { requeued } };
    },
  },
  {
    name: 'relay',
    args: '--source URL --url URL --key API_KEY [--batch-size N] [--metrics-port P [--host H]]',
    summary: 'ship the outbox’s events to oms-audit, in order, until SIGTERM (lag and counters at /metrics)',
    options: { source: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' }, 'batch-size': { type: 'string' }, 'metrics-port': { type: 'string' }, host: { type: 'string' } },
    async runOffline(ctx) {
      const source = databaseUrl(ctx, 'source');
      const baseUrl = optional(ctx, 'url');
      const apiKey = optional(ctx, 'key') ?? process.env.OMS_AUDIT_API_KEY?.trim();
      if (!baseUrl || !apiKey) throw new UsageError('relay needs --url (the oms-audit server) and --key (or OMS_AUDIT_API_KEY, an API key with events:write)');
      const metricsPort = port(ctx);
      const batchSize = positiveInt(ctx, 'batch-size', 500);
      if (batchSize > 500) throw new UsageError('--batch-size is at most 500 (the API’s limit)');
      const say = (line: string) => process.stderr.write(`oms-audit relay: ${line}\n`);
      const stopped = termination();
      const relay = startRelay({
        source,
        baseUrl,
        apiKey,
        batchSize,
        onRoleChange: (role) => say(role),
        onError: (error) => say(`${error.message} (kept; trying again)`),
        onParked: (events) => events.forEach((e) => say(`parked ${e.id} (position ${e.position}): ${e.error.status ?? ''} ${e.error.message}`)),
      });
      let metrics: http.Server | undefined;
      try {
        if (metricsPort !== undefined) {
          const registry = new client.Registry();
          registerRelayMetrics(client, relay, { registry });
          metrics = await serveMetrics(registry, metricsPort, optional(ctx, 'host') ?? '127.0.0.1');
          const address = metrics.address() as { port: number };
          say(`metrics at http://${optional(ctx, 'host') ?? '127.0.0.1'}:${address.port}/metrics`);
        }
        const signal = await stopped;
        say(`${signal}: finishing the request in flight`);
      } finally {
        await relay.stop();
        metrics?.closeAllConnections();
        await new Promise((resolve) => (metrics ? metrics.close(resolve) : resolve(undefined)));
      }
      const stats = relay.stats();
      return { text: `stopped: ${summary(stats)}`, json: stats };
    },
  },
];
