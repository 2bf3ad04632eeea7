import { createUser } from '@/server/services/users.ts';
import type { Command } from '../command.ts';
import { required, tenantArg } from '../args.ts';

export const userCommands: Command[] = [
  {
    name: 'user create',
    args: '--email EMAIL --password PW --tenant ID|NAME --role viewer|auditor|admin',
    summary: 'create a console user with a role in a tenant (or add an existing user to it)',
    options: { email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const email = required(ctx, 'email');
      const role = required(ctx, 'role');
      const password = typeof ctx.values.password === 'string' ? ctx.values.password : undefined;
      const { user, created } = await createUser(ctx.sql, { email, password, tenantId: tenant.id, role, createdBy: 'cli' });
      return {
        text: `${created ? 'created' : 'added'} ${user.email} (${user.id}) as ${role} of ${tenant.name}`,
        json: { id: user.id, email: user.email, tenant_id: tenant.id, role, created },
      };
    },
  },
];
