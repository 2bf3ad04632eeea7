/**
 * Anchoring: writes each signed checkpoint and retention record, in number
 * order per tenant, as a write-once object to the anchor location, and, with a
 * time-stamp authority configured, its RFC 3161 token beside it. Runs after
 * every sealing run (server sealer, `oms-audit seal`) and before retention
 * removes anything. Per item, never per event. A failure loses nothing: the
 * item stays in the database, the progress row says how far anchoring got and
 * why it stopped, and the next run carries on from there.
 *
 * An anchor object that exists with other bytes is a conflict, not something
 * to overwrite: the database's checkpoint N is not the one anchored as N (for
 * example a tail that was cut off and sealed again). It is reported on every run.
 */
import type { AnySql, Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import type { ArchiveStorage } from '@/server/archive/storage.ts';
import { getPolicy } from '@/server/services/retention/policy.ts';
import { anchorKeys, type AnchorItem, type AnchorKind } from './format.ts';
import { anchorSettings, anchorStorage, writeOnce, type AnchorSettings } from './store.ts';
import { checkTimestamp, requestTimestamp } from './timestamp.ts';
import { mapLimit } from './map-limit.ts';

/** Where the items of one kind come from. */
export interface AnchorSource {
  kind: AnchorKind;
  /** The newest number per tenant (only the given tenants, when listed). */
  heads(sql: AnySql, tenantIds?: string[]): Promise<{ tenant_id: string; head: number }[]>;
  /** Items from..to of a tenant, in number order. */
  items(sql: AnySql, tenantId: string, from: number, to: number): Promise<AnchorItem[]>;
}

export interface AnchorProgress {
  tenant_id: string;
  kind: AnchorKind;
  anchor_url: string;
  anchored_through: number;
  timestamped_through: number | null;
  timestamps_from: number | null;
  failing_number: number | null;
  last_error: string | null;
  last_error_at: string | null;
}

export interface AnchorFailure {
  tenant_id: string;
  kind: AnchorKind;
  number: number;
  error: string;
}

export interface AnchorSummary {
  /** False when no anchor location is configured: nothing is anchored (and the caller should say so). */
  configured: boolean;
  anchored: number;
  timestamped: number;
  failures: AnchorFailure[];
}

class AnchorError extends Error {
  constructor(
    readonly number: number,
    message: string,
  ) {
    super(message);
  }
}

const BATCH = 500;
const TENANTS_AT_ONCE = 4;

export async function anchorProgress(sql: AnySql, kind: AnchorKind, tenantId: string): Promise<AnchorProgress | null> {
  const [row] = await sql`
    select tenant_id, kind, anchor_url, anchored_through, timestamped_through, timestamps_from, failing_number, last_error, last_error_at
    from oms_audit.anchor_progress where tenant_id = ${tenantId} and kind = ${kind}`;
  return (row as unknown as AnchorProgress) ?? null;
}

async function saveProgress(sql: AnySql, p: AnchorProgress): Promise<void> {
  await sql`
    insert into oms_audit.anchor_progress
      (tenant_id, kind, anchor_url, anchored_through, timestamped_through, timestamps_from, failing_number, last_error, last_error_at, updated_at)
    values (${p.tenant_id}, ${p.kind}, ${p.anchor_url}, ${p.anchored_through}, ${p.timestamped_through}, ${p.timestamps_from}, ${p.failing_number},
      ${p.last_error}, ${p.last_error_at}, now())
    on conflict (tenant_id, kind) do update set
      anchor_url = excluded.anchor_url,
      -- Monotonic at one location (concurrent sealers); a new location starts again.
      anchored_through = case when oms_audit.anchor_progress.anchor_url = excluded.anchor_url
        then greatest(oms_audit.anchor_progress.anchored_through, excluded.anchored_through) else excluded.anchored_through end,
      timestamped_through = case when oms_audit.anchor_progress.anchor_url <> excluded.anchor_url or oms_audit.anchor_progress.timestamped_through is null
        then excluded.timestamped_through
        else greatest(oms_audit.anchor_progress.timestamped_through, coalesce(excluded.timestamped_through, 0)) end,
      timestamps_from = case when oms_audit.anchor_progress.anchor_url = excluded.anchor_url
        then coalesce(oms_audit.anchor_progress.timestamps_from, excluded.timestamps_from) else excluded.timestamps_from end,
      failing_number = excluded.failing_number, last_error = excluded.last_error, last_error_at = excluded.last_error_at,
      updated_at = now()`;
}

interface TenantRun {
  sql: Sql;
  env: Env;
  settings: AnchorSettings;
  storage: ArchiveStorage;
  source: AnchorSource;
  summary: AnchorSummary;
  retainUntil: Map<string, Date | null>;
}

/** Under Object Lock: kept for the tenant's total retention plus a year from now (the anchors outlive the events). */
async function retainUntil(run: TenantRun, tenantId: string): Promise<Date | null> {
  if (!run.retainUntil.has(tenantId)) {
    let until: Date | null = null;
    if (await run.storage.objectLock()) {
      const policy = await getPolicy(run.sql, tenantId, run.env.RETENTION_MIN_TOTAL_YEARS);
      until = new Date();
      until.setUTCFullYear(until.getUTCFullYear() + policy.total_years + 1);
    }
    run.retainUntil.set(tenantId, until);
  }
  return run.retainUntil.get(tenantId)!;
}

const label = (item: AnchorItem) => `${item.kind === 'checkpoint' ? 'checkpoint' : 'retention record'} ${item.number}`;

async function writeObject(run: TenantRun, item: AnchorItem): Promise<void> {
  const keys = anchorKeys(item.kind, item.tenant_id, item.number);
  const outcome = await writeOnce(run.storage, keys.object, item.object, 'application/json', await retainUntil(run, item.tenant_id));
  if (outcome.status === 'conflict') {
    throw new AnchorError(
      item.number,
      `${label(item)} of tenant ${item.tenant_id} in the database is not the one anchored at ${keys.object}: the trail departs from what was anchored (was a tail cut off and sealed again?); nothing was overwritten — run oms-audit verify`,
    );
  }
}

async function timestamp(run: TenantRun, item: AnchorItem): Promise<void> {
  const keys = anchorKeys(item.kind, item.tenant_id, item.number);
  // Time-stamp exactly what is anchored: the object stored must be this item.
  const anchored = await run.storage.getBytesIfExists(keys.object);
  if (!anchored?.equals(item.object)) throw new AnchorError(item.number, `${label(item)} of tenant ${item.tenant_id}: the anchored object differs from the database's; not time-stamping it`);
  const token = await requestTimestamp(run.settings.tsaUrl!, item.body).catch((err: Error) => {
    throw new AnchorError(item.number, `${label(item)} of tenant ${item.tenant_id}: time stamp not obtained: ${err.message}`);
  });
  const outcome = await writeOnce(run.storage, keys.token, token, 'application/timestamp-reply', await retainUntil(run, item.tenant_id));
  if (outcome.status === 'conflict') {
    // Another sealer stored its token first: fine if that one is good.
    const check = run.settings.tsaTrust ? await checkTimestamp(outcome.existing, item.body, run.settings.tsaTrust) : { ok: false as const, reason: 'no trusted TSA certificate configured' };
    if (!check.ok) throw new AnchorError(item.number, `${label(item)} of tenant ${item.tenant_id}: another, unusable time-stamp token is stored at ${keys.token} (${check.reason})`);
  }
}

async function anchorTenant(run: TenantRun, tenantId: string, head: number, recheckFrom: number | undefined, withTokens: boolean): Promise<void> {
  const { sql, source, settings, summary } = run;
  const stored = await anchorProgress(sql, source.kind, tenantId);
  // Progress at another anchor location says nothing about this one: start again from number 1.
  const p: AnchorProgress = stored?.anchor_url === settings.url ? stored : {
    tenant_id: tenantId,
    kind: source.kind,
    anchor_url: settings.url!,
    anchored_through: 0,
    timestamped_through: null,
    timestamps_from: null,
    failing_number: null,
    last_error: null,
    last_error_at: null,
  };
  const tsa = settings.tsaUrl !== null;
  // Time stamps start with the first item anchored after a TSA is configured; earlier ones are
  // covered by the chain (a token on item n proves every item before it existed too).
  if (tsa && p.timestamped_through === null) {
    p.timestamped_through = p.anchored_through;
    p.timestamps_from = p.anchored_through + 1;
  }
  // First the objects, then the tokens: a time-stamp authority that is down does not hold back the anchors.
  const objectsOk = await step(run, p, () => p.anchored_through + 1, true, async () => {
    // Items just sealed under numbers already anchored are written too: an identical object is fine, another one a conflict.
    let next = Math.min(p.anchored_through + 1, recheckFrom ?? Infinity);
    while (next <= head) {
      const items = await source.items(sql, tenantId, next, Math.min(head, next + BATCH - 1));
      if (!items.length) return;
      for (const item of items) {
        await writeObject(run, item);
        next = item.number + 1;
        if (item.number <= p.anchored_through) continue;
        p.anchored_through = item.number;
        summary.anchored++;
        await saveProgress(sql, succeeded(p));
      }
    }
  });
  if (!tsa || !withTokens) return;
  // The objects' failure, if any, stays the one on record: it is the more serious.
  await step(run, p, () => p.timestamped_through! + 1, objectsOk, async () => {
    while (p.timestamped_through! < p.anchored_through) {
      const from = p.timestamped_through! + 1;
      const items = await source.items(sql, tenantId, from, Math.min(p.anchored_through, from + BATCH - 1));
      if (!items.length) return;
      for (const item of items) {
        await timestamp(run, item);
        p.timestamped_through = item.number;
        summary.timestamped++;
        await saveProgress(sql, objectsOk ? succeeded(p) : p);
      }
    }
  });
}

const succeeded = (p: AnchorProgress): AnchorProgress => Object.assign(p, { failing_number: null, last_error: null, last_error_at: null });

async function step(run: TenantRun, p: AnchorProgress, at: () => number, record: boolean, work: () => Promise<void>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (err) {
    const number = err instanceof AnchorError ? err.number : at();
    const error = (err as Error).message;
    if (record) Object.assign(p, { failing_number: number, last_error: error, last_error_at: new Date().toISOString() });
    await saveProgress(run.sql, p);
    run.summary.failures.push({ tenant_id: p.tenant_id, kind: p.kind, number, error });
    return false;
  }
}

/**
 * Anchors (and time-stamps) every item not yet anchored, of every tenant or the
 * given ones. `fresh`: items just sealed or issued, written (or found identical)
 * even where the progress row says their numbers are anchored already.
 */
export async function anchorPending(
  sql: Sql,
  env: Env,
  sources: AnchorSource[],
  tenantIds?: string[],
  fresh: { kind: AnchorKind; tenant_id: string; number: number }[] = [],
  /** false: write the objects only, leaving the time-stamp tokens to a later run (the server's time-stamping job). */
  options: { timestamps?: boolean } = {},
): Promise<AnchorSummary> {
  const withTokens = options.timestamps !== false;
  const storage = await anchorStorage(env);
  const summary: AnchorSummary = { configured: storage !== null, anchored: 0, timestamped: 0, failures: [] };
  if (!storage) return summary;
  const settings = anchorSettings(env);
  for (const source of sources) {
    const run: TenantRun = { sql, env, settings, storage, source, summary, retainUntil: new Map() };
    const progress = await sql`
      select tenant_id, anchored_through, timestamped_through from oms_audit.anchor_progress where kind = ${source.kind} and anchor_url = ${settings.url}`;
    const done = new Map(progress.map((r) => [r.tenant_id as string, r]));
    const recheck = new Map<string, number>();
    for (const f of fresh.filter((f) => f.kind === source.kind)) recheck.set(f.tenant_id, Math.min(f.number, recheck.get(f.tenant_id) ?? Infinity));
    const due = (await source.heads(sql, tenantIds)).filter(({ tenant_id, head }) => {
      const p = done.get(tenant_id);
      const anchored = Number(p?.anchored_through ?? 0);
      const stamped = p?.timestamped_through === null || p?.timestamped_through === undefined ? null : Number(p.timestamped_through);
      const from = recheck.get(tenant_id);
      return head > anchored || (from !== undefined && from <= anchored) || (withTokens && settings.tsaUrl !== null && (stamped === null || stamped < anchored));
    });
    // Tenants in parallel (each in number order): a slow time-stamp authority delays one tenant's items, not every tenant's.
    await mapLimit(due, TENANTS_AT_ONCE, ({ tenant_id, head }) => anchorTenant(run, tenant_id, head, recheck.get(tenant_id), withTokens));
  }
  return summary;
}
