/** The CLI's commands: each takes parsed options and returns text and a JSON object. */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { Env } from '@/server/env.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '@/server/services/api-keys.ts';
import { seedDemo } from '@/server/services/demo-data.ts';
import { createTenant, findTenantByName, getTenant, listTenants, type Tenant } from '@/server/services/tenants.ts';
import { UsageError } from './usage-error.ts';

export interface CommandContext {
  sql: Sql;
  env: Env;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  appliedMigrations: string[];
}

export interface CommandResult {
  text: string;
  json: unknown;
}

interface Command {
  run(ctx: CommandContext): Promise<CommandResult>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function required(ctx: CommandContext, option: string): string {
  const value = ctx.values[option];
  if (typeof value !== 'string' || !value.trim()) throw new UsageError(`--${option} is required`);
  return value.trim();
}

/** --tenant takes an id or a name. */
async function tenantArg(ctx: CommandContext): Promise<Tenant> {
  const ref = required(ctx, 'tenant');
  const tenant = UUID.test(ref) ? await getTenant(ctx.sql, ref.toLowerCase()) : await findTenantByName(ctx.sql, ref);
  if (!tenant) throw new AuditError('not_found', `No tenant ${ref}`);
  return tenant;
}

function positiveInt(ctx: CommandContext, option: string, fallback: number): number {
  const raw = ctx.values[option];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${option} must be a positive whole number`);
  return n;
}

export const commands: Record<string, Command> = {
  migrate: {
    async run(ctx) {
      const applied = ctx.appliedMigrations;
      return { text: applied.length ? applied.map((f) => `applied ${f}`).join('\n') : 'migrations are up to date', json: { applied } };
    },
  },

  'tenant create': {
    async run(ctx) {
      const tenant = await createTenant(ctx.sql, required(ctx, 'name'));
      return { text: `tenant ${tenant.id} "${tenant.name}"`, json: { id: tenant.id, name: tenant.name } };
    },
  },

  'tenant list': {
    async run(ctx) {
      const tenants = await listTenants(ctx.sql);
      return { text: tenants.map((t) => `${t.id}  ${t.name}`).join('\n') || 'no tenants', json: { tenants } };
    },
  },

  'key create': {
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const scopes = required(ctx, 'scopes').split(',').map((s) => s.trim()).filter(Boolean);
      const name = typeof ctx.values.name === 'string' ? ctx.values.name : undefined;
      const key = await createApiKey(ctx.sql, { tenantId: tenant.id, scopes, name, createdBy: 'cli' });
      return {
        text: `API key ${key.id} for ${tenant.name} (${key.scopes.join(', ')})\n${key.key}\nStore it now: it is not shown again.`,
        json: { id: key.id, key: key.key, tenant_id: key.tenant_id, scopes: key.scopes, name: key.name },
      };
    },
  },

  'key list': {
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const keys = await listApiKeys(ctx.sql, tenant.id);
      const text = keys.map((k) => `${k.id}  ${k.prefix}…  ${k.scopes.join(',')}  ${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}  ${k.name}`).join('\n');
      return { text: text || 'no keys', json: { keys } };
    },
  },

  'key revoke': {
    async run(ctx) {
      const id = (typeof ctx.values.id === 'string' ? ctx.values.id : ctx.positionals[2])?.trim();
      if (!id) throw new UsageError('--id is required');
      if (!UUID.test(id)) throw new AuditError('not_found', `No API key ${id}`);
      const key = await revokeApiKey(ctx.sql, { id: id.toLowerCase() });
      return { text: `revoked ${key.id} at ${key.revoked_at}`, json: { id: key.id, revoked_at: key.revoked_at } };
    },
  },

  seed: {
    async run(ctx) {
      const result = await seedDemo(ctx.sql, { orders: positiveInt(ctx, 'orders', 900) });
      const text = result.apiKey
        ? `demo tenant ${result.tenant.id} with ${result.events} events\nAPI key: ${result.apiKey.key}`
        : `demo tenant ${result.tenant.id} exists already`;
      return { text, json: { tenant_id: result.tenant.id, events: result.events, key: result.apiKey?.key ?? null } };
    },
  },

  'partitions ensure': {
    async run(ctx) {
      const months = positiveInt(ctx, 'months', 3);
      const rows = await ctx.sql`select oms_audit.ensure_partitions_ahead(${months}) as name`;
      const names = rows.map((r) => r.name as string);
      return { text: names.join('\n'), json: { partitions: names } };
    },
  },
};
