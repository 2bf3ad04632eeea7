import { createTenant, listTenants } from '@/server/services/tenants.ts';
import type { Command } from '../command.ts';
import { required } from '../args.ts';

export const tenantCommands: Command[] = [
  {
    name: 'tenant create',
    args: '--name NAME',
    summary: 'create a tenant',
    options: { name: { type: 'string' } },
    async run(ctx) {
      const tenant = await createTenant(ctx.sql, required(ctx, 'name'));
      return { text: `tenant ${tenant.id} "${tenant.name}"`, json: { id: tenant.id, name: tenant.name } };
    },
  },
  {
    name: 'tenant list',
    summary: 'list tenants',
    async run(ctx) {
      const tenants = await listTenants(ctx.sql);
      return { text: tenants.map((t) => `${t.id}  ${t.name}`).join('\n') || 'no tenants', json: { tenants } };
    },
  },
];
