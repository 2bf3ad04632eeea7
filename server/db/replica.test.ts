/**
 * DATABASE_READ_URL on a real streaming replica (Debian PostgreSQL 15,
 * pg_basebackup into a second cluster): searches read there, yet a search
 * right after a write shows it; when the replica falls behind (replay
 * paused) or goes away, searches read from the primary instead of showing
 * less; writes never touch the replica.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { event } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { startPrimary, startReplica, type Service } from '@/test/topology.ts';
import { migrate } from './migrate.ts';
import { OWNER_ROLE, RUNTIME_ROLE, setUpEmbeddedRoles } from './roles.ts';

const METRICS_TOKEN = 'replica-test-metrics-token';
let primary: Service | undefined;
let replica: Service | undefined;
let server: RunningServer | undefined;
const pools: Sql[] = [];
let dataDir = '';
afterAll(async () => {
  for (const pool of pools) await pool.end({ timeout: 1 });
  await server?.stop();
  await replica?.stop();
  await primary?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function searchReads(baseUrl: string): Promise<{ replica: number; primary: number }> {
  const text = await (await fetch(`${baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const count = (source: string) => Number(new RegExp(`^oms_audit_search_reads_total\\{source="${source}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { replica: count('replica'), primary: count('primary') };
}

describe('searches on a streaming replica', () => {
  it('read there yet show every acknowledged write, fall back to the primary when it lags or fails, and never write there', { timeout: 240_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-replica-test-'));
    primary = await startPrimary();
    const admin = connect(primary.url(), { max: 1 });
    await admin.unsafe('create database oms_audit');
    await setUpEmbeddedRoles(admin, 'oms_audit', { owner: randomUUID(), runtime: randomUUID() });
    await admin.end();
    const owner = connect(primary.url('oms_audit', OWNER_ROLE), { max: 1 });
    await migrate(owner);
    await owner.end();
    replica = await startReplica(primary);
    const sql = connect(primary.url('oms_audit', RUNTIME_ROLE), { max: 2 });
    const replicaAdmin = connect(replica.url('oms_audit'), { max: 1 });
    pools.push(sql, replicaAdmin);
    const tenant = await createTenant(sql, 'replica reads');
    const { key } = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:write', 'events:read'], name: 'app' });
    server = await startServer({
      databaseUrl: primary.url('oms_audit', RUNTIME_ROLE),
      dataDir: path.join(dataDir, 'server'),
      env: { DATABASE_READ_URL: replica.url('oms_audit', RUNTIME_ROLE), DATABASE_READ_MAX_WAIT_MS: '300', METRICS_TOKEN, OMS_AUDIT_FUNCTIONS: 'false', API_KEY_CACHE_SECONDS: '0' },
    });
    expect(server.output()).toContain('searches read from DATABASE_READ_URL (a streaming replica, as oms_audit_runtime)');
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const write = async (objectId: string) => {
      const res = await fetch(`${server!.baseUrl}/api/v1/audit/events`, { method: 'POST', headers, body: JSON.stringify({ events: Array.from({ length: 20 }, () => event({ object_id: objectId })) }) });
      expect(res.status).toBe(201);
    };
    const found = async (objectId: string) => {
      const res = await fetch(`${server!.baseUrl}/api/v1/audit/events?object_id=${objectId}&limit=100`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as { events: unknown[] }).events.length;
    };

    // A search right after each write shows all of it, read on the replica.
    for (let i = 0; i < 10; i++) {
      const objectId = `ORD-R${i}`;
      await write(objectId);
      expect(await found(objectId)).toBe(20);
    }
    const caughtUp = await searchReads(server.baseUrl);
    expect(caughtUp.replica).toBeGreaterThanOrEqual(10);
    const sessions = await replicaAdmin`select distinct application_name from pg_stat_activity where usename = ${RUNTIME_ROLE}`;
    // Only the search pool (and the start-up check) ever connected to the replica: writes, sealing and retention did not.
    expect(sessions.map((s) => s.application_name).filter((n) => n !== 'oms-audit-maintenance')).toEqual(['oms-audit-reads']);

    // Replay paused: the replica lacks the new write, the search still shows it, from the primary.
    await replicaAdmin`select pg_wal_replay_pause()`;
    await write('ORD-LAG');
    const [onReplica] = await replicaAdmin`select count(*)::int as n from public.audit_events where object_id = 'ORD-LAG'`;
    expect(onReplica!.n).toBe(0);
    expect(await found('ORD-LAG')).toBe(20);
    const lagging = await searchReads(server.baseUrl);
    expect(lagging.primary).toBeGreaterThan(caughtUp.primary);
    await replicaAdmin`select pg_wal_replay_resume()`;

    // The replica gone: searches go on from the primary, writes are unaffected.
    await replicaAdmin.end({ timeout: 1 });
    await replica.stop();
    replica = undefined;
    await write('ORD-GONE');
    expect(await found('ORD-GONE')).toBe(20);
    expect((await searchReads(server.baseUrl)).primary).toBeGreaterThan(lagging.primary);
  });
});
