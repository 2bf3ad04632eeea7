/** The oms-audit command, run as a real process. */
import { describe, expect, inject, it } from 'vitest';
import { runCli } from '@/test/cli.ts';
import { call, event } from '@/test/fixtures.ts';

describe('oms-audit CLI', () => {
  it('creates a tenant and a key that the API accepts, and revokes it', async () => {
    const name = `cli-${Date.now()}`;
    const tenant = await runCli(['tenant', 'create', '--name', name, '--json']);
    expect(tenant.code, tenant.stderr).toBe(0);
    const { id, name: created } = JSON.parse(tenant.stdout);
    expect(created).toBe(name);

    const key = await runCli(['key', 'create', '--tenant', id, '--scopes', 'events:write,events:read', '--json']);
    expect(key.code, key.stderr).toBe(0);
    const parsed = JSON.parse(key.stdout);
    expect(parsed).toEqual({ id: expect.any(String), key: expect.stringMatching(/^omsk_/), tenant_id: id, scopes: ['events:write', 'events:read'], name: expect.any(String) });
    expect((await call('POST', '/api/v1/audit/events', { key: parsed.key, body: { events: [event()] } })).status).toBe(201);

    // By name works too, and the list shows the key without its secret.
    const list = await runCli(['key', 'list', '--tenant', name, '--json']);
    expect(JSON.parse(list.stdout).keys).toEqual([expect.objectContaining({ id: parsed.id, prefix: parsed.key.slice(0, 12), revoked_at: null })]);
    expect(list.stdout).not.toContain(parsed.key);

    const revoke = await runCli(['key', 'revoke', '--id', parsed.id, '--json']);
    expect(revoke.code).toBe(0);
    expect((await call('POST', '/api/v1/audit/events', { key: parsed.key, body: { events: [event()] } })).status).toBe(401);
  });

  it('prints its usage for help, --help and -h, with exit code 0', async () => {
    for (const args of [['help'], ['--help'], ['-h'], []]) {
      const res = await runCli(args);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout, args.join(' ')).toMatch(/^Usage: oms-audit <command>/);
      expect(res.stderr, args.join(' ')).not.toContain('Unknown command');
    }
  });

  it('reports migrations as up to date', async () => {
    const res = await runCli(['migrate', '--json'], { DATABASE_OWNER_URL: inject('ownerDatabaseUrl') });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ applied: [] });
  });

  it('exits 2 on usage errors and 1 on failures, with a JSON error under --json', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['tenant', 'create'])).code).toBe(2);
    expect((await runCli(['key', 'create', '--tenant', 'x', '--bogus'])).code).toBe(2);
    const missing = await runCli(['key', 'create', '--tenant', 'no-such-tenant', '--scopes', 'events:read', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: 'not_found', message: expect.stringContaining('no-such-tenant') } });
    const badScope = await runCli(['key', 'create', '--tenant', 'no-such-tenant', '--scopes', 'root']);
    expect(badScope.code).toBe(1);
  });
});

describe('oms-audit seal and verify', () => {
  it('seals, verifies intact (exit 0), finds tampering with --full (exit 1) and reports a usage error (exit 2)', { timeout: 120_000 }, async () => {
    const { newTenant, tamper } = await import('@/test/fixtures.ts');
    const t = await newTenant('cli-verify');
    await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: Array.from({ length: 25 }, () => event()) } });
    const seal = await runCli(['seal', '--tenant', t.id, '--json']);
    expect(seal.code, seal.stdout).toBe(0);
    expect(JSON.parse(seal.stdout).checkpoints).toEqual([expect.objectContaining({ tenant_id: t.id, seq_from: 1, seq_to: 25 })]);

    const intact = await runCli(['verify', '--tenant', t.id, '--json']);
    expect(intact.code).toBe(0);
    expect(JSON.parse(intact.stdout)).toMatchObject({ ok: true, events_checked: 25, checkpoints_checked: 1, problems: [] });

    await tamper(`update public.audit_events set outcome = 'failure' where tenant_id = '${t.id}' and seq = 7`);
    // By default only what was sealed since the last intact verification is checked: nothing here, and it says so.
    const incremental = await runCli(['verify', '--tenant', t.id]);
    expect(incremental.code).toBe(0);
    expect(incremental.stdout).toMatch(/incremental: no new checkpoints, (no events|seq \d+–\d+); checkpoints 1–1 were verified at .* and are not checked again \(--full checks everything\)/);
    const tampered = await runCli(['verify', '--tenant', t.id, '--full', '--json']);
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stdout)).toMatchObject({ ok: false, problems: [{ seq: 7, id: expect.any(String), kind: 'modified', detail: expect.any(String) }] });

    expect((await runCli(['verify', '--json'])).code).toBe(2);
    expect((await runCli(['verify', '--tenant', t.id], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })).code).toBe(2);
  });
});
