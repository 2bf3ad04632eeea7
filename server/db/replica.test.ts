/**
 * DATABASE_READ_URL on a real streaming replica (Debian PostgreSQL 15,
 * pg_basebackup into a second cluster): searches and exports (REST, bundle,
 * CLI) read there, yet a search or export right after a write shows it; when
 * the replica falls behind (replay paused) or goes away, they read from the
 * primary instead of showing less, and an export's manifest says which;
 * writes (manifests, AUDIT_EXPORT events) never touch the replica.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { event } from '@/test/fixtures.ts';
import { runCli } from '@/test/cli.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { startPrimary, startReplica, type Service } from '@/test/topology.ts';
import { migrate } from './migrate.ts';
import { OWNER_ROLE, RUNTIME_ROLE, setUpEmbeddedRoles } from './roles.ts';
import type { ExportManifest } from '@/server/services/export.ts';

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

describe('searches and exports on a streaming replica', () => {
  it('read there yet show every acknowledged write, fall back to the primary when it lags or fails (the manifest of an export says which), and never write there', { timeout: 240_000 }, async () => {
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
    const primaryAdmin = connect(primary.url('oms_audit'), { max: 1 });
    pools.push(sql, replicaAdmin, primaryAdmin);
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
    /** Exports the object's events as JSON Lines (or a bundle), once its manifest is complete and its AUDIT_EXPORT event recorded. */
    const exported = async (objectId: string, options: { bundle?: boolean } = {}) => {
      const res = await fetch(`${server!.baseUrl}/api/v1/audit/events/export?format=jsonl&object_id=${objectId}${options.bundle ? '&bundle=true' : ''}`, { headers });
      expect(res.status).toBe(200);
      const id = res.headers.get('x-audit-export-id')!;
      const body = Buffer.from(await res.arrayBuffer());
      // Written on the primary: the manifest (once complete) and the AUDIT_EXPORT event in the tenant's trail.
      let manifest: ExportManifest | undefined;
      for (let i = 0; i < 200 && manifest?.status !== 'complete'; i++) {
        const [row] = await primaryAdmin`select manifest from public.audit_exports where id = ${id}`;
        manifest = row?.manifest as ExportManifest | undefined;
        if (manifest?.status !== 'complete') await new Promise((r) => setTimeout(r, 50));
      }
      expect(manifest?.status).toBe('complete');
      for (let i = 0; i < 200; i++) {
        const [recorded] = await primaryAdmin`select count(*)::int as n from public.audit_events where tenant_id = ${tenant.id} and object_type = 'AUDIT_EXPORT' and object_id = ${id}`;
        if (recorded!.n === 1) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const [recorded] = await primaryAdmin`select count(*)::int as n from public.audit_events where tenant_id = ${tenant.id} and object_type = 'AUDIT_EXPORT' and object_id = ${id}`;
      expect(recorded!.n).toBe(1);
      const rows = options.bundle ? manifest!.row_count! : body.toString('utf8').split('\n').filter(Boolean).length;
      return { rows, manifest: manifest!, bytes: body.length };
    };
    /** The export sessions (application_name oms-audit-export…) each cluster authorised while `run` ran, from the clusters' connection logs. */
    const exportSessionsDuring = async <T>(run: () => Promise<T>) => {
      const before = { replica: replica!.log().length, primary: primary!.log().length };
      const result = await run();
      const sessions = (log: string) => [...log.matchAll(/connection authorized: .*application_name=(oms-audit-export[\w-]*)/g)].map((m) => m[1]!);
      return { result, replica: sessions(replica!.log().slice(before.replica)), primary: sessions(primary!.log().slice(before.primary)) };
    };

    // A search right after each write shows all of it, read on the replica.
    for (let i = 0; i < 10; i++) {
      const objectId = `ORD-R${i}`;
      await write(objectId);
      expect(await found(objectId)).toBe(20);
    }
    const caughtUp = await searchReads(server.baseUrl);
    expect(caughtUp.replica).toBeGreaterThanOrEqual(10);
    // Only the search pool (and the start-up check) ever connected to the replica as the server: writes, sealing and retention did not.
    const runtimeSessions = [...replica.log().matchAll(new RegExp(`connection authorized: user=${RUNTIME_ROLE} .*application_name=(\\S+)`, 'g'))].map((m) => m[1]!);
    expect(new Set(runtimeSessions)).toEqual(new Set(['oms-audit-reads', 'oms-audit-read-check']));

    // An export right after a write holds all of it, read on the replica (its snapshot is held there while it streams, not on the primary).
    await write('ORD-EXPORT');
    const { result: onReplicaExport, ...during } = await exportSessionsDuring(() => exported('ORD-EXPORT'));
    expect(onReplicaExport.rows).toBe(20);
    expect(onReplicaExport.manifest.read_from).toEqual({ database: 'replica', primary_lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), reason: null });
    expect(during.replica).toContain('oms-audit-export');
    expect(during.primary).toEqual([]);
    // A bundle too: its rows from the replica; sealing and checkpoints on the primary.
    await write('ORD-BUNDLE');
    const bundled = await exported('ORD-BUNDLE', { bundle: true });
    expect(bundled.manifest.read_from?.database).toBe('replica');
    expect(bundled.manifest.row_count).toBe(20);
    expect(bundled.manifest.bundle?.seq_to).not.toBeNull();
    // `oms-audit export` with DATABASE_READ_URL: the same rule, said in its output and manifest file.
    await write('ORD-CLI');
    const out = path.join(dataDir, 'cli-export.jsonl');
    const cli = await runCli(['export', '--tenant', tenant.id, '--format', 'jsonl', '--object-id', 'ORD-CLI', '--out', out], {
      DATABASE_URL: primary.url('oms_audit', RUNTIME_ROLE),
      DATABASE_READ_URL: replica.url('oms_audit', RUNTIME_ROLE),
      DATABASE_READ_MAX_WAIT_MS: '2000',
    });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('read from the replica');
    expect((await readFile(out, 'utf8')).split('\n').filter(Boolean)).toHaveLength(20);
    const cliManifest = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8')) as ExportManifest;
    expect(cliManifest.read_from?.database).toBe('replica');
    const [cliRecorded] = await primaryAdmin`select status from public.audit_exports where id = ${cliManifest.export_id}`;
    expect(cliRecorded!.status).toBe('complete');

    // Replay paused: the replica lacks the new write, the search still shows it, from the primary.
    await replicaAdmin`select pg_wal_replay_pause()`;
    await write('ORD-LAG');
    const [onReplica] = await replicaAdmin`select count(*)::int as n from public.audit_events where object_id = 'ORD-LAG'`;
    expect(onReplica!.n).toBe(0);
    expect(await found('ORD-LAG')).toBe(20);
    // So does an export, which says so in its manifest.
    const lagExport = await exported('ORD-LAG');
    expect(lagExport.rows).toBe(20);
    expect(lagExport.manifest.read_from?.database).toBe('primary');
    expect(lagExport.manifest.read_from?.reason).toMatch(/had not replayed the primary's WAL up to .* within 300 ms/);
    const lagCli = await runCli(['export', '--tenant', tenant.id, '--format', 'jsonl', '--object-id', 'ORD-LAG', '--out', `${out}.lag`], {
      DATABASE_URL: primary.url('oms_audit', RUNTIME_ROLE),
      DATABASE_READ_URL: replica.url('oms_audit', RUNTIME_ROLE),
      DATABASE_READ_MAX_WAIT_MS: '300',
    });
    expect(lagCli.code).toBe(0);
    expect(lagCli.stdout).toContain('read from the primary');
    expect((await readFile(`${out}.lag`, 'utf8')).split('\n').filter(Boolean)).toHaveLength(20);
    const lagging = await searchReads(server.baseUrl);
    expect(lagging.primary).toBeGreaterThan(caughtUp.primary);
    await replicaAdmin`select pg_wal_replay_resume()`;

    // The replica gone: searches go on from the primary, writes are unaffected.
    await replicaAdmin.end({ timeout: 1 });
    await replica.stop();
    replica = undefined;
    await write('ORD-GONE');
    expect(await found('ORD-GONE')).toBe(20);
    const goneExport = await exported('ORD-GONE');
    expect(goneExport.rows).toBe(20);
    expect(goneExport.manifest.read_from?.database).toBe('primary');
    expect(goneExport.manifest.read_from?.reason).toMatch(/^the replica could not be reached/);
    expect((await searchReads(server.baseUrl)).primary).toBeGreaterThan(lagging.primary);
  });
});
