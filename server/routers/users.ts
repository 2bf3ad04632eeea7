/** users.*: a tenant admin lists members, adds (creates or invites) users, changes roles, removes members. */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { createUser, listMembers, removeMember, setMemberRole } from '@/server/services/users.ts';
import { createUserInput, createUserOutput, memberOutput, removeMemberInput, setRoleInput } from './users.types.ts';

export const usersRouter = router({
  list: tenantProcedure
    .meta({ permission: 'users:manage' })
    .output(z.array(memberOutput))
    .query(({ ctx }) => listMembers(ctx.sql, ctx.claims.tenant_id)),

  create: tenantProcedure
    .meta({ permission: 'users:manage' })
    .input(createUserInput)
    .output(createUserOutput)
    .mutation(async ({ ctx, input }) => {
      const { user, created } = await createUser(ctx.sql, { ...input, tenantId: ctx.claims.tenant_id, createdBy: principalOf(ctx.caller) });
      const member = (await listMembers(ctx.sql, ctx.claims.tenant_id)).find((m) => m.user_id === user.id)!;
      return { member, created };
    }),

  setRole: tenantProcedure
    .meta({ permission: 'users:manage' })
    .input(setRoleInput)
    .output(memberOutput)
    .mutation(({ ctx, input }) => setMemberRole(ctx.sql, { tenantId: ctx.claims.tenant_id, userId: input.user_id, role: input.role })),

  remove: tenantProcedure
    .meta({ permission: 'users:manage' })
    .input(removeMemberInput)
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await removeMember(ctx.sql, { tenantId: ctx.claims.tenant_id, userId: input.user_id });
      return { removed: true as const };
    }),
});
