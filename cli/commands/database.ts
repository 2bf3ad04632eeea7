import { seedDemo } from '@/server/services/demo-data.ts';
import type { Command } from '../command.ts';
import { positiveInt } from '../args.ts';

export const databaseCommands: Command[] = [
  {
    name: 'migrate',
    summary: 'apply pending database migrations',
    async run(ctx) {
      const applied = ctx.appliedMigrations;
      return { text: applied.length ? applied.map((f) => `applied ${f}`).join('\n') : 'migrations are up to date', json: { applied } };
    },
  },
  {
    name: 'seed',
    args: '[--orders N]',
    summary: 'load the demo tenant and its events (once)',
    options: { orders: { type: 'string' } },
    async run(ctx) {
      const result = await seedDemo(ctx.sql, { orders: positiveInt(ctx, 'orders', 900) });
      const text = result.apiKey ? `demo tenant ${result.tenant.id} with ${result.events} events\nAPI key: ${result.apiKey.key}` : `demo tenant ${result.tenant.id} exists already`;
      const auditor = result.auditor ? `\nconsole sign-in: ${result.auditor.email} / ${result.auditor.password} (auditor)` : '';
      return { text: text + auditor, json: { tenant_id: result.tenant.id, events: result.events, key: result.apiKey?.key ?? null, auditor: result.auditor } };
    },
  },
  {
    name: 'partitions ensure',
    args: '[--months N]',
    summary: 'create month partitions up to N months ahead (default 3)',
    options: { months: { type: 'string' } },
    async run(ctx) {
      const months = positiveInt(ctx, 'months', 3);
      const rows = await ctx.sql`select oms_audit.ensure_partitions_ahead(${months}) as name`;
      const names = rows.map((r) => r.name as string);
      return { text: names.join('\n'), json: { partitions: names } };
    },
  },
];
