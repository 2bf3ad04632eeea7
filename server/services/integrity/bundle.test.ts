/**
 * Export bundles, checked the way a regulator would: downloaded over HTTP,
 * unzipped, and run through the bundled standalone verifier with the
 * operator's public key obtained separately.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { keyIdOf, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { baseUrl, call, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { cutOffTail } from '@/test/tamper.ts';
import { latestCheckpoint, sealTenant } from './checkpoints.ts';
import { signer } from './signing-key.ts';
import { unzipTo } from '@/test/unzip.ts';

const run = promisify(execFile);
let work: string;
let operatorKeyFile: string;
let operatorKeyId: string;
let tenant: TestTenant;

/** Unzips a bundle into a fresh folder; returns the bundle's own folder inside it. */
async function unzip(bytes: Buffer): Promise<string> {
  const into = await mkdtemp(path.join(work, 'bundle-'));
  await writeFile(`${into}.zip`, bytes);
  return unzipTo(`${into}.zip`, into);
}

async function download(query: string, key = tenant.readKey): Promise<string> {
  const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?bundle=true&${query}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/zip');
  return unzip(Buffer.from(await res.arrayBuffer()));
}

/** Runs the bundle's own verify.mjs; returns its exit code and output. */
async function verify(dir: string, ...keyArgs: string[]): Promise<{ code: number; out: string }> {
  const args = keyArgs.length ? keyArgs : ['--public-key', operatorKeyFile];
  try {
    const { stdout } = await run(process.execPath, [path.join(dir, 'verify.mjs'), ...args, dir]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

const dataFileOf = async (dir: string) => path.join(dir, JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')).file_name as string);

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-bundles-'));
  const { body: published } = await call('GET', '/api/integrity/public-key');
  operatorKeyFile = path.join(work, 'operator.pem');
  operatorKeyId = published.key_id;
  await writeFile(operatorKeyFile, published.public_key_pem);

  tenant = await newTenant('bundle');
  // Values a CSV or a canonical form could get wrong: formula and quote prefixes, quotes, commas,
  // line breaks, non-ASCII, IPv6, nested context with numbers, booleans and nulls.
  const tricky = [
    event({ object_id: 'ORD-1', actor_id: '=HYPERLINK("x")', context: { symbol: 'AAPL', px: 187.25, qty: 100, note: 'a "quoted", comma\nline' } }),
    event({ object_id: 'ORD-1', actor_id: "'already quoted", event_type: 'UPDATE', context: { before: { qty: 100 }, after: { qty: 50 }, flag: true, none: null } }),
    event({ object_id: 'ORD-2', actor_id: '+1-555', ip_address: '2001:db8::1', user_agent: 'Agent/1.0 (Überweisung; 東京)', context: { symbol: 'ÄÖÜ', big: 12345678901234 } }),
    event({ object_id: 'ORD-2', actor_id: '-minus', source: '@source', request_id: 'req-1', event_type: 'CANCEL', outcome: 'failure', context: {} }),
  ];
  const filler = Array.from({ length: 120 }, (_, i) => event({ object_id: `ORD-${3 + (i % 30)}`, context: { symbol: i % 2 ? 'MSFT' : 'AAPL', i } }));
  for (const batch of [tricky, filler]) {
    const res = await call('POST', '/api/v1/audit/events', { key: tenant.writeKey, body: { events: batch } });
    expect(res.status).toBe(201);
  }
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('export bundles', () => {
  it('verifies a complete CSV export offline with the operator key, by file or by fingerprint', async () => {
    const dir = await download('format=csv');
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ tenant_id: tenant.id, format: 'csv', row_count: 124, bundle: { complete: true, seq_from: 1, seq_to: 124, key_id: operatorKeyId } });
    expect(await readFile(path.join(dir, 'README.txt'), 'utf8')).toContain(`--fingerprint ${operatorKeyId}`);

    const byKey = await verify(dir);
    expect(byKey).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED: 124 rows') });
    expect((await verify(dir, '--fingerprint', operatorKeyId)).code).toBe(0);
  });

  it('verifies filtered exports in CSV for Excel and JSON Lines, row by row with audit paths', async () => {
    const csv = await download('format=csv&excel=true&object_id=ORD-2');
    const manifest = JSON.parse(await readFile(path.join(csv, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ row_count: 2, excel: true, bundle: { complete: false } });
    expect((await readFile(path.join(csv, 'proofs.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2);
    expect(await verify(csv)).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED: 2 rows') });

    const jsonl = await download('format=jsonl&context.symbol=MSFT');
    expect(await verify(jsonl)).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED: 60 rows') });
  });

  it('fails when a cell is edited, a row dropped or rows reordered, naming the problem', async () => {
    const pristine = await download('format=csv');
    const file = await dataFileOf(pristine);
    const original = await readFile(file, 'utf8');
    const lines = original.split('\r\n');

    const cases: [string, string][] = [
      ['edited cell', original.replace('ORD-2', 'ORD-9')],
      ['dropped row', [...lines.slice(0, 5), ...lines.slice(6)].join('\r\n')],
      ['reordered rows', [lines[0], lines[2], lines[1], ...lines.slice(3)].join('\r\n')],
    ];
    for (const [label, content] of cases) {
      await writeFile(file, content);
      const result = await verify(pristine);
      expect(result.code, label).toBe(1);
      expect(result.out, label).toContain('does not match the SHA-256 in the signed manifest');
    }

    // The file edited and the manifest updated to match: the manifest's signature no longer holds.
    const edited = original.replace('ORD-2', 'ORD-9');
    await writeFile(file, edited);
    const manifestFile = path.join(pristine, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.sha256 = createHash('sha256').update(edited).digest('hex');
    await writeFile(manifestFile, JSON.stringify(manifest));
    expect(await verify(pristine)).toMatchObject({ code: 1, out: expect.stringContaining('manifest.json is not signed by the trusted key') });
  });

  it('fails when rows are reordered and the manifest re-signed to match, naming the row out of order', async () => {
    const dir = await download('format=jsonl&object_type=ORDER');
    const file = await dataFileOf(dir);
    const lines = (await readFile(file, 'utf8')).split('\n');
    const swapped = [lines[1], lines[0], ...lines.slice(2)].join('\n');
    await writeFile(file, swapped);
    // Whoever holds the signing key re-signs the manifest: only the order check is left to catch it.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.sha256 = createHash('sha256').update(swapped).digest('hex');
    await writeFile(manifestFile, JSON.stringify(manifest));
    await writeFile(path.join(dir, 'manifest.sig'), sign(null, Buffer.from(canonicalJson(manifest)), privateKey).toString('base64') + '\n');
    const keyFile = path.join(dir, '..', 'resigner.pem');
    await writeFile(keyFile, publicKey.export({ format: 'pem', type: 'spki' }));
    const result = await verify(dir, '--public-key', keyFile);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/row 2 \(seq \d+\) is out of order/);
  });

  it('fails when rows are reordered even if the manifest is re-signed with the operator key; newest-first exports verify', async () => {
    const dir = await download('format=csv');
    const file = await dataFileOf(dir);
    const lines = (await readFile(file, 'utf8')).split('\r\n');
    // Rows 3 and 4 swapped: each row is still genuine, the file is complete, but not in the export's order.
    const reordered = [...lines.slice(0, 3), lines[4], lines[3], ...lines.slice(5)].join('\r\n');
    await writeFile(file, reordered);
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.sha256 = createHash('sha256').update(reordered).digest('hex');
    await writeFile(manifestFile, JSON.stringify(manifest));
    // Someone holding the operator's own signing key re-signs the manifest.
    const operatorKey = createPrivateKey(await readFile(inject('signingKeyFile'), 'utf8'));
    await writeFile(path.join(dir, 'manifest.sig'), sign(null, Buffer.from(canonicalJson(manifest)), operatorKey).toString('base64') + '\n');
    const result = await verify(dir);
    expect(result).toMatchObject({ code: 1, out: expect.stringContaining('row 4 (seq 3) is out of order') });

    const newest = await download('format=jsonl&order=desc');
    expect(await verify(newest)).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED') });
  });

  it('fails when the bundle is re-signed with another key, whatever public key it carries', async () => {
    const dir = await download('format=csv&object_id=ORD-1');
    const file = await dataFileOf(dir);
    const forged = (await readFile(file, 'utf8')).replace('trader-7', 'trader-8');
    await writeFile(file, forged);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.sha256 = createHash('sha256').update(forged).digest('hex');
    manifest.bundle.key_id = keyIdOf(publicKey);
    await writeFile(manifestFile, JSON.stringify(manifest));
    await writeFile(path.join(dir, 'manifest.sig'), sign(null, Buffer.from(canonicalJson(manifest)), privateKey).toString('base64'));
    await writeFile(path.join(dir, 'public-key.pem'), publicKey.export({ format: 'pem', type: 'spki' }));

    expect(await verify(dir)).toMatchObject({ code: 1, out: expect.stringContaining('not signed by the trusted key') });
    expect(await verify(dir, '--fingerprint', operatorKeyId)).toMatchObject({ code: 1, out: expect.stringContaining('is not the one with fingerprint') });
  });
});

describe('a bundle as it streams', () => {
  it('sends its first bytes while the export is still reading rows, and completes once read to the end', { timeout: 120_000 }, async () => {
    const { startExport } = await import('@/server/services/export.ts');
    const { bundleExport } = await import('./bundle.ts');
    const { signer } = await import('./signing-key.ts');
    const { testSql } = await import('@/test/fixtures.ts');
    const big = await newTenant('bundle-stream');
    for (let i = 0; i < 40; i++) {
      // Random payloads: the zip's deflate must not shrink 20,000 rows into what the buffers hold.
      const events = Array.from({ length: 500 }, (_, k) => event({ object_id: `ORD-${i}-${k}`, context: { symbol: 'AAPL', noise: randomBytes(96).toString('base64'), k } }));
      const res = await call('POST', '/api/v1/audit/events', { key: big.writeKey, body: { events } });
      expect(res.status).toBe(201);
    }
    const claims = { tenant_id: big.id, sub: 'test', role: 'authenticated' as const };
    const started = await startExport(testSql(), claims, { format: 'csv', filters: {}, bundle: true, exporter: { kind: 'cli', os_user: 'test' } });
    const bundle = bundleExport(testSql(), started, signer());
    const reader = bundle.stream[Symbol.asyncIterator]();
    const first = (await reader.next()).value as Buffer;
    expect([...first.subarray(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04]); // a zip's local file header
    let dataDone = false;
    void started.evidence!.data.then(() => (dataDone = true));
    await new Promise((r) => setTimeout(r, 500));
    // Nothing more is read: the export waits for its reader instead of buffering 20,000 rows.
    expect(dataDone).toBe(false);
    let bytes = first.length;
    for (let r = await reader.next(); !r.done; r = await reader.next()) bytes += (r.value as Buffer).length;
    const manifest = await bundle.manifest;
    expect(manifest).toMatchObject({ row_count: 20_000, bundle: { complete: true, seq_from: 1, seq_to: 20_000 } });
    expect(await started.done).toMatchObject({ status: 'complete', row_count: 20_000, bundle: { complete: true } });
    expect(bytes).toBeGreaterThan(100_000);
  });
});

describe('export bundles against a checkpoint known from before', () => {
  it('verifies a bundle of the same history, and fails one whose chain is inconsistent with the known checkpoint or does not reach it', async () => {
    const t = await newTenant('bundle-known');
    const post = async (n: number) => {
      expect((await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events: Array.from({ length: n }, (_, i) => event({ context: { i } })) } })).status).toBe(201);
      await sealTenant(testSql(), t.id, signer());
    };
    await post(10);
    await post(5);
    // What a monitor kept: its state file (the signed checkpoint it accepted last).
    const known = (await latestCheckpoint(testSql(), t.id))!;
    const stateFile = path.join(work, `${t.id}-monitor.json`);
    await writeFile(stateFile, JSON.stringify({ format: 'oms-audit-monitor-state', version: 1, url: baseUrl(), tenant_id: t.id, pinned_keys: [], checkpoint: known, accepted_at: new Date().toISOString() }));
    const checkpointFile = path.join(work, `${t.id}-checkpoint.json`);
    await writeFile(checkpointFile, JSON.stringify(known));

    await post(3);
    const same = await download('format=csv&object_type=ORDER', t.readKey);
    expect(await verify(same, '--public-key', operatorKeyFile, '--known-checkpoint', stateFile)).toMatchObject({ code: 0, out: expect.stringContaining(`consistent with the known checkpoint ${known.number}`) });
    expect((await verify(same, '--public-key', operatorKeyFile, '--known-checkpoint', checkpointFile)).code).toBe(0);

    // The operator cuts the history back and seals a different one with the real key: bundles of it are signed and complete, but not the known history.
    await cutOffTail(t.id, known.number - 1);
    await post(6);
    await post(2);
    const forked = await download('format=csv', t.readKey);
    expect(await verify(forked)).toMatchObject({ code: 0 });
    expect(await verify(forked, '--public-key', operatorKeyFile, '--known-checkpoint', stateFile)).toMatchObject({
      code: 1,
      out: expect.stringContaining(`the bundle's checkpoint ${known.number} (hash`),
    });
    expect((await verify(forked, '--public-key', operatorKeyFile, '--known-checkpoint', stateFile)).out).toContain('a different, re-signed history');

    // A known checkpoint newer than the bundle's chain cannot be related to it: not verified.
    const newer = (JSON.parse(await readFile(path.join(forked, 'checkpoints.json'), 'utf8')) as SignedCheckpoint[]).at(-1)!;
    await writeFile(checkpointFile, JSON.stringify({ ...newer, number: newer.number + 5 }));
    expect((await verify(forked, '--public-key', operatorKeyFile, '--known-checkpoint', checkpointFile)).out).toContain('is not a checkpoint signed by the trusted key');
    await post(1);
    const later = (await latestCheckpoint(testSql(), t.id))!;
    await writeFile(checkpointFile, JSON.stringify(later));
    expect(await verify(forked, '--public-key', operatorKeyFile, '--known-checkpoint', checkpointFile)).toMatchObject({
      code: 1,
      out: expect.stringContaining(`ends at checkpoint ${newer.number}, before the known checkpoint ${later.number}`),
    });
  });
});
