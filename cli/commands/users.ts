/**
 * Console people, for operators with database access. There is no command
 * that sets a password or adds an existing account to a tenant: an operator
 * invites, and the person accepts (choosing their password, or proving they
 * own the account the email already has). Bootstrapping a tenant's first
 * admin is `tenant create` followed by `user invite --role admin`.
 */
import { createInvitation, INVITATION_HOURS } from '@/server/services/invitations.ts';
import { listMembers } from '@/server/services/users.ts';
import type { Command } from '../command.ts';
import { optional, required, tenantArg } from '../args.ts';
import { UsageError } from '../usage-error.ts';

export const userCommands: Command[] = [
  {
    name: 'user invite',
    args: '--email EMAIL --tenant ID|NAME --role viewer|auditor|admin [--url CONSOLE_URL]',
    summary: `print a one-time invitation link (${INVITATION_HOURS} h; also mailed when SMTP_URL is set)`,
    options: { email: { type: 'string' }, role: { type: 'string' }, url: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const base = optional(ctx, 'url') ?? ctx.env.PUBLIC_URL ?? `http://${ctx.env.HOST === '0.0.0.0' ? 'localhost' : ctx.env.HOST}:${ctx.env.PORT}`;
      if (!/^https?:\/\//.test(base)) throw new UsageError('--url must be the console address, e.g. https://audit.example.com');
      const created = await createInvitation(ctx.sql, { tenantId: tenant.id, email: required(ctx, 'email'), role: required(ctx, 'role'), createdBy: 'cli' });
      const link = new URL(created.path, base).toString();
      const { invitation } = created;
      return {
        text: [
          `invited ${invitation.email} as ${invitation.role} of ${tenant.name}; the link works once, until ${invitation.expires_at} UTC${created.mailed ? ' (also mailed)' : ''}:`,
          link,
        ].join('\n'),
        json: { id: invitation.id, email: invitation.email, tenant_id: tenant.id, role: invitation.role, expires_at: invitation.expires_at, link, token: created.token, mailed: created.mailed },
      };
    },
  },
  {
    name: 'user list',
    args: '--tenant ID|NAME',
    summary: 'the members of a tenant, their roles and whether they are disabled there',
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const members = await listMembers(ctx.sql, tenant.id);
      return {
        text: members.length ? members.map((m) => `${m.email}\t${m.role}${m.disabled_at ? '\tdisabled' : ''}`).join('\n') : `${tenant.name} has no members yet`,
        json: { tenant_id: tenant.id, members },
      };
    },
  },
];
