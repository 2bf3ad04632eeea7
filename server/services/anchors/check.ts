/**
 * Verification against the anchors: reads a tenant's anchored checkpoints or
 * retention records from the anchor location (never trusting the database for
 * where they are or what they say) and reports, by number,
 *   - an anchored item that is not a valid signed item (bad bytes, bad signature);
 *   - an anchored item missing from the database, or different there;
 *   - a database head behind the anchored head (a cut-off tail);
 *   - an item sealed longer ago than the grace period with no anchor;
 *   - a missing time-stamp token (from the first item time-stamped on), or a token
 *     that does not verify (another hash, not signed under a trusted TSA certificate).
 */
import type { Env } from '@/server/env.ts';
import type { AnySql } from '@/supabase/functions/_shared/db.ts';
import { anchorProgress } from './anchoring.ts';
import { anchorKeys, type AnchorItem, type AnchorKind } from './format.ts';
import { anchorSettings, anchorStorage, listAnchored, type AnchorSettings } from './store.ts';
import { checkTimestamp } from './timestamp.ts';
import { mapLimit } from './map-limit.ts';

export interface AnchorFinding {
  kind: 'anchor' | 'timestamp';
  number: number;
  detail: string;
}

export interface AnchorReport {
  /** False when no anchor location is configured: nothing outside the database was checked. */
  configured: boolean;
  location: string | null;
  /** Highest number anchored outside the database. */
  anchored_head: number | null;
  /** Highest number in the database. */
  database_head: number;
  /** Anchored items read and compared with the database. */
  anchors_checked: number;
  /** Items within the grace period that are not anchored (or time-stamped) yet. */
  pending: number;
  /** Time-stamp tokens checked against the trusted TSA certificates. */
  timestamps_checked: number;
  /** Tokens present but not checked because no trusted TSA certificate is configured. */
  timestamps_unchecked: number;
}

/** How verification reads and judges one kind of anchored item. */
export interface AnchoredKind<T> {
  kind: AnchorKind;
  /** "checkpoint", "retention record" */
  label: string;
  toItem(item: T): AnchorItem;
  /** The item from an anchor object's JSON, or why it is not one. */
  parse(json: unknown): T | string;
  /** Null when hash and signature hold (for a trusted key), else why not. */
  validate(item: T): string | null;
}

export interface AnchorCheck<T> {
  report: AnchorReport;
  /** Valid anchored items by number. */
  anchored: Map<number, T>;
  findings: AnchorFinding[];
}

export function emptyAnchorReport(databaseHead: number): AnchorReport {
  return { configured: false, location: null, anchored_head: null, database_head: databaseHead, anchors_checked: 0, pending: 0, timestamps_checked: 0, timestamps_unchecked: 0 };
}

/**
 * Compares the database's items of one kind (in number order) with the tenant's
 * anchors. With `fromNumber`, only the anchors from that number on are read and
 * compared (an incremental verification; `database` then holds the items from
 * fromNumber − 1 on); the database's head is still compared with the anchored head.
 */
export async function checkAnchored<T>(
  sql: AnySql,
  env: Env,
  tenantId: string,
  kind: AnchoredKind<T>,
  database: readonly T[],
  now = new Date(),
  fromNumber = 1,
): Promise<AnchorCheck<T>> {
  const databaseItems = new Map(database.map((d) => [kind.toItem(d).number, kind.toItem(d)]));
  const databaseHead = Math.max(0, ...databaseItems.keys());
  const storage = await anchorStorage(env);
  const result: AnchorCheck<T> = { report: emptyAnchorReport(databaseHead), anchored: new Map(), findings: [] };
  if (!storage) return result;
  const settings = anchorSettings(env);
  Object.assign(result.report, { configured: true, location: settings.url });
  const { objects, tokens } = await listAnchored(storage, kind.kind, tenantId).catch((err: Error) => {
    throw new Error(`the anchors at ${settings.url} cannot be read, so the trail cannot be checked against them: ${err.message}`);
  });
  result.report.anchored_head = objects.length ? objects[objects.length - 1]! : null;
  const graceEnd = now.getTime() - settings.graceSeconds * 1000;
  const find = (f: AnchorFinding) => result.findings.push(f);

  const read = await mapLimit(fromNumber > 1 ? objects.filter((n) => n >= fromNumber) : objects, 8, async (number) => {
    const keys = anchorKeys(kind.kind, tenantId, number);
    const [bytes, token] = await Promise.all([storage.getBytesIfExists(keys.object), tokens.has(number) ? storage.getBytesIfExists(keys.token) : null]);
    return { number, bytes, token };
  });
  const anchoredItems = new Map<number, AnchorItem>();
  for (const { number, bytes } of read) {
    result.report.anchors_checked++;
    const item = bytes ? parseAnchor(kind, bytes, tenantId, number) : 'the object vanished while being read';
    if (typeof item === 'string') {
      find({ kind: 'anchor', number, detail: `the anchor of ${kind.label} ${number} is not a valid signed ${kind.label}: ${item}` });
      continue;
    }
    result.anchored.set(number, item);
    anchoredItems.set(number, kind.toItem(item));
  }

  // The database against the anchors.
  const anchoredHead = result.report.anchored_head ?? 0;
  if (databaseHead < anchoredHead) {
    find({
      kind: 'anchor',
      number: databaseHead + 1,
      detail: `the database ends at ${kind.label} ${databaseHead}, but ${kind.label}s ${databaseHead + 1}–${anchoredHead} are anchored outside it: a tail of the trail was cut off`,
    });
  }
  for (const [number, anchored] of anchoredItems) {
    const inDatabase = databaseItems.get(number);
    if (!inDatabase) {
      if (number <= databaseHead) find({ kind: 'anchor', number, detail: `${kind.label} ${number} is anchored (of ${anchored.at}) but missing from the database` });
    } else if (!inDatabase.object.equals(anchored.object)) {
      find({
        kind: 'anchor',
        number,
        detail: `${kind.label} ${number} in the database (hash ${inDatabase.hash.slice(0, 16)}…) differs from the one anchored (hash ${anchored.hash.slice(0, 16)}…): the database's trail was rewritten`,
      });
    }
  }
  const anchoredNumbers = new Set(objects);
  for (const [number, item] of databaseItems) {
    if (anchoredNumbers.has(number) || number < fromNumber) continue;
    if (Date.parse(item.at) < graceEnd) find({ kind: 'anchor', number, detail: `${kind.label} ${number} (of ${item.at}) has no anchor outside the database` });
    else result.report.pending++;
  }

  await checkTokens(sql, kind, tenantId, settings, read, anchoredItems, graceEnd, result);
  return result;
}

function parseAnchor<T>(kind: AnchoredKind<T>, bytes: Buffer, tenantId: string, number: number): T | string {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const item = kind.parse(json);
  if (typeof item === 'string') return item;
  const anchor = kind.toItem(item);
  if (anchor.tenant_id !== tenantId || anchor.number !== number) return `it is ${kind.label} ${anchor.number} of tenant ${anchor.tenant_id}, stored under another name`;
  if (!anchor.object.equals(bytes)) return 'its bytes are not the canonical JSON of a signed item';
  return kind.validate(item) ?? item;
}

async function checkTokens<T>(
  sql: AnySql,
  kind: AnchoredKind<T>,
  tenantId: string,
  settings: AnchorSettings,
  read: { number: number; token: Buffer | null }[],
  anchoredItems: Map<number, AnchorItem>,
  graceEnd: number,
  result: AnchorCheck<T>,
): Promise<void> {
  const withToken = read.filter((r) => r.token).map((r) => r.number);
  const progress = await anchorProgress(sql, kind.kind, tenantId);
  const stampedSince = progress?.anchor_url === settings.url ? (progress.timestamps_from ?? undefined) : undefined;
  // Tokens are expected from the first item time-stamped (by the anchors, or by the database's record of when time-stamping began).
  const starts = [withToken[0], stampedSince].filter((n): n is number => n !== undefined);
  const expectedFrom = settings.tsaUrl && starts.length ? Math.min(...starts) : null;
  await mapLimit(read, 8, async ({ number, token }) => {
    const item = anchoredItems.get(number);
    if (!item) return;
    if (!token) {
      if (expectedFrom === null || number < expectedFrom) return;
      if (Date.parse(item.at) < graceEnd) result.findings.push({ kind: 'timestamp', number, detail: `${kind.label} ${number} has no time-stamp token` });
      else result.report.pending++;
      return;
    }
    if (!settings.tsaTrust) {
      result.report.timestamps_unchecked++;
      return;
    }
    const check = await checkTimestamp(token, item.body, settings.tsaTrust);
    if (check.ok) result.report.timestamps_checked++;
    else result.findings.push({ kind: 'timestamp', number, detail: `the time-stamp token of ${kind.label} ${number} is refused: ${check.reason}` });
  });
}
