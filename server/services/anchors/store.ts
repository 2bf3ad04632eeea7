/**
 * Where anchors live: ANCHOR_URL, or the archive location's `anchors/` folder
 * (file:///… or s3://…, through the archive storage code). Objects there are
 * written once and never replaced: a read-only file created exclusively, or a
 * conditional PUT (under S3 Object Lock, in compliance mode). The location
 * comes from the environment, never from the database, so whoever can write
 * the database cannot point verification elsewhere.
 */
import { createHash } from 'node:crypto';
import type { Env } from '@/server/env.ts';
import { configuredArchiveUrl, storageAt, type ArchiveStorage } from '@/server/archive/storage.ts';
import { loadTrustedTsaCertificates } from './timestamp.ts';
import { parseAnchorKey, tenantFolder, type AnchorKind } from './format.ts';
import type { Certificate } from 'pkijs';

export interface AnchorSettings {
  /** The anchor location, or null when none is configured. */
  url: string | null;
  /** Time-stamp authority to ask, when configured. */
  tsaUrl: string | null;
  /** Certificates tokens must chain to; null when ANCHOR_TSA_CA_FILE is unset (tokens are then not checked). */
  tsaTrust: Certificate[] | null;
  graceSeconds: number;
}

export function anchorUrl(env: Env): string | null {
  if (env.ANCHOR_URL) return env.ANCHOR_URL.replace(/\/+$/, '');
  const archive = configuredArchiveUrl(env);
  return archive ? `${archive}/anchors` : null;
}

const trustCache = new Map<string, Certificate[]>();

export function anchorSettings(env: Env): AnchorSettings {
  let tsaTrust: Certificate[] | null = null;
  if (env.ANCHOR_TSA_CA_FILE) {
    tsaTrust = trustCache.get(env.ANCHOR_TSA_CA_FILE) ?? loadTrustedTsaCertificates(env.ANCHOR_TSA_CA_FILE);
    trustCache.set(env.ANCHOR_TSA_CA_FILE, tsaTrust);
  }
  return { url: anchorUrl(env), tsaUrl: env.ANCHOR_TSA_URL ?? null, tsaTrust, graceSeconds: env.ANCHOR_GRACE_SECONDS };
}

export async function anchorStorage(env: Env): Promise<ArchiveStorage | null> {
  const url = anchorUrl(env);
  return url ? storageAt(url, env) : null;
}

export type WriteOutcome = { status: 'written' | 'present' } | { status: 'conflict'; existing: Buffer };

/** Writes a write-once object; an identical object already there is fine, a different one a conflict. */
export async function writeOnce(storage: ArchiveStorage, key: string, bytes: Buffer, contentType: string, retainUntil: Date | null): Promise<WriteOutcome> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (await storage.putBytesOnce(key, bytes, { sha256, contentType, retainUntil })) return { status: 'written' };
  const existing = await storage.getBytesIfExists(key);
  if (existing && existing.equals(bytes)) return { status: 'present' };
  return { status: 'conflict', existing: existing ?? Buffer.alloc(0) };
}

/** The numbers anchored in a tenant's folder, ascending, and those with a time-stamp token. */
export async function listAnchored(storage: ArchiveStorage, kind: AnchorKind, tenantId: string): Promise<{ objects: number[]; tokens: Set<number> }> {
  const folder = tenantFolder(kind, tenantId);
  const objects: number[] = [];
  const tokens = new Set<number>();
  for (const key of await storage.list(folder)) {
    const parsed = parseAnchorKey(folder, key);
    if (!parsed) continue;
    if (parsed.type === 'object') objects.push(parsed.number);
    else tokens.add(parsed.number);
  }
  objects.sort((a, b) => a - b);
  return { objects, tokens };
}
