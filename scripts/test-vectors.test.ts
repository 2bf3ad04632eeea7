/**
 * The published test vectors (docs/test-vectors/) against the implementation:
 * they are what `npm run vectors` writes now; the server's code, an independent
 * computation from the RFCs, PostgreSQL's round trip of the stored fields, and
 * the standalone verifier all agree with them.
 */
import canonicalize from 'canonicalize';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, createPublicKey, hkdfSync, verify } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/fields.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { ipV1Form } from '@/supabase/functions/_shared/ip.ts';
import { testSql } from '@/test/fixtures.ts';
import { checkTestVectors, type CheckpointVectors, type EventVectors, type TreeVectors } from '@/verifier/test-vectors.ts';
import { buildTestVectors } from './test-vectors.ts';

const DIR = 'docs/test-vectors';
const read = <T>(name: string) => JSON.parse(readFileSync(path.join(DIR, name), 'utf8')) as T;
const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** RFC 6962 §2.1, the recursive definition, over leaf hashes. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

describe('published test vectors', () => {
  it('are exactly what npm run vectors writes', () => {
    for (const [name, content] of Object.entries(buildTestVectors())) expect(readFileSync(path.join(DIR, name), 'utf8'), name).toBe(content);
  });

  it('cover both hash versions, IPv4-mapped IPv6, Unicode, big and tiny numbers, empty and null values, and trees of 1–17 leaves', () => {
    const events = read<EventVectors>('events.json').vectors;
    expect(new Set(events.map((v) => v.event.schema_version))).toEqual(new Set([1, 2, 3]));
    expect(events.filter((v) => v.event.ip_address === '::ffff:10.0.0.1').map((v) => v.event.schema_version).sort()).toEqual([1, 2]);
    expect(events.some((v) => /[^\x00-\x7f]/.test(v.canonical_json))).toBe(true);
    expect(events.some((v) => v.canonical_json.includes('5e-324') && v.canonical_json.includes('1e+21'))).toBe(true);
    expect(events.some((v) => v.event.source === null && JSON.stringify(v.event.context) === '{}')).toBe(true);
    expect(read<TreeVectors>('trees.json').trees.map((t) => t.size)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
  });

  it('give value tokens an outsider computes from the RFCs: HKDF and HMAC-SHA-256 over the canonical [pointer, value]', () => {
    const vectors = read<{ index_key_hex: string; tokens: { event_id: string; key_id: string; token_key_hex: string | null; pointer: string; value: unknown; input: string; token: string; value_index: string }[]; events: { event_id: string; tokens: string[] }[] }>('personal-tokens.json');
    const keys = new Map(read<{ subjects: { key_id: string; key_hex: string | null }[] }>('personal-data.json').subjects.map((s) => [s.key_id, s.key_hex]));
    expect(vectors.tokens.length).toBeGreaterThan(10);
    for (const t of vectors.tokens) {
      expect(t.input).toBe(canonicalize([t.pointer, t.value]));
      expect(createHmac('sha256', Buffer.from(vectors.index_key_hex, 'hex')).update(`value:${t.input}`).digest('hex')).toBe(t.value_index);
      const keyHex = keys.get(t.key_id);
      if (!keyHex) {
        expect(t.token_key_hex).toBeNull();
        continue;
      }
      const tokenKey = Buffer.from(hkdfSync('sha256', Buffer.from(keyHex, 'hex'), Buffer.alloc(0), 'oms-audit value tokens', 32));
      expect(tokenKey.toString('hex')).toBe(t.token_key_hex);
      expect(createHmac('sha256', tokenKey).update(t.input).digest().subarray(0, 16).toString('base64url')).toBe(t.token);
    }
    for (const e of vectors.events) expect(e.tokens).toEqual(vectors.tokens.filter((t) => t.event_id === e.event_id).map((t) => t.token).sort());
  });

  it('agree with the implementation, as the server and the standalone verifier run it', () => {
    expect(checkTestVectors(DIR)).toMatchObject({ failures: [] });
    const run = spawnSync(process.execPath, ['verifier/oms-audit-verify.mjs', '--test-vectors', DIR], { encoding: 'utf8' });
    expect(run.stdout).toMatch(/^TEST VECTORS OK: \d+ checks/);
    expect(run.status).toBe(0);
  });

  it('make the standalone verifier fail when a vector does not hold', () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'oms-audit-vectors-'));
    try {
      cpSync(DIR, copy, { recursive: true });
      const events = read<EventVectors>('events.json');
      events.vectors[2]!.event.written_by = 'console';
      writeFileSync(path.join(copy, 'events.json'), JSON.stringify(events));
      const run = spawnSync(process.execPath, ['verifier/oms-audit-verify.mjs', '--test-vectors', copy], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('event hash differs');
      expect(run.stdout).toContain('canonical JSON differs');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('agree with the RFCs computed independently: RFC 8785 (canonicalize), SHA-256, RFC 6962 trees, Ed25519', () => {
    for (const v of read<EventVectors>('events.json').vectors) {
      const { seq: _seq, ...fields } = v.event;
      const hashed: Record<string, unknown> = v.event.schema_version === 1 ? { ...fields, ip_address: v.event.ip_address && ipV1Form(v.event.ip_address), observed_ip: v.event.observed_ip && ipV1Form(v.event.observed_ip) } : fields;
      if (v.event.schema_version === 1) delete hashed.written_by;
      if (v.event.schema_version < 3) delete hashed.personal;
      expect(canonicalize(hashed), v.name).toBe(v.canonical_json);
      expect(sha256(Buffer.from([0]), Buffer.from(v.canonical_json, 'utf8')).toString('hex'), v.name).toBe(v.event_hash);
    }
    for (const tree of read<TreeVectors>('trees.json').trees) {
      const leaves = tree.leaves.map((h) => Buffer.from(h, 'hex'));
      expect(leaves.map((l, i) => l.equals(sha256(Buffer.from([0]), Buffer.from(String(i)))))).not.toContain(false);
      expect(mth(leaves).toString('hex'), `size ${tree.size}`).toBe(tree.root);
    }
    const { test_key: key, checkpoints } = read<CheckpointVectors>('checkpoints.json');
    const publicKey = createPublicKey(key.public_key_pem);
    expect(createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex')).toBe(key.key_id);
    for (const { canonical_json: body, checkpoint } of checkpoints) {
      const { hash, signature, ...fields } = checkpoint;
      expect(canonicalize(fields)).toBe(body);
      expect(createHash('sha256').update(body, 'utf8').digest('hex')).toBe(hash);
      expect(verify(null, Buffer.from(body, 'utf8'), publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    }
  });

  it('hash the same after a round trip through PostgreSQL columns of the event table', async () => {
    const vectors = read<EventVectors>('events.json').vectors;
    const back = await testSql().begin(async (tx) => {
      await tx`create temporary table vector_events (like public.audit_events) on commit drop`;
      for (const { event } of vectors) {
        const row = { ...event, context: tx.json(event.context as never), personal: event.personal ? tx.json(event.personal as never) : null };
        await tx`insert into vector_events ${tx(row as never, [...EVENT_FIELDS])}`;
      }
      return tx`select ${tx.unsafe(EVENT_FIELDS.join(', '))} from vector_events order by seq`;
    });
    expect(back.map((row) => eventHash(row as never))).toEqual(vectors.map((v) => v.event_hash));
    expect(back.map((row) => row.ip_address)).toEqual(vectors.map((v) => v.event.ip_address));
  });
});

