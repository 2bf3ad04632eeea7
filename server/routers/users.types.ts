/** Schemas of the users router. */
import { z } from 'zod';
import { TENANT_ROLES } from '@/server/auth/caller.ts';

export const memberOutput = z.object({
  user_id: z.string(),
  email: z.string(),
  role: z.enum(TENANT_ROLES),
  created_at: z.string(),
  created_by: z.string().nullable(),
});

export const createUserInput = z.object({
  email: z.string().trim().min(3).max(320),
  /** Required for a new user; an existing user (same email) keeps their password. */
  password: z.string().max(1024).optional(),
  role: z.enum(TENANT_ROLES),
});

export const createUserOutput = z.object({ member: memberOutput, created: z.boolean() });

export const setRoleInput = z.object({ user_id: z.uuid(), role: z.enum(TENANT_ROLES) });

export const removeMemberInput = z.object({ user_id: z.uuid() });
