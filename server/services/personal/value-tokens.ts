/**
 * Value tokens of the write path (docs/personal-data.md, "Value tokens"): for
 * each sealed value but the actor id (which its reference already finds), the
 * event's token under its subject's token key, and — once per process and
 * (key, place, value) — the tenant's value index entry that tells a search
 * which keys hold that value (oms_audit.personal_value_keys).
 *
 * Both come from bounded in-memory caches per key id (the token key, and the
 * token of each value indexed under it): a trader's IP address, user agent and
 * device repeat on most of its events, so the steady-state cost per value is
 * one lookup, and a batch writes index entries only for values this process
 * has not seen under that key.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { tokenInput, tokenKeyOf, valueIndex, valueToken, type SubjectKey } from '@/supabase/functions/_shared/personal-data.ts';

const MAX_CACHED_KEYS = 5_000;
const MAX_CACHED_VALUES_PER_KEY = 32;

const holder = globalThis as typeof globalThis & {
  /** By key id: its token key, and the tokens of values already indexed under it (token input → token). */
  __omsAuditValueTokens?: Map<string, { tokenKey: Buffer; tokens: Map<string, string> }>;
};

/** Insertion-ordered bound: the oldest entries go first (a cheap stand-in for an LRU on the write path). */
function bounded<K, V>(map: Map<K, V>, k: K, v: V, max: number): void {
  map.set(k, v);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

function cacheOf(key: SubjectKey): { tokenKey: Buffer; tokens: Map<string, string> } {
  const caches = (holder.__omsAuditValueTokens ??= new Map());
  let cache = caches.get(key.keyId);
  if (cache === undefined) {
    if (!key.key) throw new Error(`the key ${key.keyId} was destroyed`);
    cache = { tokenKey: tokenKeyOf(key.key), tokens: new Map() };
    bounded(caches, key.keyId, cache, MAX_CACHED_KEYS);
  }
  return cache;
}

/** A subject's token key, derived once per process from its (live) data key. */
export function tokenKey(key: SubjectKey): Buffer {
  return cacheOf(key).tokenKey;
}

/** Forgets the cached tokens and token keys (tests that change the master key). */
export function forgetValueTokens(): void {
  holder.__omsAuditValueTokens?.clear();
}

/** The tokens of one batch, and the index entries it adds. */
export class ValueTokens {
  private readonly fresh: { cache: Map<string, string>; input: string; token: string; index: string; keyId: string }[] = [];
  private readonly pending = new Map<string, string>();

  constructor(
    private readonly tenantId: string,
    private readonly indexKey: Uint8Array,
  ) {}

  /** Appends to `out` the token of the value at `pointer` sealed under `key` (the caller leaves out the actor id). */
  add(out: string[], key: SubjectKey, pointer: string, value: unknown): void {
    const cache = cacheOf(key);
    const input = tokenInput(pointer, value);
    let token = cache.tokens.get(input);
    if (token === undefined) {
      const pendingKey = key.keyId + '\u0000' + input;
      token = this.pending.get(pendingKey);
      if (token === undefined) {
        token = valueToken(cache.tokenKey, input);
        this.pending.set(pendingKey, token);
        this.fresh.push({ cache: cache.tokens, input, token, index: valueIndex(this.indexKey, input), keyId: key.keyId });
      }
    }
    out.push(token);
  }

  /**
   * Records the batch's new (value index, key) pairs, for keys still live
   * (oms_audit.add_personal_value_keys); only then are they cached, so a
   * failed write is retried by the next batch that holds the value.
   */
  async register(sql: Sql): Promise<void> {
    if (!this.fresh.length) return;
    await sql`select oms_audit.add_personal_value_keys(${this.tenantId}::uuid, ${this.fresh.map((e) => e.index)}::text[], ${this.fresh.map((e) => e.keyId)}::uuid[])`;
    for (const e of this.fresh) bounded(e.cache, e.input, e.token, MAX_CACHED_VALUES_PER_KEY);
  }
}
