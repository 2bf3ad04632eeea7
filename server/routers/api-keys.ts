/** apiKeys.*: a tenant admin creates (secret shown once), lists and revokes the tenant's API keys. */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { apiKeyCache } from '@/server/auth/credentials.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '@/server/services/api-keys.ts';
import { apiKeyOutput, createApiKeyInput, createdApiKeyOutput, revokeApiKeyInput } from './api-keys.types.ts';

export const apiKeysRouter = router({
  list: tenantProcedure
    .meta({ permission: 'keys:manage' })
    .output(z.array(apiKeyOutput))
    .query(({ ctx }) => listApiKeys(ctx.sql, ctx.claims.tenant_id)),

  create: tenantProcedure
    .meta({ permission: 'keys:manage' })
    .input(createApiKeyInput)
    .output(createdApiKeyOutput)
    .mutation(({ ctx, input }) => createApiKey(ctx.sql, { tenantId: ctx.claims.tenant_id, scopes: input.scopes, name: input.name, createdBy: principalOf(ctx.caller) })),

  revoke: tenantProcedure
    .meta({ permission: 'keys:manage' })
    .input(revokeApiKeyInput)
    .output(apiKeyOutput)
    .mutation(async ({ ctx, input }) => {
      const key = await revokeApiKey(ctx.sql, { id: input.id, tenantId: ctx.claims.tenant_id });
      apiKeyCache().clear();
      return key;
    }),
});
