/** Schemas of the session router. */
import { z } from 'zod';
import { PERMISSIONS, TENANT_ROLES } from '@/server/auth/caller.ts';

export const meOutput = z.object({
  kind: z.enum(['user', 'api_key']),
  user: z.object({ id: z.string(), email: z.string() }).nullable(),
  tenant: z.object({ id: z.string(), name: z.string(), role: z.enum(TENANT_ROLES).nullable() }).nullable(),
  tenants: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(TENANT_ROLES) })),
  permissions: z.array(z.enum(PERMISSIONS)),
});
