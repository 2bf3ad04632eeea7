/** apiKeys.*: a tenant admin creates (secret shown once), lists and revokes the tenant's API keys; both changes are audit events. */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { apiKeyCache } from '@/server/auth/credentials.ts';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyInfo } from '@/server/services/api-keys.ts';
import { CONSOLE_EVENT_TYPES, recordConsoleAction } from '@/server/services/console-audit.ts';
import type { Caller } from '@/server/auth/caller.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { apiKeyOutput, createApiKeyInput, createdApiKeyOutput, revokeApiKeyInput } from './api-keys.types.ts';

/** The change as an event of the tenant: never the secret, only what identifies the key. */
function recordKeyChange(ctx: { sql: Sql; caller: Caller; observed: ObservedClient }, key: ApiKeyInfo, action: 'created' | 'revoked') {
  return recordConsoleAction(
    ctx.sql,
    ctx.caller,
    { eventType: CONSOLE_EVENT_TYPES.apiKey, objectType: 'API_KEY', objectId: key.id, context: { action, name: key.name, prefix: key.prefix, scopes: key.scopes, ...(action === 'revoked' ? { revoked_at: key.revoked_at } : {}) } },
    ctx.observed,
  );
}

export const apiKeysRouter = router({
  list: tenantProcedure
    .meta({ permission: 'keys:manage' })
    .output(z.array(apiKeyOutput))
    .query(({ ctx }) => listApiKeys(ctx.sql, ctx.claims.tenant_id)),

  create: tenantProcedure
    .meta({ permission: 'keys:manage' })
    .input(createApiKeyInput)
    .output(createdApiKeyOutput)
    .mutation(async ({ ctx, input }) => {
      const key = await createApiKey(ctx.sql, { tenantId: ctx.claims.tenant_id, scopes: input.scopes, name: input.name, createdBy: principalOf(ctx.caller) });
      await recordKeyChange(ctx, key, 'created');
      return key;
    }),

  revoke: tenantProcedure
    .meta({ permission: 'keys:manage' })
    .input(revokeApiKeyInput)
    .output(apiKeyOutput)
    .mutation(async ({ ctx, input }) => {
      const key = await revokeApiKey(ctx.sql, { id: input.id, tenantId: ctx.claims.tenant_id });
      apiKeyCache().clear();
      await recordKeyChange(ctx, key, 'revoked');
      return key;
    }),
});
