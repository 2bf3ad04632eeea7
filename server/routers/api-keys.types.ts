/** Schemas of the apiKeys router. */
import { z } from 'zod';
import { API_KEY_SCOPES } from '@/supabase/functions/_shared/api-keys.ts';

export const apiKeyOutput = z.object({
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  created_at: z.string(),
  created_by: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});

export const createApiKeyInput = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  scopes: z.array(z.enum(API_KEY_SCOPES)).min(1, 'choose at least one scope'),
});

export const createdApiKeyOutput = apiKeyOutput.extend({ key: z.string() });

export const revokeApiKeyInput = z.object({ id: z.uuid() });
