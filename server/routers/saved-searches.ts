/** savedSearches.*: named filter sets shared within the tenant. */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { activeRole } from '@/server/auth/caller.ts';
import { createSavedSearch, deleteSavedSearch, listSavedSearches } from '@/server/services/saved-searches.ts';

const savedSearchOutput = z.object({
  id: z.string(),
  name: z.string(),
  query: z.string(),
  created_by: z.string(),
  created_by_email: z.string(),
  created_at: z.string(),
});

export const savedSearchesRouter = router({
  list: tenantProcedure
    .meta({ permission: 'events:read' })
    .output(z.array(savedSearchOutput))
    .query(({ ctx }) => listSavedSearches(ctx.sql, ctx.claims)),

  create: tenantProcedure
    .meta({ permission: 'events:read' })
    .input(z.object({ name: z.string().trim().min(1, 'must not be empty').max(200), query: z.string().max(4000) }))
    .output(savedSearchOutput)
    .mutation(({ ctx, input }) => {
      if (ctx.caller.kind !== 'user') throw new AuditError('forbidden', 'Saved searches belong to console users');
      return createSavedSearch(ctx.sql, ctx.claims, { ...input, userId: ctx.caller.userId, email: ctx.caller.email });
    }),

  remove: tenantProcedure
    .meta({ permission: 'events:read' })
    .input(z.object({ id: z.uuid() }))
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.caller.kind !== 'user') throw new AuditError('forbidden', 'Saved searches belong to console users');
      await deleteSavedSearch(ctx.sql, ctx.claims, { id: input.id, userId: ctx.caller.userId, isAdmin: activeRole(ctx.caller) === 'admin' });
      return { removed: true as const };
    }),
});
