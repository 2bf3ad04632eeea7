/**
 * Value tokens of the write path (docs/personal-data.md, "Value tokens"): for
 * each sealed value but the actor id (which its reference already finds), the
 * event's token under its subject's token key, and — once per process and
 * (key, place, value) — the tenant's value index entry that tells a search
 * which keys hold that value (oms_audit.personal_value_keys).
 *
 * Both digests come from a bounded in-memory LRU keyed by (key id, token
 * input): a trader's IP address, user agent and device repeat on most of its
 * events, so the steady-state cost per value is one lookup, and a batch writes
 * index entries only for values this process has not seen under that key.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { tokenInput, tokenKeyOf, valueIndex, valueToken, type SubjectKey } from '@/supabase/functions/_shared/personal-data.ts';

const MAX_CACHED_TOKENS = 100_000;
const MAX_CACHED_TOKEN_KEYS = 50_000;

const holder = globalThis as typeof globalThis & {
  __omsAuditValueTokens?: Map<string, string>;
  __omsAuditTokenKeys?: Map<string, Buffer>;
};

function lruGet<V>(cache: Map<string, V>, k: string): V | undefined {
  const v = cache.get(k);
  if (v !== undefined) {
    cache.delete(k);
    cache.set(k, v);
  }
  return v;
}

function lruSet<V>(cache: Map<string, V>, k: string, v: V, max: number): void {
  cache.set(k, v);
  if (cache.size > max) for (const old of cache.keys()) {
    cache.delete(old);
    if (cache.size <= max) break;
  }
}

/** A subject's token key, derived once per process from its (live) data key. */
export function tokenKey(key: SubjectKey): Buffer {
  const cache = (holder.__omsAuditTokenKeys ??= new Map());
  let derived = lruGet(cache, key.keyId);
  if (derived === undefined) {
    if (!key.key) throw new Error(`the key ${key.keyId} was destroyed`);
    derived = tokenKeyOf(key.key);
    lruSet(cache, key.keyId, derived, MAX_CACHED_TOKEN_KEYS);
  }
  return derived;
}

/** Forgets the cached tokens and token keys (tests that change the master key). */
export function forgetValueTokens(): void {
  holder.__omsAuditValueTokens?.clear();
  holder.__omsAuditTokenKeys?.clear();
}

/** The tokens of one batch, and the index entries it adds. */
export class ValueTokens {
  private readonly fresh = new Map<string, { token: string; index: string; keyId: string }>();

  constructor(
    private readonly tenantId: string,
    private readonly indexKey: Uint8Array,
  ) {}

  /** Appends to `out` the token of each value (by JSON pointer) sealed under `key`, except the actor id. */
  add(out: string[], key: SubjectKey, values: Record<string, unknown>): void {
    const cache = (holder.__omsAuditValueTokens ??= new Map());
    for (const pointer in values) {
      if (pointer === '/actor_id') continue;
      const input = tokenInput(pointer, values[pointer]);
      const k = key.keyId + '\u0000' + input;
      let token = lruGet(cache, k) ?? this.fresh.get(k)?.token;
      if (token === undefined) {
        token = valueToken(tokenKey(key), input);
        this.fresh.set(k, { token, index: valueIndex(this.indexKey, input), keyId: key.keyId });
      }
      out.push(token);
    }
  }

  /**
   * Records the batch's new (value index, key) pairs, for keys still live
   * (oms_audit.add_personal_value_keys); only then are they cached, so a
   * failed write is retried by the next batch that holds the value.
   */
  async register(sql: Sql): Promise<void> {
    if (!this.fresh.size) return;
    const entries = [...this.fresh.entries()];
    await sql`select oms_audit.add_personal_value_keys(${this.tenantId}::uuid, ${entries.map(([, e]) => e.index)}::text[], ${entries.map(([, e]) => e.keyId)}::uuid[])`;
    const cache = (holder.__omsAuditValueTokens ??= new Map());
    for (const [k, e] of entries) lruSet(cache, k, e.token, MAX_CACHED_TOKENS);
  }
}
