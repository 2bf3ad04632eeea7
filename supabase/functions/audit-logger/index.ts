/**
 * The audit-logger edge function: `supabase functions deploy audit-logger`
 * deploys this file with its deno.json; npm start serves it locally under Deno
 * (local.ts).
 */
import { parseConfig } from './config.ts';
import { createAuditLogger } from './handler.ts';

export const handler = createAuditLogger(parseConfig(Deno.env.toObject()));

export const server = Deno.serve(handler);
