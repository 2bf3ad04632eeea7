/**
 * oms-audit outbox init|status|retry and oms-audit relay as real processes
 * against a PostgreSQL database of the OMS's own and the real server: the
 * outbox installed with its grants, its state and parked events shown and
 * requeued, the relay's lag and counters served as Prometheus metrics, a
 * standby taking over when SIGTERM stops the leader cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '@/sdk/outbox/writer.ts';
import { runCli } from '@/test/cli.ts';
import { baseUrl, newTenant, testSql } from '@/test/fixtures.ts';
import { createOmsDatabase, type OmsDatabase } from '@/test/oms-database.ts';
import { freePort } from '@/test/ports.ts';

let db: OmsDatabase;
let app: postgres.Sql;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await createOmsDatabase({ withOutbox: false });
  app = postgres(db.appUrl, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await app?.end();
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fill = (orderId: string, extra: Record<string, unknown> = {}) => ({ actor_id: 'fix-engine', actor_type: 'SERVICE', object_type: 'ORDER', object_id: orderId, event_type: 'FILL', ...extra });

function relayProcess(apiKey: string, metricsPort: number) {
  const child = spawn(process.execPath, ['bin/oms-audit.mjs', 'relay', '--url', baseUrl(), '--metrics-port', String(metricsPort), '--json'], {
    env: { ...process.env, OMS_AUDIT_OUTBOX_DATABASE_URL: db.relayUrl, OMS_AUDIT_API_KEY: apiKey },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return Object.fromEntries([...text.matchAll(/^oms_audit_relay_(\w+) (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

describe('oms-audit outbox and relay', () => {
  it('init --print shows the SQL for a team’s own migration tool, with the grants asked for', async () => {
    const { code, stdout } = await runCli(['outbox', 'init', '--print', '--writer-role', 'oms_app', '--relay-role', 'oms_relay']);
    expect(code).toBe(0);
    expect(stdout).toContain('create or replace function oms_audit_outbox.log(event jsonb) returns uuid');
    expect(stdout).toContain('grant execute on function oms_audit_outbox.log(jsonb), oms_audit_outbox.log_many(jsonb) to "oms_app";');
    expect(stdout).toContain('grant select, delete on oms_audit_outbox.audit_outbox to "oms_relay";');
  });

  it('init installs the outbox; status and retry show and requeue what the server refused; the relay ships, serves its metrics and hands over on SIGTERM', { timeout: 180_000 }, async () => {
    const t = await newTenant('outbox-cli');
    const init = await runCli(['outbox', 'init', '--database-url', db.ownerUrl, '--writer-role', db.roles.app, '--relay-role', db.roles.relay, '--json']);
    expect(init.stderr).toBe('');
    expect(JSON.parse(init.stdout)).toEqual({ installed: true, writerRoles: [db.roles.app], relayRoles: [db.roles.relay] });

    const good = await app.begin(async (tx) => outbox(tx).logBulk(Array.from({ length: 30 }, (_, i) => fill('O-cli-1', { context: { fill: i } }))));
    const [bad] = await app.begin((tx) => tx`select oms_audit_outbox.log(${JSON.stringify(fill('O-cli-1', { occurred_at: 'at the open' }))}::text::jsonb)::text as id`);
    const status = await runCli(['outbox', 'status', '--json'], { OMS_AUDIT_OUTBOX_DATABASE_URL: db.relayUrl });
    expect(JSON.parse(status.stdout)).toMatchObject({ pendingRows: 31, parkedRows: 0 });

    const [firstPort, secondPort] = [await freePort(), await freePort()];
    const first = relayProcess(t.writeKey, firstPort);
    const m = await until('the events to be shipped', () => metrics(firstPort), (v) => v.created_events_total === 30 && v.pending_events === 0 && v.parked_events === 1);
    expect(m).toMatchObject({ leader: 1, lag_seconds: 0, sent_events_total: 30, parked_events_total: 1, duplicate_events_total: 0, failed_requests_total: 1 });
    expect(m.last_ack_timestamp_seconds).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(first.stderr()).toContain(`parked ${bad!.id}`);
    expect((await testSql()`select id::text from public.audit_events where tenant_id = ${t.id} order by seq`).map((r) => r.id)).toEqual(good);

    const parked = await runCli(['outbox', 'status', '--database-url', db.ownerUrl]);
    expect(parked.stdout).toMatch(/^0 events waiting, the oldest for 0\.0 s; 1 parked$/m);
    expect(parked.stdout).toContain(`parked ${bad!.id}`);
    expect(parked.stdout).toContain('occurred_at');

    // A standby waits beside the leader; SIGTERM stops the leader cleanly and the standby leads at once.
    const second = relayProcess(t.writeKey, secondPort);
    await until('a standby', () => metrics(secondPort), (v) => v.leader === 0 && v.parked_events === 1);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(JSON.parse(first.stdout())).toMatchObject({ role: 'stopped', createdEvents: 30, parkedEvents: 1 });
    await until('the standby to lead', () => metrics(secondPort), (v) => v.leader === 1);

    // The event corrected by the outbox's owner, then requeued: the leader ships it.
    const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      await owner`update oms_audit_outbox.audit_outbox_parked set event = event || '{"occurred_at":"2026-12-01T09:30:00Z"}' where id = ${bad!.id}`;
    } finally {
      await owner.end();
    }
    const retry = await runCli(['outbox', 'retry', '--database-url', db.ownerUrl, '--all', '--json']);
    expect(JSON.parse(retry.stdout)).toEqual({ requeued: 1 });
    await until('the requeued event', () => metrics(secondPort), (v) => v.created_events_total === 1 && v.parked_events === 0);
    expect((await testSql()`select id::text from public.audit_events where tenant_id = ${t.id} order by seq`).map((r) => r.id)).toEqual([...good, bad!.id]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('refuses what it cannot work with, naming it', { timeout: 60_000 }, async () => {
    const [noUrl, noDatabase, noIds, tooBig] = await Promise.all([
      runCli(['relay', '--source', db.relayUrl, '--key', 'omsk_x']),
      runCli(['outbox', 'status']),
      runCli(['outbox', 'retry', '--database-url', db.ownerUrl]),
      runCli(['relay', '--source', db.relayUrl, '--url', baseUrl(), '--key', 'omsk_x', '--batch-size', '501']),
    ]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('relay needs --url');
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.stderr).toContain('--database-url (or OMS_AUDIT_OUTBOX_DATABASE_URL) is required');
    expect(noIds.code).toBe(2);
    expect(noIds.stderr).toContain('outbox retry needs --id or --all');
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toContain('--batch-size is at most 500');
  });
});
