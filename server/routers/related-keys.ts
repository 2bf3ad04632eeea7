/**
 * relatedKeys.*: the context keys that relate this tenant's events to an
 * order (the whole order on an object's page, its export and the `about`
 * filter). Anyone who reads events may see them; admins change them, and the
 * change is an AUDIT_RELATED_KEYS event with the keys before and after.
 */
import { router, tenantProcedure } from '@/server/trpc.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { CONSOLE_EVENT_TYPES, recordConsoleAction } from '@/server/services/console-audit.ts';
import { relatedKeys, setRelatedKeys } from '@/server/services/related-keys.ts';
import { relatedKeysOutput, setRelatedKeysInput } from './related-keys.types.ts';

export const relatedKeysRouter = router({
  get: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .output(relatedKeysOutput)
    .query(async ({ ctx }) => relatedKeys(ctx.sql, ctx.claims)),

  set: tenantProcedure
    .meta({ permission: 'related-keys:manage' })
    .input(setRelatedKeysInput)
    .output(relatedKeysOutput)
    .mutation(async ({ ctx, input }) => {
      const { before, after } = await setRelatedKeys(ctx.sql, ctx.claims, input.keys, principalOf(ctx.caller));
      await recordConsoleAction(
        ctx.sql,
        ctx.caller,
        { eventType: CONSOLE_EVENT_TYPES.relatedKeys, objectType: 'AUDIT_RELATED_KEYS', objectId: ctx.claims.tenant_id, context: { before: before.keys, after: after.keys } },
        ctx.observed,
      );
      return after;
    }),
});
