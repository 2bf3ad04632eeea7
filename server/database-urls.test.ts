/**
 * With an external database, the server and the CLI take two URLs:
 * DATABASE_URL (the runtime role) and DATABASE_OWNER_URL (migrations). A
 * missing or wrong one stops them at boot with a message naming it; a
 * runtime URL with the rights to change the trail is refused unless
 * OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true says otherwise.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { freePort } from '@/test/ports.ts';

let dataDir = '';
/** An empty database owned by oms_audit_owner, never migrated. */
const fresh = { name: `oms_urls_${randomUUID().replace(/-/g, '').slice(0, 12)}` };
const inDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-urls-'));
  const admin = connect(inject('adminDatabaseUrl'), { max: 1 });
  await admin.unsafe(`create database ${fresh.name} owner oms_audit_owner`);
  await admin.end();
});
afterAll(async () => {
  const admin = connect(inject('adminDatabaseUrl'), { max: 1 });
  await admin.unsafe(`drop database if exists ${fresh.name} with (force)`);
  await admin.end();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Runs a command of the product with exactly these database settings; its exit code and output. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { DATABASE_URL: _u, DATABASE_OWNER_URL: _o, DATABASE_READ_URL: _r, OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: _a, OMS_AUDIT_DEMO: _d, ...inherited } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...inherited, OMS_AUDIT_DATA_DIR: dataDir, OMS_AUDIT_FUNCTIONS: 'false', ...env } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const boot = async (env: Record<string, string>) => run(['--import', 'tsx', 'server/main.ts'], { PORT: String(await freePort()), ...env });
const cli = (args: string[], env: Record<string, string>) => run(['bin/oms-audit.mjs', ...args], env);

describe('npm start with an external database', () => {
  it('wants DATABASE_URL beside DATABASE_OWNER_URL', async () => {
    const result = await boot({ DATABASE_OWNER_URL: inject('ownerDatabaseUrl') });
    expect(result.code).toBe(1);
    expect(result.output).toContain("DATABASE_URL: required with DATABASE_OWNER_URL: the runtime role's URL");
  });

  it('refuses a DATABASE_URL that connects as a superuser', async () => {
    const result = await boot({ DATABASE_URL: inject('adminDatabaseUrl') });
    expect(result.code).toBe(1);
    expect(result.output).toContain('DATABASE_URL connects as postgres, which oms-audit will not serve as: it is a superuser');
    expect(result.output).toContain('OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true');
  });

  it('refuses a DATABASE_URL that connects as the owner', async () => {
    const result = await boot({ DATABASE_URL: inject('ownerDatabaseUrl') });
    expect(result.code).toBe(1);
    expect(result.output).toContain('DATABASE_URL connects as oms_audit_owner, which oms-audit will not serve as');
    expect(result.output).toContain('it is oms_audit_owner, which owns the trail');
  });

  it('stops when migrations are pending and it has no DATABASE_OWNER_URL to apply them', async () => {
    const result = await boot({ DATABASE_URL: inDatabase(inject('databaseUrl'), fresh.name) });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/\d+ database migration\(s\) are pending \(\d{14}_\w+\.sql, …\) and DATABASE_OWNER_URL is not set/);
  });

  it('names DATABASE_OWNER_URL when migrations fail with it (here: the runtime role, which may not run DDL)', async () => {
    const runtime = inDatabase(inject('databaseUrl'), fresh.name);
    const result = await boot({ DATABASE_URL: runtime, DATABASE_OWNER_URL: `${runtime}?application_name=wrong` });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/migrations failed as DATABASE_OWNER_URL: permission denied/);
  });
});

describe('the oms-audit command with an external database', () => {
  it('migrates only with DATABASE_OWNER_URL, then works as the runtime role', async () => {
    const runtime = inDatabase(inject('databaseUrl'), fresh.name);
    const missing = await cli(['migrate'], { DATABASE_URL: runtime });
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('DATABASE_OWNER_URL is not set: migrations run as oms_audit_owner');
    const pending = await cli(['tenant', 'list'], { DATABASE_URL: runtime });
    expect(pending.code).toBe(2);
    expect(pending.output).toContain('DATABASE_OWNER_URL is not set');

    const migrated = await cli(['migrate', '--json'], { DATABASE_URL: runtime, DATABASE_OWNER_URL: inDatabase(inject('ownerDatabaseUrl'), fresh.name) });
    expect(migrated.code, migrated.output).toBe(0);
    expect(JSON.parse(migrated.output).applied.length).toBeGreaterThan(5);
    const created = await cli(['tenant', 'create', '--name', 'after migrate', '--json'], { DATABASE_URL: runtime });
    expect(created.code, created.output).toBe(0);
  });

  it('refuses a privileged DATABASE_URL, unless OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true, which it then warns about', async () => {
    const refused = await cli(['tenant', 'list', '--json'], { DATABASE_URL: inject('adminDatabaseUrl') });
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('DATABASE_URL connects as postgres, which oms-audit will not serve as: it is a superuser');
    const allowed = await cli(['tenant', 'list', '--json'], { DATABASE_URL: inject('adminDatabaseUrl'), OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: 'true' });
    expect(allowed.code, allowed.output).toBe(0);
    expect(allowed.output).toContain('warning (OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true): DATABASE_URL connects as postgres');
  });

  it('holds DATABASE_READ_URL to the same rule: a superuser or the owner role there is refused, the runtime role accepted', async () => {
    const runtime = inject('databaseUrl');
    const superuser = await cli(['tenant', 'list', '--json'], { DATABASE_URL: runtime, DATABASE_READ_URL: inject('adminDatabaseUrl') });
    expect(superuser.code).toBe(2);
    expect(superuser.output).toContain('DATABASE_READ_URL connects as postgres, which oms-audit will not serve as: it is a superuser');
    const owner = await cli(['tenant', 'list', '--json'], { DATABASE_URL: runtime, DATABASE_READ_URL: inject('ownerDatabaseUrl') });
    expect(owner.code).toBe(2);
    expect(owner.output).toContain('DATABASE_READ_URL connects as oms_audit_owner, which oms-audit will not serve as: it is oms_audit_owner, which owns the trail');
    const allowed = await cli(['tenant', 'list', '--json'], { DATABASE_URL: runtime, DATABASE_READ_URL: inject('adminDatabaseUrl'), OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: 'true' });
    expect(allowed.code, allowed.output).toBe(0);
    expect(allowed.output).toContain('warning (OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true): DATABASE_READ_URL connects as postgres');
    const fit = await cli(['tenant', 'list', '--json'], { DATABASE_URL: runtime, DATABASE_READ_URL: runtime });
    expect(fit.code, fit.output).toBe(0);
    expect(fit.output).not.toContain('DATABASE_READ_URL');
    // The server, by the same check.
    const server = await boot({ DATABASE_URL: runtime, DATABASE_READ_URL: inject('ownerDatabaseUrl') });
    expect(server.code).toBe(1);
    expect(server.output).toContain('DATABASE_READ_URL connects as oms_audit_owner, which oms-audit will not serve as');
  });
});
