/**
 * An independent monitor of an oms-audit trail, for a customer or regulator to
 * run on their own machine (also `oms-audit monitor`). It remembers the last
 * signed checkpoint it accepted (a state file, written atomically), fetches the
 * newer ones over HTTP, and accepts them only if each is signed by a pinned key
 * (a public key or its fingerprint obtained out of band — never a key taken
 * from the server alone) and they chain back to the one it knows:
 *
 *   grown     the server's checkpoint N is the one remembered and every later one
 *             links to it: accepted, the state moves to the newest
 *   rollback  the server's newest checkpoint is older than the one remembered
 *   fork      the server's checkpoint N is not the one remembered: a different,
 *             re-signed history
 *   invalid   a newer checkpoint does not link, does not hash, or is not signed
 *             by a pinned key
 *
 * The state file format is specified in docs/integrity.md ("Monitor state").
 */
import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkpointBody, checkpointHash, keyIdOf, signatureValid, type SignedCheckpoint } from '../supabase/functions/_shared/checkpoint.ts';

export const MONITOR_STATE_FORMAT = 'oms-audit-monitor-state';
export const MONITOR_STATE_VERSION = 1;

export interface MonitorState {
  format: typeof MONITOR_STATE_FORMAT;
  version: typeof MONITOR_STATE_VERSION;
  /** The server monitored (its base URL). */
  url: string;
  tenant_id: string;
  /** Public keys (PEM, SPKI) pinned for this trail, by fingerprint (hex SHA-256 of the DER SubjectPublicKeyInfo). */
  pinned_keys: { key_id: string; public_key_pem: string }[];
  /** The last checkpoint accepted, exactly as signed. */
  checkpoint: SignedCheckpoint;
  /** When it was accepted (the monitor's clock). */
  accepted_at: string;
}

export type MonitorOutcome = 'grown' | 'unchanged' | 'first' | 'empty' | 'rollback' | 'fork' | 'invalid';

export interface MonitorResult {
  outcome: MonitorOutcome;
  /** True for grown, unchanged, first and empty: nothing wrong was seen. */
  ok: boolean;
  /** The checkpoint concerned: the newest accepted, or the one where a problem is. */
  number: number | null;
  /** Checkpoints newly accepted in this run. */
  accepted: number;
  message: string;
  /** The state to keep (unchanged unless new checkpoints were accepted). */
  state: MonitorState | null;
}

export interface MonitorOptions {
  /** Base URL of the oms-audit server, e.g. https://audit.example.com */
  url: string;
  /** An API key of the tenant with events:read. */
  apiKey: string;
  /** The state from the previous run, or null on the first. */
  state: MonitorState | null;
  /** Operator public keys (PEM) obtained out of band; or: */
  publicKeysPem?: string[];
  /** Fingerprints obtained out of band: the server's keys are used only if they hash to one of these. */
  fingerprints?: string[];
  fetch?: typeof fetch;
  /** Checkpoints per request (at most 1000). */
  pageSize?: number;
}

class HttpError extends Error {}

async function getJson(options: MonitorOptions, pathAndQuery: string): Promise<unknown> {
  const res = await (options.fetch ?? fetch)(new URL(pathAndQuery, options.url.replace(/\/?$/, '/')), {
    headers: { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' },
  });
  if (!res.ok) throw new HttpError(`GET ${pathAndQuery} answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

const fingerprint = (pem: string) => keyIdOf(createPublicKey(pem));

/** The keys to check signatures with: given PEMs, the server's keys that match pinned fingerprints, or the state's. */
async function pinnedKeys(options: MonitorOptions): Promise<MonitorState['pinned_keys']> {
  const pinned = new Map<string, string>();
  for (const pem of options.publicKeysPem ?? []) pinned.set(fingerprint(pem), pem);
  const wanted = (options.fingerprints ?? []).map((f) => f.toLowerCase().replace(/[^0-9a-f]/g, ''));
  if (wanted.length) {
    const published = (await getJson(options, 'api/integrity/public-key')) as { public_key_pem: string; trusted_keys?: { public_key_pem: string }[] };
    const candidates = [published.public_key_pem, ...(published.trusted_keys ?? []).map((k) => k.public_key_pem)];
    for (const want of wanted) {
      const pem = candidates.find((c) => fingerprint(c) === want);
      if (!pem) throw new Error(`the server publishes no public key with fingerprint ${want}: it cannot be pinned`);
      pinned.set(want, pem);
    }
  }
  // Without new pins, the keys pinned on an earlier run (kept in the state file).
  if (!pinned.size) for (const k of options.state?.pinned_keys ?? []) pinned.set(k.key_id, k.public_key_pem);
  if (!pinned.size) throw new Error('no key is pinned: give the operator public key (or its fingerprint) obtained out of band');
  return [...pinned].map(([key_id, public_key_pem]) => ({ key_id, public_key_pem }));
}

/** Why a checkpoint cannot follow `previous` (null: the start of the chain), or null when it can. */
function linkProblem(c: SignedCheckpoint, previous: SignedCheckpoint | null, tenantId: string | null, keys: Map<string, KeyObject>): string | null {
  if (tenantId && c.tenant_id !== tenantId) return `checkpoint ${c.number} belongs to tenant ${c.tenant_id}, not ${tenantId}`;
  if (checkpointHash(c) !== c.hash) return `checkpoint ${c.number} does not hash to its recorded hash`;
  const key = keys.get(c.key_id);
  if (!key) return `checkpoint ${c.number} is signed by key ${c.key_id}, which is not pinned`;
  if (!signatureValid(c, key)) return `checkpoint ${c.number} has an invalid signature`;
  const expected = previous ? { number: previous.number + 1, seq_from: previous.seq_to + 1, prev_hash: previous.hash } : { number: 1, seq_from: 1, prev_hash: '0'.repeat(64) };
  if (c.number !== expected.number || c.seq_from !== expected.seq_from || c.prev_hash !== expected.prev_hash) {
    return previous ? `checkpoint ${c.number} does not follow checkpoint ${previous.number} (number, seq range or prev_hash)` : `checkpoint ${c.number} does not start the chain`;
  }
  return null;
}

const sameCheckpoint = (a: SignedCheckpoint, b: SignedCheckpoint) =>
  a.hash === b.hash && a.signature === b.signature && JSON.stringify(checkpointBody(a)) === JSON.stringify(checkpointBody(b));

/** One monitoring pass: fetch what is newer than the state's checkpoint and decide. Throws only on transport or usage errors. */
export async function monitorCheckpoints(options: MonitorOptions): Promise<MonitorResult> {
  const pinned = await pinnedKeys(options);
  const keys = new Map(pinned.map((k) => [k.key_id, createPublicKey(k.public_key_pem)]));
  const known = options.state?.checkpoint ?? null;
  const limit = Math.min(options.pageSize ?? 1000, 1000);
  const fail = (outcome: MonitorOutcome, number: number, message: string): MonitorResult => ({ outcome, ok: false, number, accepted: 0, message, state: options.state });

  let from = known?.number ?? 1;
  let previous: SignedCheckpoint | null = null;
  let tenantId = known?.tenant_id ?? null;
  let accepted = 0;
  for (;;) {
    const page = (await getJson(options, `api/v1/audit/checkpoints?from_number=${from}&limit=${limit}`)) as {
      checkpoints: SignedCheckpoint[];
      next_from_number: number | null;
      latest_number: number;
    };
    if (known && from === known.number) {
      const theirs = page.checkpoints[0];
      if (!theirs || theirs.number !== known.number) {
        return page.latest_number < known.number
          ? fail('rollback', known.number, `rollback: the server's newest checkpoint is ${page.latest_number}, behind checkpoint ${known.number} accepted at ${options.state!.accepted_at}`)
          : fail('fork', known.number, `fork: the server no longer serves checkpoint ${known.number}, accepted at ${options.state!.accepted_at}, though its newest is ${page.latest_number}`);
      }
      if (!sameCheckpoint(theirs, known)) {
        return fail('fork', known.number, `fork: the server's checkpoint ${known.number} (hash ${theirs.hash}) is not the one accepted at ${options.state!.accepted_at} (hash ${known.hash}): the history was rewritten and signed again`);
      }
      previous = known;
      page.checkpoints.shift();
    }
    for (const c of page.checkpoints) {
      const problem = linkProblem(c, previous, tenantId, keys);
      if (problem) return fail('invalid', c.number, `invalid: ${problem}`);
      tenantId ??= c.tenant_id;
      previous = c;
      accepted++;
    }
    if (page.next_from_number === null) {
      if (previous && previous.number < page.latest_number) {
        return fail('invalid', previous.number + 1, `invalid: the server says its newest checkpoint is ${page.latest_number} but serves none after ${previous.number}`);
      }
      break;
    }
    from = page.next_from_number;
  }

  if (!previous) return { outcome: 'empty', ok: true, number: null, accepted: 0, message: 'the trail has no checkpoint yet', state: options.state };
  const state: MonitorState = {
    format: MONITOR_STATE_FORMAT,
    version: MONITOR_STATE_VERSION,
    url: options.url,
    tenant_id: previous.tenant_id,
    pinned_keys: pinned,
    checkpoint: previous,
    accepted_at: accepted ? new Date().toISOString() : options.state!.accepted_at,
  };
  const outcome: MonitorOutcome = !known ? 'first' : accepted ? 'grown' : 'unchanged';
  const message =
    outcome === 'unchanged'
      ? `unchanged: checkpoint ${previous.number} is still the newest`
      : `${outcome === 'first' ? 'accepted' : 'grown'}: checkpoint ${previous.number} (seq ${previous.seq_to}) accepted${known ? `, ${accepted} newer than checkpoint ${known.number}` : `, after checking all ${accepted}`}`;
  return { outcome, ok: true, number: previous.number, accepted, message, state };
}

/** The state saved by the last run, or null when there is none. */
export async function readMonitorState(file: string): Promise<MonitorState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const state = JSON.parse(text) as MonitorState;
  if (state.format !== MONITOR_STATE_FORMAT || state.version !== MONITOR_STATE_VERSION) throw new Error(`${file} is not an oms-audit monitor state file (version ${MONITOR_STATE_VERSION})`);
  return state;
}

/** Replaces the state file atomically: a synced temporary file renamed over it, so a crash leaves the old state or the new. */
export async function writeMonitorState(file: string, state: MonitorState): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(state, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    const dir = await open(path.dirname(file), 'r');
    await dir.sync().catch(() => {});
    await dir.close();
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Reads the state file, checks the server, and saves the new state when checkpoints were accepted. */
export async function monitorWithStateFile(options: Omit<MonitorOptions, 'state'> & { stateFile: string }): Promise<MonitorResult> {
  const state = await readMonitorState(options.stateFile);
  if (state && state.url !== options.url) throw new Error(`${options.stateFile} remembers ${state.url}, not ${options.url}`);
  const result = await monitorCheckpoints({ ...options, state });
  if (result.ok && result.state && (result.accepted > 0 || !state)) await writeMonitorState(options.stateFile, result.state);
  return result;
}
