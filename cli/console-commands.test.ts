/** `oms-audit user invite`/`user list` and `oms-audit export`, run as real processes. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, inject, it } from 'vitest';
import { call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/oms-audit.mjs', ...args], { env: { ...process.env, DATABASE_URL: inject('databaseUrl') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('oms-audit user invite', () => {
  it('prints a one-time link with which the person sets their own password; no command sets one', async () => {
    const t = await newTenant('cli-user');
    const email = `cli-${Date.now()}@example.com`;
    const invited = await cli(['user', 'invite', '--email', email, '--tenant', t.name, '--role', 'admin', '--url', 'https://audit.example.com', '--json']);
    expect(invited.code, invited.stderr).toBe(0);
    const out = JSON.parse(invited.stdout);
    expect(out).toEqual({ id: expect.any(String), email, tenant_id: t.id, role: 'admin', expires_at: expect.any(String), link: expect.stringMatching(/^https:\/\/audit\.example\.com\/invitation#omsi_/), token: expect.any(String), mailed: false });
    expect(out.link.endsWith(`#${out.token}`)).toBe(true);
    // The first admin of the tenant accepts it, choosing the password.
    const accepted = await call('POST', '/api/auth/invitation/accept', { body: { token: out.token, as: 'new_account', password: 'a long enough password' } });
    expect(accepted.status).toBe(200);
    expect(accepted.body.tenant).toEqual({ id: t.id, name: t.name, role: 'admin' });
    const listed = await cli(['user', 'list', '--tenant', t.id, '--json']);
    expect(JSON.parse(listed.stdout).members).toEqual([expect.objectContaining({ email, role: 'admin', disabled_at: null })]);

    // An invitation for an email that has an account does not let the operator set its password.
    const again = JSON.parse((await cli(['user', 'invite', '--email', email, '--tenant', (await newTenant('cli-other')).id, '--role', 'viewer', '--json'])).stdout);
    const takeover = await call('POST', '/api/auth/invitation/accept', { body: { token: again.token, as: 'new_account', password: 'the operator chose this' } });
    expect(takeover.status).toBe(400);

    expect((await cli(['user', 'invite', '--email', `y-${email}`, '--tenant', t.id, '--role', 'root'])).code).toBe(1);
    expect((await cli(['user', 'invite', '--tenant', t.id])).code).toBe(2);
    // The old way is gone.
    expect((await cli(['user', 'create', '--email', `z-${email}`, '--password', 'a long enough password', '--tenant', t.id, '--role', 'viewer'])).code).toBe(2);
  });
});

describe('oms-audit export', () => {
  it('writes the file and its manifest, with the same filters as the API', async () => {
    const t = await newTenant('cli-export');
    await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event({ object_id: 'ORD-CLI' }), event({ object_id: 'ORD-CLI', event_type: 'CANCEL' }), event({ object_id: 'OTHER' })] } });
    const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-cli-export-'));
    try {
      const out = path.join(dir, 'orders.csv');
      const run = await cli(['export', '--tenant', t.id, '--format', 'csv', '--out', out, '--object-id', 'ORD-CLI', '--event-type', 'CREATE,CANCEL', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const file = await readFile(out);
      const manifest = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8'));
      expect(JSON.parse(run.stdout).manifest).toEqual(manifest);
      expect(manifest).toMatchObject({ status: 'complete', row_count: 2, sha256: createHash('sha256').update(file).digest('hex'), filters: { object_id: 'ORD-CLI', event_type: ['CREATE', 'CANCEL'] }, exported_by: { kind: 'cli' } });
      expect((parse(file, { columns: true }) as { object_id: string }[]).map((r) => r.object_id)).toEqual(['ORD-CLI', 'ORD-CLI']);

      // The whole order and the query language, with the zone the manifest states the range in.
      const whole = path.join(dir, 'whole.csv');
      await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event({ object_type: 'EXECUTION', object_id: 'EXE-CLI', occurred_at: '2026-11-02T15:00:00.000000Z', context: { order_id: 'ORD-CLI' } })] } });
      const about = await cli(['export', '--tenant', t.id, '--format', 'csv', '--out', whole, '--about', 'ORD-CLI', '--q', 'NOT event_type = CANCEL', '--from', '2026-11-02T15:00:00Z', '--time-zone', 'Europe/London', '--json']);
      expect(about.code, about.stderr).toBe(0);
      // The fill from its context, the order's CREATE (its CANCEL is excluded by the query).
      expect((parse(await readFile(whole), { columns: true }) as { object_id: string }[]).map((r) => r.object_id)).toEqual(['EXE-CLI', 'ORD-CLI']);
      expect(JSON.parse(about.stdout).manifest).toMatchObject({
        filters: { about: 'ORD-CLI', q: 'NOT event_type = CANCEL', about_keys: ['order_id', 'parent_order_id', 'client_order_id'] },
        time_range: { bounds: { from: '2026-11-02T15:00:00.000000Z', to: null } },
        display_time_zone: { zone: 'Europe/London', from: '2026-11-02 15:00:00.000000 GMT', to: null },
      });

      const jsonl = path.join(dir, 'all.jsonl');
      expect((await cli(['export', '--tenant', t.name, '--format', 'jsonl', '--out', jsonl])).code).toBe(0);
      // Four events and the two exports' own AUDIT_EXPORT events.
      expect((await readFile(jsonl, 'utf8')).trimEnd().split('\n')).toHaveLength(6);
      // A verifiable bundle: a zip (local file header signature) whose manifest the CLI reports signed.
      const bundle = path.join(dir, 'orders.zip');
      const bundled = await cli(['export', '--tenant', t.id, '--format', 'csv', '--out', bundle, '--object-id', 'ORD-CLI', '--bundle', '--json']);
      expect(bundled.code, bundled.stderr).toBe(0);
      expect((await readFile(bundle)).subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
      expect(JSON.parse(bundled.stdout).manifest).toMatchObject({ row_count: 2, bundle: { complete: false, key_id: expect.stringMatching(/^[0-9a-f]{64}$/) } });
      expect((await cli(['export', '--tenant', t.id, '--format', 'xml', '--out', jsonl])).code).toBe(2);
      expect((await cli(['export', '--tenant', t.id, '--out', jsonl, '--from', 'yesterday'])).code).toBe(1);
      // The exports are in the tenant's trail.
      const trail = await call('GET', '/api/v1/audit/events?event_type=AUDIT_EXPORT', { key: t.readKey });
      expect(trail.body.events.map((e: { actor_id: string; outcome: string }) => [e.actor_id, e.outcome])).toEqual([
        ['oms-audit-cli', 'success'],
        ['oms-audit-cli', 'success'],
        ['oms-audit-cli', 'success'],
        ['oms-audit-cli', 'success'],
      ]);
      // The operator may open personal data (this tenant seals none: each personal_opened is null); a wrong mode is a usage error.
      const opened = path.join(dir, 'opened.jsonl');
      const openedRun = await cli(['export', '--tenant', t.id, '--format', 'jsonl', '--out', opened, '--object-id', 'ORD-CLI', '--personal', 'opened', '--json']);
      expect(openedRun.code, openedRun.stderr).toBe(0);
      expect(JSON.parse(openedRun.stdout).manifest).toMatchObject({ columns: expect.arrayContaining(['personal_opened']), personal: { mode: 'opened', rows: 0, erased_fields: 0, erased: [] } });
      expect((await readFile(opened, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l).personal_opened)).toEqual([null, null]);
      expect((await cli(['export', '--tenant', t.id, '--out', opened, '--personal', 'all'])).code).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("finds a sealing tenant's events by IP address and subject id (their value tokens), as the API does", async () => {
    const t = await newTenant('cli-export-sealed');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    const carol = { actor_type: 'TRADER', actor_id: 'carol@broker.example' };
    const events = [
      event({ ...carol, object_id: 'ORD-S1', ip_address: '192.0.2.44', subject_id: 'client-9' }),
      event({ ...carol, object_id: 'ORD-S2', ip_address: '192.0.2.45' }),
      event({ ...carol, object_id: 'ORD-S3', ip_address: '192.0.2.44', subject_id: 'client-10' }),
    ];
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events } })).status).toBe(201);
    const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-cli-export-sealed-'));
    try {
      const exported = async (filter: string[]) => {
        const out = path.join(dir, `${filter.join('-').replace(/[^\w.-]/g, '_')}.jsonl`);
        const run = await cli(['export', '--tenant', t.id, '--format', 'jsonl', '--out', out, '--order', 'asc', ...filter, '--json']);
        expect(run.code, run.stderr).toBe(0);
        const objects = (await readFile(out, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l).object_id as string);
        expect(JSON.parse(run.stdout).manifest.row_count).toBe(objects.length);
        return objects;
      };
      // The stored rows hold references, not the values: only the tokens can find them.
      expect(await exported(['--ip-address', '192.0.2.44'])).toEqual(['ORD-S1', 'ORD-S3']);
      expect(await exported(['--ip-address', '192.0.2.45'])).toEqual(['ORD-S2']);
      expect(await exported(['--ip-address', '192.0.2.46'])).toEqual([]);
      expect(await exported(['--subject-id', 'client-9'])).toEqual(['ORD-S1']);
      expect(await exported(['--ip-address', '192.0.2.44', '--subject-id', 'client-10'])).toEqual(['ORD-S3']);
      // The same filters through the API find the same events.
      const api = await call('GET', '/api/v1/audit/events?order=asc&ip_address=192.0.2.44', { key: t.key });
      expect(api.body.events.map((e: { object_id: string }) => e.object_id)).toEqual(['ORD-S1', 'ORD-S3']);
      // A value that is not an IP address is refused, naming the option's field.
      const bad = await cli(['export', '--tenant', t.id, '--out', path.join(dir, 'bad.csv'), '--ip-address', '192.0.2.999']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('ip_address');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
