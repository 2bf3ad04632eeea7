/** session.*: who is signed in, in which tenant, with which permissions. */
import { router, protectedProcedure } from '@/server/trpc.ts';
import { describeCaller } from '@/server/services/session-info.ts';
import { meOutput } from './session.types.ts';

export const sessionRouter = router({
  me: protectedProcedure.output(meOutput).query(({ ctx }) => describeCaller(ctx.sql, ctx.caller)),
});
