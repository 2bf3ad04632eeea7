/**
 * Searches by sealed value are exact (docs/personal-data.md, "Search cost"):
 *
 * - a search, and an export, read the tenant's declaration, the keys holding a
 *   value and the clear actors in the snapshot they then read: a batch that
 *   commits between those look-ups and the search — a known service and one
 *   never seen before, both with the value in clear — is found whole by the
 *   next search, never half (the new actor missing from the list while the
 *   search sees its event);
 * - confinement starts at the declaration: a server that has not noticed the
 *   declaration (its settings cached from before) has its unsealed batch
 *   refused by the database (OA002), reads the declaration and stores the
 *   batch sealed; nothing of it is stored in clear, and the search finds it;
 * - the declaration waits for a writer holding the tenant's sequence lock, and
 *   records the clear "pd2:…" actor id that writer stored before it;
 * - the server's role cannot write what the declaration records.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { filterExpr, listEventsInput, type EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import { connect, withTenant, type TenantClaims, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { caughtUpRead, type ReadSource } from '@/server/db/read-source.ts';
import { appendEventsWithin } from '@/supabase/functions/_shared/ingest.ts';
import { adminSql, testSql } from '@/test/fixtures.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { logEvents, NO_OBSERVED_CLIENT } from '../ingest.ts';
import { listEvents, whereClause } from '../query.ts';
import { countMatching } from '../count.ts';
import { searchShape } from '../search-shape.ts';
import { startExport } from '../export.ts';
import { COPY_PARAMS_SETTING, whereCopy } from '../filters/postgres.ts';
import { searchHooks, withBlindIndex } from './search.ts';
import { declarePersonalData } from './settings.ts';

const IP = '192.0.2.41';
const writer = { kind: 'operator', name: 'test' } as const;
let n = 0;
const ev = (actor_type: string, actor_id: string, context: Record<string, unknown> = {}): AuditEventRequest => ({
  occurred_at: new Date(Date.now() - 3_600_000 + ++n * 1000).toISOString(),
  actor_type,
  actor_id,
  object_type: 'ORDER',
  object_id: `ORD-${n}`,
  event_type: 'CREATE',
  ip_address: IP,
  context: { n, ...context },
});
const write = (tenantId: string, events: AuditEventRequest[]) => logEvents(testSql(), { tenantId, writer }, parseBatch({ events }, 20), NO_OBSERVED_CLIENT, 'cli');
const claimsOf = (tenantId: string): TenantClaims => ({ tenant_id: tenantId, sub: 'test', role: 'authenticated' });
type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; 'Function Name'?: string; Plans?: PlanNode[] };
const labels = (events: { context: Record<string, unknown> }[]) => events.map((e) => e.context.label as string).sort();

afterEach(() => {
  delete searchHooks.resolved;
});

async function sealingTenant(label: string) {
  const tenant = await createTenant(testSql(), `${label}-${Date.now()}-${n}`);
  await declarePersonalData(testSql(), tenant.id, 'operator:test', { contextPaths: ['email'], outsideRetention: true });
  await write(tenant.id, [ev('SYSTEM', 'router-1', { label: 'service' }), ev('TRADER', 'ann', { label: 'trader', email: 'ann@example.net' })]);
  return tenant.id;
}

/** Commits, once, one batch with the value in clear: a known service and a service never seen before. */
function commitInBetween(tenantId: string, round: string): void {
  searchHooks.resolved = async () => {
    delete searchHooks.resolved;
    await write(tenantId, [ev('SYSTEM', 'router-1', { label: `${round}-known` }), ev('SYSTEM', `router-new-${round}`, { label: `${round}-new` })]);
  };
}

async function exportedLabels(tenantId: string, filters: EventFiltersInput, reads?: ReadSource): Promise<string[]> {
  const started = await startExport(testSql(), claimsOf(tenantId), { format: 'jsonl', filters: listEventsInput.parse(filters), exporter: { kind: 'cli', os_user: 'test' } }, reads);
  let text = '';
  for await (const chunk of started.stream) text += chunk;
  expect(await started.done).toMatchObject({ status: 'complete', read_from: { database: reads?.database ?? 'primary' } });
  return labels(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { context: Record<string, unknown> }),
  );
}

describe('a search by sealed value and its look-ups read one snapshot', () => {
  it('a batch committed between the look-ups and the search is in neither, and found whole by the next search (pages, counts, shape, export)', async () => {
    const tenantId = await sealingTenant('sealed-exact-snapshot');
    const claims = claimsOf(tenantId);
    const filters = listEventsInput.parse({ ip_address: IP, order: 'asc', limit: 100 });
    // The column side is confined to the clear actors, listed in the search's snapshot.
    expect((await withBlindIndex(testSql(), tenantId, filters)).clear_actors?.actors).toEqual(['router-1']);

    commitInBetween(tenantId, 'page');
    expect(labels((await listEvents(testSql(), claims, filters)).events)).toEqual(['service', 'trader']);
    expect(searchHooks.resolved).toBeUndefined();
    expect(labels((await listEvents(testSql(), claims, filters)).events)).toEqual(['page-known', 'page-new', 'service', 'trader']);

    commitInBetween(tenantId, 'count');
    expect(await countMatching(testSql(), claims, filters)).toEqual({ count: 4, exact: true });
    expect(await countMatching(testSql(), claims, filters)).toEqual({ count: 6, exact: true });

    commitInBetween(tenantId, 'shape');
    const shape = await searchShape(testSql(), claims, filters, { exact: true });
    expect(shape.buckets.reduce((sum, b) => sum + b.count, 0)).toBe(6);
    expect(shape.facets.actor_id.find((f) => f.value === 'router-new-shape')).toBeUndefined();

    // Exports resolve their sealed values in the export's own snapshot, so they confine too.
    commitInBetween(tenantId, 'export');
    const exported = await exportedLabels(tenantId, { ip_address: IP });
    expect(exported).toEqual(['count-known', 'count-new', 'page-known', 'page-new', 'service', 'shape-known', 'shape-new', 'trader']);
    expect(await exportedLabels(tenantId, { ip_address: IP })).toEqual([...exported, 'export-known', 'export-new'].sort());
    // The same from the streaming replica when the suite runs with one (OMS_AUDIT_TEST_TOPOLOGY=replica): its
    // repeatable-read, read-only snapshot holds the look-ups and the search alike.
    const replicaUrl = inject('readDatabaseUrl');
    const replica = replicaUrl ? connect(replicaUrl, { max: 2, prepare: inject('dbPrepare') }) : undefined;
    try {
      const reads = await caughtUpRead(testSql(), replica, 10_000);
      expect(reads.database).toBe(replica ? 'replica' : 'primary');
      const all = [...exported, 'export-known', 'export-new'].sort();
      expect(labels((await listEvents(reads.sql, claims, filters)).events)).toEqual(all);
      expect(await exportedLabels(tenantId, { ip_address: IP }, reads)).toEqual(all);
    } finally {
      await replica?.end();
    }

    const resolved = await withBlindIndex(testSql(), tenantId, filters);
    expect(resolved.clear_actors?.actors).toEqual(['router-1', 'router-new-count', 'router-new-export', 'router-new-page', 'router-new-shape']);

    // The export's COPY condition (values from a setting) is planned as the search's own (bound values): the same
    // scans of the same indexes, the tokens through oms_audit.events_with_tokens, no sequential scan of events.
    const { sql: condition, settingValue } = whereCopy(tenantId, filterExpr(resolved), { alias: 'e', tokenLookup: true });
    const scans = async (explain: (tx: TxSql) => Promise<readonly Record<string, unknown>[]>) => {
      const plan = await withTenant(testSql(), claims, async (tx) => {
        await tx`select set_config(${COPY_PARAMS_SETTING}, ${settingValue}, true), set_config('enable_seqscan', 'off', true)`;
        return (await explain(tx))[0]!['QUERY PLAN'] as { Plan: PlanNode }[];
      });
      const found: string[] = [];
      const walk = (node: PlanNode) => {
        if (/Scan/.test(node['Node Type'])) found.push(`${node['Node Type']} ${node['Index Name'] ?? node['Function Name'] ?? node['Relation Name'] ?? ''}`);
        node.Plans?.forEach(walk);
      };
      walk(plan[0]!.Plan);
      return found.sort();
    };
    const exportScans = await scans((tx) => tx.unsafe(`explain (format json) select e.seq from public.audit_events e where ${condition}`));
    const searchScans = await scans((tx) => tx`explain (format json) select seq from public.audit_events where ${whereClause(tx, tenantId, resolved)}`);
    expect(exportScans).toEqual(searchScans);
    expect(exportScans).toContain('Function Scan events_with_tokens');
    expect(exportScans.filter((scan) => scan.startsWith('Seq Scan'))).toEqual([]);
  });
});

describe('an export of a sealing tenant', () => {
  it('refuses a condition other than equality on a declared member before it records anything', async () => {
    const tenantId = await sealingTenant('sealed-exact-refused');
    const filters = listEventsInput.parse({ q: 'email ~ "ANN@EXAMPLE.NET"' });
    await expect(startExport(testSql(), claimsOf(tenantId), { format: 'jsonl', filters, exporter: { kind: 'cli', os_user: 'test' } })).rejects.toMatchObject({
      status: 400,
      issues: [expect.objectContaining({ message: expect.stringMatching(/only equality/) })],
    });
    expect(await adminSql()`select id from public.audit_exports where tenant_id = ${tenantId}`).toHaveLength(0);
  });
});

describe('sealing from the declaration on', () => {
  it("a server that has not noticed a declaration has its unsealed batch refused by the database, and stores it sealed", async () => {
    const tenant = await createTenant(testSql(), `sealed-exact-stale-${Date.now()}`);
    // The declaration is made elsewhere; this process still holds what it read before it (no declaration).
    await declarePersonalData(testSql(), tenant.id, 'operator:elsewhere', { contextPaths: ['email'], outsideRetention: true });
    const holder = globalThis as typeof globalThis & {
      __omsAuditPersonalSettings?: Map<string, { settings: null; until: number }>;
      __omsAuditSealingTenants?: Map<string, { seals: boolean; until: number }>;
    };
    holder.__omsAuditPersonalSettings!.set(tenant.id, { settings: null, until: performance.now() + 60_000 });
    holder.__omsAuditSealingTenants?.set(tenant.id, { seals: false, until: performance.now() + 60_000 });

    // The attack at the database: an unsealed batch's check, in the writer's transaction, refuses it.
    await expect(withTenant(testSql(), claimsOf(tenant.id), (tx) => tx`select oms_audit.require_sealing_undeclared()`)).rejects.toMatchObject({ code: 'OA002' });

    const result = await write(tenant.id, [ev('TRADER', 'stale.trader@example.com', { label: 'stale', email: 'stale@example.net' })]);
    expect(result.created_count).toBe(1);
    const [row] = await adminSql()`select schema_version, actor_id, ip_address, context::text as context from public.audit_events where tenant_id = ${tenant.id}`;
    expect(row).toMatchObject({ schema_version: 3, ip_address: null });
    expect(row!.actor_id).toMatch(/^pd2:/);
    expect(row!.context).not.toContain('stale@example.net');
    // Confined from the declaration: no clear actor at all, and the token side finds the event.
    const filters = listEventsInput.parse({ ip_address: IP, order: 'asc', limit: 10 });
    expect((await withBlindIndex(testSql(), tenant.id, filters)).clear_actors).toEqual(expect.objectContaining({ actors: [] }));
    expect(labels((await listEvents(testSql(), claimsOf(tenant.id), filters)).events)).toEqual(['stale']);
    const [settings] = await adminSql()`select clear_reference_like_actors, sealed_from_seq from oms_audit.personal_data_settings where tenant_id = ${tenant.id}`;
    expect(settings).toEqual({ clear_reference_like_actors: [], sealed_from_seq: 0 });
  });

  it('the declaration waits for a writer holding the sequence lock, and records the clear "pd2:" actor id it stored', async () => {
    const tenant = await createTenant(testSql(), `sealed-exact-lock-${Date.now()}`);
    await write(tenant.id, [ev('SYSTEM', 'pd2:desk-a', { label: 'before' })]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let stored!: (pid: number) => void;
    const writerPid = new Promise<number>((resolve) => (stored = resolve));
    // A writer's transaction: its unsealed event (an actor id that merely begins "pd2:") holds the sequence lock.
    const writing = withTenant(testSql(), claimsOf(tenant.id), async (tx) => {
      const [me] = await tx`select pg_backend_pid() as pid`;
      await appendEventsWithin(testSql(), tx, { tenantId: tenant.id, writer }, parseBatch({ events: [ev('SYSTEM', 'pd2:desk-b', { label: 'during' })] }, 1), NO_OBSERVED_CLIENT);
      stored(me!.pid as number);
      await held;
    });
    const pid = await writerPid;
    const declaring = declarePersonalData(testSql(), tenant.id, 'operator:test', { outsideRetention: true });
    // Queued behind the writer (PostgreSQL's lock table, not a guess at timing).
    for (;;) {
      const [waiting] = await adminSql()`select 1 from pg_stat_activity where ${pid} = any(pg_blocking_pids(pid)) and query like '%declare_sealing%'`;
      if (waiting) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    release();
    await writing;
    await declaring;
    const [settings] = await adminSql()`
      select s.clear_reference_like_actors, s.sealed_from_seq, q.last_seq
      from oms_audit.personal_data_settings s join oms_audit.tenant_sequences q using (tenant_id) where s.tenant_id = ${tenant.id}`;
    expect(settings).toEqual({ clear_reference_like_actors: ['pd2:desk-a', 'pd2:desk-b'], sealed_from_seq: 2, last_seq: 2 });
    // Both are clear actors of the tenant's searches from the declaration on (a trader's event is sealed).
    await write(tenant.id, [ev('TRADER', 'ann', { label: 'after' })]);
    const filters = listEventsInput.parse({ ip_address: IP, order: 'asc', limit: 10 });
    expect((await withBlindIndex(testSql(), tenant.id, filters)).clear_actors?.actors).toEqual(['pd2:desk-a', 'pd2:desk-b']);
    expect(labels((await listEvents(testSql(), claimsOf(tenant.id), filters)).events)).toEqual(['after', 'before', 'during']);
  });

  it("the server's role cannot write what a declaration records", async () => {
    const tenant = await createTenant(testSql(), `sealed-exact-grants-${Date.now()}`);
    await declarePersonalData(testSql(), tenant.id, 'operator:test', { outsideRetention: true });
    await expect(testSql()`update oms_audit.personal_data_settings set clear_reference_like_actors = '{}' where tenant_id = ${tenant.id}`).rejects.toMatchObject({ code: '42501' });
    await expect(testSql()`update oms_audit.personal_data_settings set sealed_from_seq = 99 where tenant_id = ${tenant.id}`).rejects.toMatchObject({ code: '42501' });
  });
});
