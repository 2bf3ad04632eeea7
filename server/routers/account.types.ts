/** Schemas of the account router. */
import { z } from 'zod';

export const sessionOutput = z.object({
  id: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  method: z.enum(['password', 'invitation']),
  /** The session this request came with. */
  current: z.boolean(),
});

export const changePasswordInput = z.object({
  current_password: z.string().min(1).max(1024),
  new_password: z.string().max(1024),
});

export const changePasswordOutput = z.object({ ended_sessions: z.number().int() });

export const endSessionInput = z.object({ id: z.string().min(16).max(64) });
