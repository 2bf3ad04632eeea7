/** Helpers for reading command options. */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { findTenantByName, getTenant, type Tenant } from '@/server/services/tenants.ts';
import type { CommandContext } from './command.ts';
import { UsageError } from './usage-error.ts';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function required(ctx: Pick<CommandContext, 'values'>, option: string): string {
  const value = ctx.values[option];
  if (typeof value !== 'string' || !value.trim()) throw new UsageError(`--${option} is required`);
  return value.trim();
}

export function optional(ctx: Pick<CommandContext, 'values'>, option: string): string | undefined {
  const value = ctx.values[option];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

/** --tenant takes an id or a name. */
export async function tenantArg(ctx: CommandContext): Promise<Tenant> {
  const ref = required(ctx, 'tenant');
  const tenant = UUID.test(ref) ? await getTenant(ctx.sql, ref.toLowerCase()) : await findTenantByName(ctx.sql, ref);
  if (!tenant) throw new AuditError('not_found', `No tenant ${ref}`);
  return tenant;
}

export function positiveInt(ctx: Pick<CommandContext, 'values'>, option: string, fallback: number): number {
  const raw = ctx.values[option];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${option} must be a positive whole number`);
  return n;
}
