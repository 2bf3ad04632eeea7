/**
 * account.*: a console user's own account — the sessions they have open, ending
 * one, and changing their password. Only for sign-ins to this server (an
 * external issuer's users manage their sessions and passwords there).
 */
import { z } from 'zod';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { protectedProcedure, router } from '@/server/trpc.ts';
import { changeOwnPassword } from '@/server/services/account.ts';
import { listSessions, revokeSession } from '@/server/services/sessions.ts';
import { changePasswordInput, changePasswordOutput, endSessionInput, sessionOutput } from './account.types.ts';

const signedIn = protectedProcedure.use(({ ctx, next }) => {
  const caller = ctx.caller;
  if (caller.kind !== 'user' || !caller.sessionId) throw new AuditError('forbidden', 'Only a console sign-in to this server has an account here');
  return next({ ctx: { ...ctx, user: { id: caller.userId, email: caller.email, sessionId: caller.sessionId } } });
});

export const accountRouter = router({
  sessions: signedIn.output(z.array(sessionOutput)).query(({ ctx }) => listSessions(ctx.sql, ctx.user.id, ctx.user.sessionId)),

  endSession: signedIn
    .input(endSessionInput)
    .output(z.object({ ended: z.boolean() }))
    .mutation(async ({ ctx, input }) => ({ ended: await revokeSession(ctx.sql, { userId: ctx.user.id, sessionId: input.id, reason: 'ended from another session' }) })),

  changePassword: signedIn
    .input(changePasswordInput)
    .output(changePasswordOutput)
    .mutation(({ ctx, input }) =>
      changeOwnPassword(ctx.sql, { userId: ctx.user.id, email: ctx.user.email, sessionId: ctx.user.sessionId, current: input.current_password, next: input.new_password }, ctx.observed),
    ),
});
