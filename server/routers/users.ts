/**
 * users.*: a tenant admin lists members and invitations, invites people,
 * withdraws invitations, changes roles, disables, re-enables and removes
 * members — of the admin's active tenant only. Each change is an event of the
 * tenant's own trail.
 */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { CONSOLE_EVENT_TYPES, recordConsoleAction } from '@/server/services/console-audit.ts';
import { createInvitation, listInvitations, revokeInvitation } from '@/server/services/invitations.ts';
import { listMembers, removeMember, setMemberDisabled, setMemberRole, type TenantMember } from '@/server/services/users.ts';
import type { Context } from '@/server/context.ts';
import { invitationIdInput, invitationOutput, inviteInput, inviteOutput, memberInput, memberOutput, setRoleInput } from './users.types.ts';

const admin = tenantProcedure.meta({ permission: 'users:manage' });

function recordMembership(ctx: Context, member: TenantMember, action: string) {
  return recordConsoleAction(ctx.sql, ctx.caller, { eventType: CONSOLE_EVENT_TYPES.membership, objectType: 'CONSOLE_USER', objectId: member.email, context: { action, member_user_id: member.user_id, role: member.role } }, ctx.observed);
}

/** users.disable / users.enable: the member's sessions stop (or start again) reaching this tenant. */
function setDisabled(disabled: boolean) {
  return admin
    .input(memberInput)
    .output(memberOutput)
    .mutation(async ({ ctx, input }) => {
      const member = await setMemberDisabled(ctx.sql, { tenantId: ctx.claims.tenant_id, userId: input.user_id, disabled, by: principalOf(ctx.caller) });
      await recordMembership(ctx, member, disabled ? 'disabled' : 'enabled');
      return member;
    });
}

export const usersRouter = router({
  list: admin.output(z.array(memberOutput)).query(({ ctx }) => listMembers(ctx.sql, ctx.claims.tenant_id)),

  invitations: admin.output(z.array(invitationOutput)).query(({ ctx }) => listInvitations(ctx.sql, ctx.claims.tenant_id)),

  invite: admin
    .input(inviteInput)
    .output(inviteOutput)
    .mutation(async ({ ctx, input }) => {
      const created = await createInvitation(ctx.sql, { ...input, tenantId: ctx.claims.tenant_id, createdBy: principalOf(ctx.caller) });
      await recordConsoleAction(ctx.sql, ctx.caller, { eventType: CONSOLE_EVENT_TYPES.invitation, objectType: 'INVITATION', objectId: created.invitation.id, context: { action: 'created', email: created.invitation.email, role: created.invitation.role, expires_at: created.invitation.expires_at, mailed: created.mailed } }, ctx.observed);
      return { invitation: created.invitation, path: created.path, mailed: created.mailed };
    }),

  revokeInvitation: admin
    .input(invitationIdInput)
    .output(invitationOutput)
    .mutation(async ({ ctx, input }) => {
      const invitation = await revokeInvitation(ctx.sql, { tenantId: ctx.claims.tenant_id, id: input.id, revokedBy: principalOf(ctx.caller) });
      await recordConsoleAction(ctx.sql, ctx.caller, { eventType: CONSOLE_EVENT_TYPES.invitation, objectType: 'INVITATION', objectId: invitation.id, context: { action: 'revoked', email: invitation.email } }, ctx.observed);
      return invitation;
    }),

  setRole: admin
    .input(setRoleInput)
    .output(memberOutput)
    .mutation(async ({ ctx, input }) => {
      const member = await setMemberRole(ctx.sql, { tenantId: ctx.claims.tenant_id, userId: input.user_id, role: input.role });
      await recordMembership(ctx, member, 'role_changed');
      return member;
    }),

  disable: setDisabled(true),

  enable: setDisabled(false),

  remove: admin
    .input(memberInput)
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      const member = (await listMembers(ctx.sql, ctx.claims.tenant_id)).find((m) => m.user_id === input.user_id);
      await removeMember(ctx.sql, { tenantId: ctx.claims.tenant_id, userId: input.user_id });
      if (member) await recordMembership(ctx, member, 'removed');
      return { removed: true as const };
    }),
});
