/** streams.*: a tenant admin adds, lists, pauses, resumes and removes log streams and replaces their credentials. */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import type { Caller } from '@/server/auth/caller.ts';
import type { ObservedClient } from '@/server/services/ingest.ts';
import { CONSOLE_SOURCE } from '@/server/services/console-audit.ts';
import { changeStreamSecret, createStream, listStreams, pauseStream, removeStream, resumeStream, type StreamActor } from '@/server/services/streams/streams.ts';
import { changeSecretInput, createStreamInput, streamIdInput, streamOutput, streamWithSecretOutput } from './streams.types.ts';

function actorOf(caller: Caller, observed: ObservedClient): StreamActor {
  if (caller.kind === 'user') return { actorType: 'USER', actorId: caller.email || caller.userId, principal: `user:${caller.userId}`, writer: { kind: 'console', userId: caller.userId }, source: CONSOLE_SOURCE, method: 'trpc', observed, context: { user_id: caller.userId } };
  return { actorType: 'SERVICE', actorId: caller.kind === 'api_key' ? caller.keyId : 'unknown', principal: caller.kind === 'api_key' ? `key:${caller.keyId}` : 'unknown', writer: { kind: 'console', userId: null }, source: CONSOLE_SOURCE, method: 'trpc', observed };
}

const manage = tenantProcedure.meta({ permission: 'streams:manage' });

export const streamsRouter = router({
  list: manage.output(z.array(streamOutput)).query(({ ctx }) => listStreams(ctx.sql, ctx.claims.tenant_id)),

  create: manage
    .input(createStreamInput)
    .output(streamWithSecretOutput)
    .mutation(({ ctx, input }) => createStream(ctx.sql, ctx.claims.tenant_id, input, actorOf(ctx.caller, ctx.observed))),

  pause: manage
    .input(streamIdInput)
    .output(streamOutput)
    .mutation(({ ctx, input }) => pauseStream(ctx.sql, ctx.claims.tenant_id, input.id, actorOf(ctx.caller, ctx.observed))),

  resume: manage
    .input(streamIdInput)
    .output(streamOutput)
    .mutation(({ ctx, input }) => resumeStream(ctx.sql, ctx.claims.tenant_id, input.id, actorOf(ctx.caller, ctx.observed))),

  remove: manage
    .input(streamIdInput)
    .output(z.object({ id: z.string(), name: z.string() }))
    .mutation(({ ctx, input }) => removeStream(ctx.sql, ctx.claims.tenant_id, input.id, actorOf(ctx.caller, ctx.observed))),

  changeSecret: manage
    .input(changeSecretInput)
    .output(streamWithSecretOutput)
    .mutation(({ ctx, input }) => changeStreamSecret(ctx.sql, ctx.claims.tenant_id, input, actorOf(ctx.caller, ctx.observed))),
});
