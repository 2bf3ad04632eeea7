/**
 * @oms-audit/sdk as its users get it: `npm pack`, installed from the tarball
 * into a new project outside the repository (offline, its dependencies
 * already in that project's node_modules), then used from plain `node` (no
 * TypeScript loader), type-checked by TypeScript as a user's code would be,
 * and bundled for a browser page that logs from Chromium.
 */
import { chromium, type Browser } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseUrl, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { copyInstalledPackages } from '@/test/installed-packages.ts';
import { createOmsDatabase } from '@/test/oms-database.ts';

const sdkDir = import.meta.dirname;
const sdkPackage = JSON.parse(await readFile(path.join(sdkDir, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
let work: string;
let app: string;

/** Runs a command; its output on failure. The environment is the user's, without this test run's loaders. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const { NODE_OPTIONS: _n, VITEST: _v, ...inherited } = process.env;
  const result = spawnSync(command, args, { cwd, env: { ...inherited, ...env }, encoding: 'utf8', timeout: 180_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-sdk-package-'));
  // npm pack builds dist/ (prepack) and writes the tarball users would install.
  run('npm', ['pack', '--pack-destination', work, '--no-audit', '--no-fund'], sdkDir);
  const tarball = path.join(work, `oms-audit-sdk-${sdkPackage.version}.tgz`);

  app = path.join(work, 'app');
  await mkdir(app);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'an-oms', private: true, type: 'module' }, null, 2));
  // The dependencies the package declares (and TypeScript, for the type check) are there already; npm must fetch nothing.
  copyInstalledPackages([...Object.keys(sdkPackage.dependencies), 'typescript'], app);
  run('npm', ['install', '--offline', '--cache', path.join(work, 'npm-cache'), '--no-audit', '--no-fund', tarball], app);
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds built JavaScript and declarations, no TypeScript sources or tests', async () => {
    const installed = path.join(app, 'node_modules', '@oms-audit', 'sdk');
    const files = await readdir(installed, { recursive: true });
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.node.js', 'dist/index.d.ts', 'dist/index.node.d.ts', 'dist/outbox.js', 'dist/outbox.d.ts', 'dist/index.node.cjs', 'dist/index.node.d.cts', 'dist/outbox.cjs', 'dist/outbox.d.cts']));
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual(sdkPackage.dependencies);
    expect(JSON.parse(await readFile(path.join(app, 'package.json'), 'utf8')).dependencies).toEqual({ '@oms-audit/sdk': expect.stringMatching(/^file:/) });
  });

  it('logs, flushes and queries from plain node', { timeout: 60_000 }, async () => {
    const t = await newTenant('sdk-package');
    const objectId = `ORD-${randomUUID()}`;
    await writeFile(
      path.join(app, 'main.js'),
      `
import { createAuditClient, drainOnExit, fileSpill } from '@oms-audit/sdk';
import * as browserEntry from '@oms-audit/sdk/browser';

const audit = createAuditClient({ baseUrl: process.env.BASE_URL, functionsUrl: process.env.FUNCTIONS_URL, apiKey: process.env.API_KEY, spill: fileSpill(process.env.SPILL_DIR) });
const subject = { actor_id: 'trader-7', actor_type: 'USER', object_type: 'ORDER', object_id: process.env.OBJECT_ID };
const logged = [];
for (let i = 0; i < 20; i++) logged.push(await audit.log({ ...subject, event_type: 'FILL', context: { fill: i } }));
await audit.flush();
const bulk = await audit.logBulk(Array.from({ length: 60 }, (_, i) => ({ ...subject, event_type: 'ROUTE', context: { leg: i } })));
const found = [];
for await (const page of audit.query({ object_type: 'ORDER', object_id: process.env.OBJECT_ID, order: 'asc', limit: 30 })) found.push(...page.events.map((e) => e.id));
console.log(JSON.stringify({
  logged, bulkIds: bulk.ids, methods: bulk.calls.map((c) => c.method), found,
  shutdown: await audit.shutdown(),
  nodeOnly: [typeof fileSpill, typeof drainOnExit],
  browserEntry: Object.keys(browserEntry).sort(),
}));
`,
    );
    const out = run(process.execPath, ['main.js'], app, {
      BASE_URL: baseUrl(),
      FUNCTIONS_URL: inject('functionsBaseUrl'),
      API_KEY: t.key,
      OBJECT_ID: objectId,
      SPILL_DIR: path.join(work, 'spill'),
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(result.logged).toHaveLength(20);
    expect(result.methods).toEqual(['edge_function']);
    expect(result.found).toEqual([...result.logged, ...result.bulkIds]);
    expect(result.shutdown).toEqual({ drained: true, spilled: 0, undelivered: 0 });
    expect(result.nodeOnly).toEqual(['function', 'function']);
    expect(result.browserEntry).not.toContain('fileSpill');
    expect(result.browserEntry).toContain('createAuditClient');
    const stored = await testSql()`select id from public.audit_events where tenant_id = ${t.id} order by seq`;
    expect(stored.map((r) => r.id)).toEqual(result.found);
  });

  it('logs, flushes and queries from CommonJS with require(), without require(esm)', { timeout: 60_000 }, async () => {
    const t = await newTenant('sdk-package-cjs');
    const objectId = `ORD-${randomUUID()}`;
    // .cjs: CommonJS even inside the app's "type": "module" package.
    await writeFile(
      path.join(app, 'main.cjs'),
      `
const { createAuditClient, fileSpill } = require('@oms-audit/sdk');
const outbox = require('@oms-audit/sdk/outbox');
(async () => {
  const audit = createAuditClient({ baseUrl: process.env.BASE_URL, apiKey: process.env.API_KEY, spill: fileSpill(process.env.SPILL_DIR) });
  const logged = [];
  for (let i = 0; i < 5; i++) logged.push(await audit.log({ actor_id: 'trader-7', actor_type: 'USER', object_type: 'ORDER', object_id: process.env.OBJECT_ID, event_type: 'FILL', context: { fill: i } }));
  await audit.flush();
  const found = [];
  for await (const page of audit.query({ object_type: 'ORDER', object_id: process.env.OBJECT_ID, order: 'asc' })) found.push(...page.events.map((e) => e.id));
  console.log(JSON.stringify({ logged, found, resolved: require.resolve('@oms-audit/sdk'), outbox: typeof outbox.startRelay, shutdown: await audit.shutdown() }));
})().catch((err) => { console.error(err); process.exit(1); });
`,
    );
    // Node 20.19+ could load the ES modules through require(esm); the CommonJS build must not need it (Node 20.9 to 20.18).
    const flags = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module') ? ['--no-experimental-require-module'] : [];
    const out = run(process.execPath, [...flags, 'main.cjs'], app, { BASE_URL: baseUrl(), API_KEY: t.key, OBJECT_ID: objectId, SPILL_DIR: path.join(work, 'spill-cjs') });
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(result.resolved).toMatch(/dist[\\/]index\.node\.cjs$/);
    expect(result.outbox).toBe('function');
    expect(result.logged).toHaveLength(5);
    expect(result.found).toEqual(result.logged);
    expect(result.shutdown).toEqual({ drained: true, spilled: 0, undelivered: 0 });
  });

  it('shares one set of error classes between its CommonJS entries, so instanceof holds across them', async () => {
    await writeFile(
      path.join(app, 'errors.cjs'),
      `
const node = require('@oms-audit/sdk/node');
const outbox = require('@oms-audit/sdk/outbox');
const root = require('@oms-audit/sdk');
(async () => {
  // An error the outbox raises itself: an event the contract refuses, before any SQL (a client that would run it).
  const client = { query: async () => ({ rows: [] }) };
  let thrown;
  try {
    await outbox.outbox(client).log({ actor_id: 'trader-7' });
  } catch (err) {
    thrown = err;
  }
  console.log(JSON.stringify({
    same: outbox.AuditClientError === node.AuditClientError && root.AuditClientError === node.AuditClientError,
    thrownName: thrown && thrown.name,
    thrownMessage: thrown && thrown.message,
    thrownIsNodeClass: thrown instanceof node.AuditClientError,
    fromOutboxIsNodeClass: new outbox.AuditClientError('m', 'network', undefined) instanceof node.AuditClientError,
    bulkIsOutboxClass: new node.AuditBulkError(new node.AuditClientError('m', 'x', 500), [], []) instanceof outbox.AuditClientError,
    resolved: [require.resolve('@oms-audit/sdk/node'), require.resolve('@oms-audit/sdk/outbox')],
  }));
})().catch((err) => { console.error(err); process.exit(1); });
`,
    );
    const flags = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module') ? ['--no-experimental-require-module'] : [];
    const result = JSON.parse(run(process.execPath, [...flags, 'errors.cjs'], app).trim().split('\n').at(-1)!);
    expect(result.resolved).toEqual([expect.stringMatching(/dist[\\/]index\.node\.cjs$/), expect.stringMatching(/dist[\\/]outbox\.cjs$/)]);
    expect(result).toMatchObject({ same: true, fromOutboxIsNodeClass: true, bulkIsOutboxClass: true });
    expect(result.thrownName, result.thrownMessage).toBe('AuditClientError');
    expect(result.thrownIsNodeClass).toBe(true);
  });

  it('writes to the outbox in a transaction and relays it, from plain node with the PostgreSQL client the OMS installed', { timeout: 90_000 }, async () => {
    const t = await newTenant('sdk-package-outbox');
    const oms = await createOmsDatabase({ withOutbox: false });
    try {
      // The OMS's own client (postgres.js here), beside the package as an OMS would have it.
      await cp(path.join(sdkDir, '..', 'node_modules', 'postgres'), path.join(app, 'node_modules', 'postgres'), { recursive: true });
      await writeFile(
        path.join(app, 'outbox.js'),
        `
import { createOutbox, installOutbox, startRelay } from '@oms-audit/sdk/outbox';
import postgres from 'postgres';

const sql = postgres(process.env.OMS_URL, { max: 2, onnotice: () => {} });
await installOutbox(sql);
const audit = createOutbox({ defaults: { source: 'oms-1' } });
const subject = { actor_id: 'fix-engine', actor_type: 'SERVICE', object_type: 'ORDER', object_id: 'O-1' };
const ids = await sql.begin(async (tx) => {
  await tx\`insert into orders (id, status, quantity) values ('O-1', 'NEW', 100)\`;
  return [await audit.outbox(tx).log({ ...subject, event_type: 'CREATE' }), ...(await audit.outbox(tx).logBulk([{ ...subject, event_type: 'ROUTE' }, { ...subject, event_type: 'ACK' }]))];
});
const relay = startRelay({ source: process.env.OMS_URL, baseUrl: process.env.BASE_URL, apiKey: process.env.API_KEY });
await relay.drain({ timeoutMs: 30000 });
await relay.stop();
await sql.end();
console.log(JSON.stringify({ ids, stats: relay.stats() }));
`,
      );
      const out = run(process.execPath, ['outbox.js'], app, { OMS_URL: oms.ownerUrl, BASE_URL: baseUrl(), API_KEY: t.writeKey });
      const result = JSON.parse(out.trim().split('\n').at(-1)!);
      expect(result.stats).toMatchObject({ createdEvents: 3, role: 'stopped' });
      const stored = await testSql()`select id::text, event_type, source from public.audit_events where tenant_id = ${t.id} order by seq`;
      expect(stored.map((e) => [e.id, e.event_type, e.source])).toEqual([
        [result.ids[0], 'CREATE', 'oms-1'],
        [result.ids[1], 'ROUTE', 'oms-1'],
        [result.ids[2], 'ACK', 'oms-1'],
      ]);
      // The outbox is for Node: a browser bundle cannot resolve it.
      await writeFile(path.join(app, 'outbox-page.js'), `import { startRelay } from '@oms-audit/sdk/outbox';\nconsole.log(startRelay);\n`);
      await expect(build({ entryPoints: [path.join(app, 'outbox-page.js')], absWorkingDir: app, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' })).rejects.toThrow(/@oms-audit\/sdk\/outbox/);
    } finally {
      await oms.drop();
    }
  });

  it('type-checks a user’s TypeScript, AppRouter included, strictly and without skipping library checks', { timeout: 120_000 }, async () => {
    const source = `
import { createAuditClient, type AppRouter, type AuditEvent, type AuditEventRequest } from '@oms-audit/sdk';
import { fileSpill } from '@oms-audit/sdk/node';
import { createOutbox, startRelay, type OutboxTransaction, type RelayStats } from '@oms-audit/sdk/outbox';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

const audit = createAuditClient({ baseUrl: 'http://localhost:3000', apiKey: 'omsk_x', spill: fileSpill('/tmp/spill') });
const event: AuditEventRequest = { actor_id: 'a', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-1', event_type: 'CREATE' };
void audit.log(event);

const trpc = createTRPCClient<AppRouter>({ links: [httpLink({ url: 'http://localhost:3000/api/trpc' })] });
type Page = inferRouterOutputs<AppRouter>['events']['list'];
type ListInput = inferRouterInputs<AppRouter>['events']['list'];
export async function latest(): Promise<number> {
  const page: Page = await trpc.events.list.query({ object_type: 'ORDER', limit: 10 } satisfies ListInput);
  const first: AuditEvent | undefined = page.events[0];
  return first ? first.seq : 0;
}
// @ts-expect-error a page's events carry numbers in seq, not strings
export const wrong: string = ({} as Page).events[0]!.seq;
export async function inTransaction(tx: OutboxTransaction): Promise<string> {
  return createOutbox().outbox(tx).log(event);
}
export const lag = (): number | null => startRelay({ source: 'postgres://oms', baseUrl: 'http://localhost:3000', apiKey: 'omsk_x' }).stats().oldestPendingSeconds satisfies RelayStats['oldestPendingSeconds'];
// @ts-expect-error the outbox writes only within a transaction
void createOutbox().outbox('postgres://oms');
// @ts-expect-error no such procedure
void trpc.events.nothingHere;
`;
    await writeFile(path.join(app, 'check.ts'), source);
    await writeFile(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [] }, files: ['check.ts'] }),
    );
    const { NODE_OPTIONS: _n, ...env } = process.env;
    const tsc = spawnSync(process.execPath, [path.join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, env, encoding: 'utf8' });
    const errors = tsc.stdout.split('\n').filter((line) => / error TS\d+/.test(line));
    // tRPC's own declarations want Node's and ws's types (its server adapters); that is tRPC's, not this package's.
    const ours = errors.filter((line) => !line.startsWith('node_modules/@trpc/server/'));
    expect(ours).toEqual([]);
    expect(tsc.stderr).toBe('');
    expect([0, 2]).toContain(tsc.status);
  });
});

describe('the browser build in Chromium', () => {
  let browser: Browser | undefined;
  afterAll(() => browser?.close());

  it('bundles without Node built-ins and logs from a page', { timeout: 90_000 }, async () => {
    const t: TestTenant = await newTenant('sdk-browser');
    await writeFile(
      path.join(app, 'page.js'),
      `
import { createAuditClient } from '@oms-audit/sdk';
const params = new URLSearchParams(location.hash.slice(1));
const audit = createAuditClient({ baseUrl: location.origin, functionsUrl: params.get('functions'), apiKey: params.get('key') });
const subject = { actor_id: 'trader-7', actor_type: 'USER', object_type: 'ORDER', object_id: params.get('object') };
try {
  const id = await audit.log({ ...subject, event_type: 'CANCEL', user_agent: navigator.userAgent });
  await audit.flush();
  const bulk = await audit.logBulk(Array.from({ length: 51 }, (_, i) => ({ ...subject, event_type: 'ROUTE', context: { leg: i } })));
  const found = [];
  for await (const page of audit.query({ object_type: 'ORDER', object_id: subject.object_id, order: 'asc' })) found.push(...page.events.map((e) => e.id));
  window.result = { id, methods: bulk.calls.map((c) => c.method), fallback: bulk.calls.map((c) => c.fallback_reason).filter(Boolean), found };
} catch (err) {
  window.result = { error: String(err && err.stack || err) };
}
`,
    );
    const bundle = await build({ entryPoints: [path.join(app, 'page.js')], absWorkingDir: app, bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(bundle.metafile.inputs);
    expect(inputs).toContain('node_modules/@oms-audit/sdk/dist/index.js');
    expect(inputs.filter((f) => f.startsWith('node:') || f.includes('index.node'))).toEqual([]);

    // The page is served at the server's origin (as an app's own page would be); its requests are real.
    // A page Playwright fulfils has no address, so Chromium would take it for a public site calling
    // loopback (the edge function's port) and ask for local-network permission: that check is off here.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-features=LocalNetworkAccessChecks', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost'],
    });
    const page = await browser.newPage();
    const console: string[] = [];
    page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on('requestfailed', (request) => console.push(`failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
    const script = bundle.outputFiles[0]!.text;
    await page.route(`${baseUrl()}/sdk-in-a-page`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>an OMS page</title><script type="module" src="/sdk-in-a-page.js"></script>' }),
    );
    await page.route(`${baseUrl()}/sdk-in-a-page.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: script }));
    const objectId = `ORD-${randomUUID()}`;
    await page.goto(`${baseUrl()}/sdk-in-a-page#${new URLSearchParams({ key: t.key, object: objectId, functions: inject('functionsBaseUrl') })}`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result, null, { timeout: 60_000 });
    const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as { id: string; methods: string[]; fallback: string[]; found: string[]; error?: string };
    expect(result.error, console.join('\n')).toBeUndefined();
    expect(result, console.join('\n')).toMatchObject({ methods: ['edge_function'], fallback: [] });
    expect(result.found).toHaveLength(52);
    expect(result.found[0]).toBe(result.id);
    const [stored] = await testSql()`select user_agent from public.audit_events where tenant_id = ${t.id} and id = ${result.id}`;
    expect(stored?.user_agent).toMatch(/Chrome/);
  });
});
