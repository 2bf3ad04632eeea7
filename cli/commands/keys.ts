import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '@/server/services/api-keys.ts';
import type { Command } from '../command.ts';
import { optional, required, tenantArg, UUID } from '../args.ts';
import { UsageError } from '../usage-error.ts';

export const keyCommands: Command[] = [
  {
    name: 'key create',
    args: '--tenant ID|NAME --scopes S[,S] [--name NAME]',
    summary: 'create an API key (scopes: events:write, events:read); shown once',
    options: { tenant: { type: 'string' }, scopes: { type: 'string' }, name: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const scopes = required(ctx, 'scopes').split(',').map((s) => s.trim()).filter(Boolean);
      const key = await createApiKey(ctx.sql, { tenantId: tenant.id, scopes, name: optional(ctx, 'name'), createdBy: 'cli' });
      return {
        text: `API key ${key.id} for ${tenant.name} (${key.scopes.join(', ')})\n${key.key}\nStore it now: it is not shown again.`,
        json: { id: key.id, key: key.key, tenant_id: key.tenant_id, scopes: key.scopes, name: key.name },
      };
    },
  },
  {
    name: 'key list',
    args: '--tenant ID|NAME',
    summary: 'list a tenant\'s API keys',
    options: { tenant: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const keys = await listApiKeys(ctx.sql, tenant.id);
      const text = keys.map((k) => `${k.id}  ${k.prefix}…  ${k.scopes.join(',')}  ${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}  ${k.name}`).join('\n');
      return { text: text || 'no keys', json: { keys } };
    },
  },
  {
    name: 'key revoke',
    args: '--id KEY_ID',
    summary: 'revoke an API key',
    options: { id: { type: 'string' } },
    async run(ctx) {
      const id = optional(ctx, 'id') ?? ctx.positionals[2]?.trim();
      if (!id) throw new UsageError('--id is required');
      if (!UUID.test(id)) throw new AuditError('not_found', `No API key ${id}`);
      const key = await revokeApiKey(ctx.sql, { id: id.toLowerCase() });
      return { text: `revoked ${key.id} at ${key.revoked_at}`, json: { id: key.id, revoked_at: key.revoked_at } };
    },
  },
];
