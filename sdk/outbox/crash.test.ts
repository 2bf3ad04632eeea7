/**
 * The outbox under kill -9, with every part a real process: an OMS process
 * committing 20,000 order changes (each with its audit event, one transaction
 * in ten rolled back) into a PostgreSQL database of its own; `oms-audit relay`
 * processes shipping them; the oms-audit server receiving them over HTTP. The
 * OMS process, the relays and the server are killed (kill -9) at random
 * points and started again. Afterwards the trail holds exactly the committed
 * changes: for every order, its versions 1…n once each and in order, nothing
 * rolled back; the relays' lag showed in their metrics while the server was
 * down; SIGTERM stops a relay cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { createOmsDatabase, type OmsDatabase } from '@/test/oms-database.ts';
import { freePort } from '@/test/ports.ts';
import { startServer, type RunningServer } from '@/test/server.ts';

const TOTAL = 20_000;
/**
 * The OMS's pace: at most 800 order changes a second, so the run lasts at least 25 s and each of its three
 * kills and the relays' random kills happen on any machine (unpaced, a fast one commits everything first).
 */
const PER_SECOND = 800;

const children: ChildProcess[] = [];
const servers: RunningServer[] = [];
const dirs: string[] = [];
let db: OmsDatabase | undefined;
let owner: postgres.Sql | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await owner?.end();
  await db?.drop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = (min: number, max: number) => min + Math.random() * (max - min);

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function kill9(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}

describe('kill -9 of the OMS, the relays and the server while 20,000 order changes commit', () => {
  it('the trail holds exactly the committed changes, once each and in order', { timeout: 900_000 }, async () => {
    db = await createOmsDatabase();
    owner = postgres(db.ownerUrl, { max: 2, onnotice: () => {} });
    await owner.unsafe(`alter table orders add column version int not null default 0`);
    const tenant = await newTenant('outbox-crash');
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-outbox-crash-'));
    dirs.push(dataDir);
    const serverPort = await freePort();
    const serve = async () => {
      const server = await startServer({ databaseUrl: inject('databaseUrl'), port: serverPort, dataDir, env: { OMS_AUDIT_FUNCTIONS: 'false' } });
      servers.push(server);
      return server;
    };
    let server = await serve();

    const committed = async () => Number((await owner!`select coalesce(sum(version), 0)::int as n from orders`)[0]!.n);
    const pending = async () => Number((await owner!`select count(*)::int as n from oms_audit_outbox.audit_outbox`)[0]!.n);

    // The OMS: started again after each kill with what is left to commit.
    const startOms = async () =>
      start(['--import', 'tsx', 'sdk/outbox/oms.fixture.ts'], { DATABASE_URL: db!.appUrl, COUNT: String(TOTAL - (await committed())), WORKERS: '4', ORDERS: '100', PER_SECOND: String(PER_SECOND) });
    let oms = await startOms();
    let omsKills = 0;

    // Two relays at a time, each with its metrics; killed at random and replaced.
    // Each relay is killed at a random moment 1–4 s after it is up (connected: leader or standby) and while the
    // other one is up too, so that on a loaded machine, where starting takes long, the relays still ship.
    const relays: { proc: Proc; metricsPort: number; upAt: number | null; lifetimeMs: number }[] = [];
    const startRelay = async () => {
      const metricsPort = await freePort();
      const proc = start(['bin/oms-audit.mjs', 'relay', '--url', server.baseUrl, '--metrics-port', String(metricsPort)], {
        OMS_AUDIT_OUTBOX_DATABASE_URL: db!.relayUrl,
        OMS_AUDIT_API_KEY: tenant.writeKey,
      });
      relays.push({ proc, metricsPort, upAt: null, lifetimeMs: random(1_000, 4_000) });
    };
    await startRelay();
    await startRelay();
    let relayKills = 0;
    let serverKills = 0;
    const lagSeen: { pending: number; lag: number }[] = [];

    const scrape = async (metricsPort: number) => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      const value = (name: string) => Number(text.match(new RegExp(`^oms_audit_relay_${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
      return { pending: value('pending_events'), lag: value('lag_seconds') };
    };

    const deadline = Date.now() + 780_000;
    let serverKilled = false;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`not finished in time: ${await committed()} committed, ${await pending()} waiting\n${oms.output().slice(-2000)}\n${relays.map((r) => r.proc.output().slice(-1000)).join('\n---\n')}`);
      const done = await committed();
      // The OMS at three random points of its run.
      if (omsKills < 3 && done > TOTAL * (0.15 + omsKills * 0.25) + random(0, 500) && !/done/.test(oms.output())) {
        await kill9(oms);
        omsKills++;
        oms = await startOms();
      }
      // A relay at the end of its random lifetime (the leader or a standby, whichever it is then).
      for (const r of relays) if (r.upAt === null && /oms-audit relay: (leader|standby)/.test(r.proc.output())) r.upAt = Date.now();
      // Only while the other relay is up too, so that one always ships while the replacement starts.
      const up = relays.filter((r) => r.upAt !== null);
      const victim = up.length === relays.length ? up.find((r) => Date.now() - r.upAt! > r.lifetimeMs) : undefined;
      if (victim) {
        relays.splice(relays.indexOf(victim), 1);
        await kill9(victim.proc);
        relayKills++;
        await startRelay();
      }
      // The server once, near the middle: down for a few seconds, while the relays show the lag.
      if (!serverKilled && done > TOTAL * 0.45) {
        serverKilled = true;
        await server.stop('SIGKILL');
        serverKills++;
        // Down for at least 1.5 s, and until a relay's metrics show the events waiting (at most 20 s: a relay
        // just started may not serve its metrics yet).
        const downUntil = Date.now() + 20_000;
        await sleep(1_500);
        while (Date.now() < downUntil && !lagSeen.some((m) => m.pending > 0 && m.lag > 0)) {
          for (const r of relays) lagSeen.push(await scrape(r.metricsPort));
          await sleep(250);
        }
        server = await serve();
      }
      if (oms.child.exitCode !== null) {
        expect(oms.output()).toMatch(/^done$/m);
        if ((await committed()) >= TOTAL) break;
        oms = await startOms();
      }
      await sleep(100);
    }

    // Everything committed: the relays ship what is left.
    while ((await pending()) > 0) {
      if (Date.now() > deadline) throw new Error(`${await pending()} events still waiting\n${relays.map((r) => r.proc.output().slice(-1000)).join('\n---\n')}`);
      await sleep(200);
    }
    // SIGTERM: each relay stops cleanly and says what it did (once it is up: a relay just started may still be loading).
    for (const r of relays) {
      while (!/metrics at/.test(r.proc.output())) {
        if (Date.now() > deadline) throw new Error(`a relay did not start:\n${r.proc.output()}`);
        await sleep(100);
      }
    }
    for (const r of relays) r.proc.child.kill('SIGTERM');
    const codes = await Promise.all(relays.map((r) => r.proc.exited));
    expect(codes, relays.map((r) => r.proc.output().slice(-1000)).join('\n---\n')).toEqual([0, 0]);
    for (const r of relays) expect(r.proc.output()).toMatch(/SIGTERM: finishing the request in flight[\s\S]*stopped: sent \d+ events/);

    expect(await committed()).toBe(TOTAL);
    expect({ omsKills, serverKills, relayKills: relayKills > 3 }).toEqual({ omsKills: 3, serverKills: 1, relayKills: true });
    // While the server was down, the relays' metrics showed events waiting and for how long.
    expect(lagSeen.some((m) => m.pending > 0 && m.lag > 0), JSON.stringify(lagSeen)).toBe(true);

    const trail = await testSql()`
      select object_id, (context->>'version')::int as version, event_type
      from public.audit_events where tenant_id = ${tenant.id} order by seq`;
    expect(trail.filter((e) => e.event_type !== 'FILL')).toEqual([]);
    expect(trail).toHaveLength(TOTAL);
    const versions = new Map<string, number[]>();
    for (const e of trail) versions.set(e.object_id as string, [...(versions.get(e.object_id as string) ?? []), e.version as number]);
    const finals = await owner`select id, version from orders`;
    expect(finals.length).toBeGreaterThan(0);
    for (const order of finals) {
      // Once each, none missing, in the order they committed.
      expect(versions.get(order.id as string), order.id as string).toEqual(Array.from({ length: order.version as number }, (_, i) => i + 1));
    }
    expect([...versions.keys()].sort()).toEqual(finals.map((o) => o.id as string).sort());
    expect(Number((await owner`select count(*)::int as n from oms_audit_outbox.audit_outbox_parked`)[0]!.n)).toBe(0);
  });
});
