/** Schemas of the users router. */
import { z } from 'zod';
import { TENANT_ROLES } from '@/server/auth/caller.ts';

export const memberOutput = z.object({
  user_id: z.string(),
  email: z.string(),
  role: z.enum(TENANT_ROLES),
  created_at: z.string(),
  created_by: z.string().nullable(),
  /** Set while an admin has disabled the member in this tenant. */
  disabled_at: z.string().nullable(),
  disabled_by: z.string().nullable(),
});

export const invitationOutput = z.object({
  id: z.string(),
  email: z.string(),
  role: z.enum(TENANT_ROLES),
  status: z.enum(['pending', 'expired', 'accepted', 'revoked']),
  created_at: z.string(),
  created_by: z.string(),
  expires_at: z.string(),
  accepted_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

/** Strict: a password (or anything else) sent along is refused, not silently dropped. */
export const inviteInput = z.strictObject({
  email: z.string().trim().min(3).max(320),
  role: z.enum(TENANT_ROLES),
});

/** The same for every email, whether or not it has an account anywhere. */
export const inviteOutput = z.object({
  invitation: invitationOutput,
  /** The one-time link's path (`/invitation#<secret>`), shown once: prefix the console's address. */
  path: z.string(),
  /** Whether it was also mailed (SMTP configured and accepted by the mail server). */
  mailed: z.boolean(),
});

export const invitationIdInput = z.object({ id: z.uuid() });

export const setRoleInput = z.object({ user_id: z.uuid(), role: z.enum(TENANT_ROLES) });

export const memberInput = z.object({ user_id: z.uuid() });
