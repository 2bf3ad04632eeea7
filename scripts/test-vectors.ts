/**
 * Writes the published test vectors of the integrity format (docs/test-vectors/):
 * events of both hash versions with their canonical JSON and event hash, Merkle
 * trees of 1–17 leaves with roots and every inclusion proof, and a signed chain
 * of checkpoints over the events with a test-only key. Deterministic: running it
 * again gives the same bytes (Ed25519 signatures are deterministic, and the key
 * is derived from a published seed), so the files can be regenerated and the
 * project's tests compare the implementation with them.
 *
 *   npm run vectors
 */
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkpointBytes, checkpointHash, GENESIS_HASH, keyIdOf, type CheckpointBody } from '../supabase/functions/_shared/checkpoint.ts';
import { canonicalEventJson, eventHash, type HashableEvent } from '../supabase/functions/_shared/event-hash.ts';
import { EVENT_FIELDS } from '../supabase/functions/_shared/fields.ts';
import { fromHex, inclusionProof, leafHash, merkleRoot, toHex } from '../supabase/functions/_shared/merkle.ts';
import { associatedData, contextPointer, openedPersonalData, personalOpenedCell, PERSONAL_OPENED_VERSION, referenceOf, sealValues, subjectRef, tokenInput, tokenKeyOf, valueIndex, valueToken, type SubjectKey } from '../supabase/functions/_shared/personal-data.ts';
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';
import type { CheckpointVectors, EventVectors, PersonalDataVectors, PersonalExportVectors, TreeVectors } from '../verifier/test-vectors.ts';

const OUT = path.resolve(import.meta.dirname, '..', 'docs', 'test-vectors');
const TENANT = '6f0e2a4c-8b1d-4e3f-9a5b-7c6d8e9f0a1b';
/** The test key's seed. Published on purpose: this key signs nothing but these vectors. */
const TEST_KEY_SEED = createHash('sha256').update('oms-audit test vectors: not a real key').digest();

function testKey() {
  // PKCS #8 for Ed25519 (RFC 8410): a fixed DER prefix, then the 32-byte seed.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), TEST_KEY_SEED]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), keyId: keyIdOf(publicKey) };
}

type StoredEvent = HashableEvent & { seq: number };

const base = {
  tenant_id: TENANT,
  actor_type: 'USER',
  object_type: 'ORDER',
  outcome: 'success',
  source: 'oms-gateway',
  request_id: 'req-0001',
  user_agent: 'TraderWorkstation/9.2',
  device_fingerprint: 'fp-ws-01',
  observed_user_agent: 'oms-gateway/4.2.1',
};

/** A small trail of one tenant, written first under version 1, then under version 2. */
const EVENTS: { name: string; event: StoredEvent }[] = [
  {
    name: 'version 1: an IPv4-mapped IPv6 address, hashed in hex groups (::ffff:a00:1) though shown as ::ffff:10.0.0.1',
    event: {
      ...base,
      seq: 1,
      id: '01936f3e-1000-7000-8000-000000000001',
      occurred_at: '2026-01-05T09:30:00.000001Z',
      received_at: '2026-01-05T09:30:00.012345Z',
      actor_id: 'trader-7',
      object_id: 'ORD-1001',
      event_type: 'CREATE',
      ip_address: '::ffff:10.0.0.1',
      observed_ip: '192.0.2.10',
      context: { symbol: 'AAPL', side: 'BUY', quantity: 100, limit_price: 187.25 },
      schema_version: 1,
    },
  },
  {
    name: 'version 1: every optional field null, an empty context',
    event: {
      ...base,
      seq: 2,
      id: '01936f3e-1000-7000-8000-000000000002',
      occurred_at: '2026-01-05T09:30:01.500000Z',
      received_at: '2026-01-05T09:30:01.500001Z',
      actor_type: 'SERVICE',
      actor_id: 'risk-engine',
      object_id: 'ORD-1001',
      event_type: 'APPROVE',
      source: null,
      request_id: null,
      ip_address: null,
      user_agent: null,
      device_fingerprint: null,
      observed_ip: null,
      observed_user_agent: null,
      context: {},
      schema_version: 1,
    },
  },
  {
    name: 'version 2: written_by hashed; the IPv4-mapped address hashed as shown (::ffff:10.0.0.1); IPv6 compressed',
    event: {
      ...base,
      seq: 3,
      id: '01936f3e-1000-7000-8000-000000000003',
      occurred_at: '2026-01-05T09:30:02.000000Z',
      received_at: '2026-01-05T09:30:02.100000Z',
      actor_id: 'trader-7',
      object_id: 'ORD-1001',
      event_type: 'ROUTE',
      ip_address: '::ffff:10.0.0.1',
      observed_ip: '2001:db8:0:1::7',
      context: { venue: 'XNAS', route_id: 'R-77' },
      schema_version: 2,
      written_by: 'api_key:2b7e1516-28ae-42d2-a6ab-f7158809cf4f',
    },
  },
  {
    name: 'version 2: an IPv4-compatible address (::10.1.2.3), a failure, a service-role writer',
    event: {
      ...base,
      seq: 4,
      id: '01936f3e-1000-7000-8000-000000000004',
      occurred_at: '2026-01-05T09:30:03.250000Z',
      received_at: '2026-01-05T09:30:03.260000Z',
      actor_type: 'SERVICE',
      actor_id: 'fix-engine',
      object_id: 'ORD-1001',
      event_type: 'REJECT',
      outcome: 'failure',
      ip_address: '::10.1.2.3',
      observed_ip: '::1',
      context: { reason: 'price outside band', band: [180, 190] },
      schema_version: 2,
      written_by: 'service_role',
    },
  },
  {
    name: 'version 2: Unicode in fields, keys sorted by UTF-16 code units (🚀 before Ａ), escapes as JCS writes them',
    event: {
      ...base,
      seq: 5,
      id: '01936f3e-1000-7000-8000-000000000005',
      occurred_at: '2026-01-05T09:31:00.000000Z',
      received_at: '2026-01-05T09:31:00.000500Z',
      actor_id: 'trader-東京',
      object_id: 'ORD-é-🚀',
      event_type: 'UPDATE',
      user_agent: 'Agent/1.0 (Überweisung; 東京)',
      ip_address: '2001:db8::1',
      observed_ip: '203.0.113.7',
      context: {
        z: 'last of ASCII',
        Z: 'capital before lower case',
        é: 'U+00E9',
        Ａ: 'U+FF21: after 🚀 by UTF-16 code units (FF21 > D83D), though before it by code points',
        '🚀': 'a key of two UTF-16 code units, D83D DE80',
        text: 'quote " backslash \\ newline \n tab \t unit separator \u001f delete \u007f line separator \u2028 end',
      },
      schema_version: 2,
      written_by: 'api_key:2b7e1516-28ae-42d2-a6ab-f7158809cf4f',
    },
  },
  {
    name: 'version 2: big and tiny numbers, as ECMAScript writes doubles (150.00 was sent, 150 is stored and hashed)',
    event: {
      ...base,
      seq: 6,
      id: '01936f3e-1000-7000-8000-000000000006',
      occurred_at: '2026-01-05T09:32:00.000000Z',
      received_at: '2026-01-05T09:32:00.000001Z',
      actor_id: 'trader-7',
      object_id: 'ORD-1001',
      event_type: 'FILL',
      ip_address: '192.0.2.10',
      observed_ip: '192.0.2.10',
      context: {
        max_safe_integer: 9007199254740992,
        from_150_00: 150,
        from_1e2: 100,
        ten_to_21: 1e21,
        largest: 1.7976931348623157e308,
        smallest: 5e-324,
        small: 1e-7,
        tenth: 0.1,
        sum: 0.30000000000000004,
        negative: -187.25,
        zero: 0,
        as_string: '12345678901234567890',
      },
      schema_version: 2,
      written_by: 'api_key:2b7e1516-28ae-42d2-a6ab-f7158809cf4f',
    },
  },
  {
    name: 'version 2: empty and null values inside the context',
    event: {
      ...base,
      seq: 7,
      id: '01936f3e-1000-7000-8000-000000000007',
      occurred_at: '2026-01-05T09:33:00.000000Z',
      received_at: '2026-01-05T09:33:00.000000Z',
      actor_id: 'trader-7',
      object_id: 'ORD-1001',
      event_type: 'CANCEL',
      ip_address: null,
      observed_ip: '198.51.100.1',
      context: { empty_string: '', empty_array: [], empty_object: {}, null_value: null, flags: [true, false, null] },
      schema_version: 2,
      written_by: 'operator:cli',
    },
  },
  {
    name: "version 2: the console's own record of a user's sign-in",
    event: {
      ...base,
      seq: 8,
      id: '01936f3e-1000-7000-8000-000000000008',
      occurred_at: '2026-01-05T10:00:00.000000Z',
      received_at: '2026-01-05T10:00:00.000000Z',
      actor_id: 'auditor@example.com',
      object_type: 'SESSION',
      object_id: 'auditor@example.com',
      event_type: 'AUDIT_SIGN_IN',
      source: 'oms-audit-console',
      request_id: null,
      user_agent: 'Mozilla/5.0',
      device_fingerprint: null,
      ip_address: '198.51.100.23',
      observed_ip: '198.51.100.23',
      observed_user_agent: 'Mozilla/5.0',
      context: { user_id: '5d41402a-bc4b-4a76-b971-9d911017c592' },
      schema_version: 2,
      written_by: 'console:5d41402a-bc4b-4a76-b971-9d911017c592',
    },
  },
];

/**
 * Personal data (schema version 3): published test keys, derived from fixed
 * strings like the signing key's seed, and nonces derived from each value's
 * place, so the sealed events come out the same on every run. Real seals use
 * random nonces and random keys.
 */
const derived = (label: string, bytes = 32) => createHash('sha256').update(`oms-audit test vectors: ${label}`).digest().subarray(0, bytes);
const INDEX_KEY = derived('blind index key');
const SUBJECTS = [
  { subject_id: 'alice.trader@example.com', key_id: '0193a000-0000-7000-8000-00000000a11c', erased: false },
  { subject_id: 'client-bob-42', key_id: '0193a000-0000-7000-8000-000000000b0b', erased: false },
  { subject_id: 'carol.trader@example.com', key_id: '0193a000-0000-7000-8000-00000000ca01', erased: true },
].map((s) => ({ ...s, subject_ref: subjectRef(INDEX_KEY, s.subject_id), key: derived(`subject key ${s.subject_id}`) }));
const subjectKey = (id: string): SubjectKey => {
  const s = SUBJECTS.find((x) => x.subject_id === id)!;
  return { keyId: s.key_id, subjectRef: s.subject_ref, key: s.key };
};
const seals: PersonalDataVectors['seals'] = [];

/** Seals each subject's values of one event together, as the server does, with a nonce derived from the event and key. */
function sealEvent(eventId: string, bySubject: Map<string, Record<string, unknown>>): Record<string, string> {
  const sealed: Record<string, string> = {};
  for (const [subject, values] of bySubject) {
    const key = subjectKey(subject);
    const nonce = derived(`nonce ${eventId} ${key.keyId}`, 12);
    sealed[key.keyId] = sealValues(values, key, TENANT, eventId, nonce);
    seals.push({
      event_id: eventId,
      subject_id: subject,
      key_id: key.keyId,
      reference: referenceOf(key),
      values,
      plaintext: canonicalJson(values),
      associated_data: associatedData(TENANT, eventId, key.keyId).toString('utf8'),
      nonce_hex: nonce.toString('hex'),
      sealed: sealed[key.keyId]!,
    });
  }
  return sealed;
}

/** A version 3 event: a person's actor fields under their key, context members and the subject id under the subject's. */
function sealedEvent(seq: number, id: string, actor: string, subject: string | null, plain: { ip: string; observed_ip: string; user_agent: string; device: string; context: Record<string, unknown>; personal_paths: string[] }): StoredEvent {
  const owner = subject ?? actor;
  const bySubject = new Map<string, Record<string, unknown>>([[actor, {}]]);
  if (subject) bySubject.set(subject, {});
  const at = (subjectId: string, pointer: string, value: unknown) => {
    bySubject.get(subjectId)![pointer] = value;
    return referenceOf(subjectKey(subjectId));
  };
  const actorId = at(actor, '/actor_id', actor);
  const userAgent = at(actor, '/user_agent', plain.user_agent);
  const device = at(actor, '/device_fingerprint', plain.device);
  const observedUserAgent = at(actor, '/observed_user_agent', 'oms-gateway/4.2.1');
  const personal: Record<string, unknown> = {
    ip_address: at(actor, '/ip_address', plain.ip),
    observed_ip: at(actor, '/observed_ip', plain.observed_ip),
  };
  if (subject) personal.subject_id = at(subject, '/subject_id', subject);
  const context: Record<string, unknown> = { ...plain.context };
  for (const p of plain.personal_paths) context[p] = at(owner, contextPointer(p), context[p]);
  personal.sealed = sealEvent(id, bySubject);
  return {
    ...base,
    seq,
    id,
    occurred_at: `2026-01-05T10:1${seq - 9}:00.000000Z`,
    received_at: `2026-01-05T10:1${seq - 9}:00.000100Z`,
    actor_type: 'TRADER',
    actor_id: actorId,
    object_id: 'ORD-2001',
    event_type: seq === 9 ? 'CREATE' : 'AMEND',
    ip_address: null,
    observed_ip: null,
    user_agent: userAgent,
    device_fingerprint: device,
    observed_user_agent: observedUserAgent,
    context,
    schema_version: 3,
    written_by: 'api_key:2b7e1516-28ae-42d2-a6ab-f7158809cf4f',
    personal,
  };
}

EVENTS.push(
  {
    name: 'version 3: personal data sealed (actor fields, IP addresses, the subject id, declared context members); the hash covers the references and seals, never the plaintext',
    event: sealedEvent(9, '01936f3e-1000-7000-8000-000000000009', 'alice.trader@example.com', 'client-bob-42', {
      ip: '192.0.2.44',
      observed_ip: '2001:db8::44',
      user_agent: 'TraderWorkstation/9.2',
      device: 'fp-ws-44',
      // The client's phone was sent as the text "[erased]": a value like any other, never to be read as an erased field.
      context: { symbol: 'MSFT', side: 'SELL', quantity: 40, client_name: 'Bob Example', email: 'bob@example.net', phone: '[erased]' },
      personal_paths: ['client_name', 'email', 'phone'],
    }),
  },
  {
    name: 'version 3: a subject since erased (its key is destroyed and not published): the event still verifies',
    event: sealedEvent(10, '01936f3e-1000-7000-8000-00000000000a', 'carol.trader@example.com', null, {
      ip: '198.51.100.99',
      observed_ip: '198.51.100.99',
      user_agent: 'Mozilla/5.0',
      device: 'fp-carol',
      context: { symbol: 'MSFT', quantity: 10, phone: '+44 20 7946 0999' },
      personal_paths: ['phone'],
    }),
  },
);

function personalDataVectors(): PersonalDataVectors {
  return {
    description:
      'Sealed personal data of the version 3 events of events.json (docs/personal-data.md). subject_ref = hex HMAC-SHA-256(index key, UTF-8 "subject:" ‖ subject id); a reference is "pd2:" ‖ subject_ref ‖ ":" ‖ key_id and stands in the event in place of each sealed value. One seal per subject and event: personal.sealed[key_id] = base64url without padding (nonce 12 ‖ AES-256-GCM ciphertext ‖ tag 16) of the UTF-8 plaintext, the canonical JSON (RFC 8785) of {JSON pointer: value} for every place holding the reference, with associated_data as the AAD. The keys are TEST-ONLY, derived from published strings; the erased subject\'s key is withheld, as after an erasure.',
    tenant_id: TENANT,
    index_key_hex: INDEX_KEY.toString('hex'),
    subjects: SUBJECTS.map((s) => ({ subject_id: s.subject_id, subject_ref: s.subject_ref, key_id: s.key_id, key_hex: s.erased ? null : s.key.toString('hex') })),
    seals,
  };
}

/**
 * Value tokens (docs/personal-data.md, "Value tokens") of the sealed values of
 * the version 3 events of events.json, under the same published subject keys:
 * what an event written now carries in personal.tokens, and the value index a
 * search looks its keys up by.
 */
function personalTokenVectors() {
  const tokens = seals.flatMap((seal) => {
    const subject = SUBJECTS.find((x) => x.key_id === seal.key_id)!;
    const tokenKey = tokenKeyOf(subject.key);
    return Object.entries(seal.values)
      .filter(([pointer]) => pointer !== '/actor_id')
      .map(([pointer, value]) => {
        const input = tokenInput(pointer, value);
        return { event_id: seal.event_id, key_id: seal.key_id, token_key_hex: subject.erased ? null : tokenKey.toString('hex'), pointer, value, input, token: valueToken(tokenKey, input), value_index: valueIndex(INDEX_KEY, input) };
      });
  });
  const events = [...new Set(tokens.map((t) => t.event_id))].map((id) => ({ event_id: id, tokens: tokens.filter((t) => t.event_id === id).map((t) => t.token).sort() }));
  return {
    description:
      'Value tokens of the sealed values of the version 3 events of events.json (docs/personal-data.md, "Value tokens"), under the subject keys of personal-data.json (the erased subject\'s tokens are given, its token key withheld like its key: a token reveals nothing without it). input = UTF-8 RFC 8785 canonical JSON of [JSON pointer, value]; token_key = HKDF-SHA-256(subject key, empty salt, info "oms-audit value tokens", 32 bytes); token = base64url without padding of the first 16 bytes of HMAC-SHA-256(token_key, input); value_index = hex HMAC-SHA-256(tenant index key, UTF-8 "value:" ‖ input). The actor id has no token (its reference finds it). An event written since value tokens carries its tokens, sorted, as personal.tokens (events.json holds events written before them, without).',
    tenant_id: TENANT,
    index_key_hex: INDEX_KEY.toString('hex'),
    tokens,
    events,
  };
}

/**
 * Exports opened or masked for their requester (docs/export-format.md, section 8): the
 * personal_opened value of each version 3 event, as the published subject keys open it
 * (the erased subject's fields read "[erased]"), the cell it adds to a CSV record and the
 * member it adds to a JSON Lines record, and the manifest's personal object.
 */
function personalExportVectors(): PersonalExportVectors {
  const live = new Map(SUBJECTS.filter((s) => !s.erased).map((s) => [s.key_id, s.key]));
  const sealed = EVENTS.map((v) => v.event).filter((e) => e.schema_version === 3);
  const rows = sealed.map((e) => {
    const opened = openedPersonalData(e, TENANT, (k) => live.get(k) ?? null)!;
    const masked = openedPersonalData(e, TENANT, (k) => live.get(k) ?? null, true)!;
    const json = canonicalJson(personalOpenedCell(opened));
    return {
      event_id: e.id,
      seq: e.seq,
      opened: personalOpenedCell(opened),
      masked: personalOpenedCell(masked),
      erased: opened.erased,
      opened_subjects: opened.opened,
      csv_tail: `,"${json.replace(/"/g, '""')}"\r\n`,
      jsonl_tail: `,"personal_opened":${json}}\n`,
    };
  });
  const manifest = (mode: 'opened' | 'masked') => ({
    mode,
    column_version: PERSONAL_OPENED_VERSION,
    rows: rows.length,
    opened_subjects: mode === 'masked' ? 0 : new Set(rows.flatMap((r) => r.opened_subjects)).size,
    erased_fields: rows.reduce((n, r) => n + r.erased.length, 0),
    erased: rows.filter((r) => r.erased.length).map((r) => ({ seq: r.seq, id: r.event_id, pointers: r.erased })),
  });
  return {
    description:
      'The personal_opened column (version 2) of exports opened or masked for their requester (docs/export-format.md, section 8), for the version 3 events of events.json: the RFC 8785 JSON object {erased, values}. erased: the reference pointers of the stored event whose subject key is destroyed, in reference order; values: every other reference pointer and, opened, the value its seal holds there (the subject keys given here open them: the --subject-keys file of the verifier), or masked, "[personal]". Event seq 9 holds a value sent as the text "[erased]" at /context/phone, a value like any other; event seq 10 has /context/phone erased. csv_tail: what the column adds to a CSV record after its clock_flag cell (a comma and the JSON quoted, CRLF); jsonl_tail: what replaces the closing brace and LF of a JSON Lines record. The manifest objects are the personal member of the manifests of an export of all events of events.json.',
    tenant_id: TENANT,
    subject_keys: Object.fromEntries([...live].map(([id, key]) => [id, key.toString('base64')])),
    rows: rows.map(({ opened_subjects: _subjects, ...r }) => r),
    manifest_opened: manifest('opened'),
    manifest_masked: manifest('masked'),
  };
}

function eventVectors(): EventVectors {
  return {
    description:
      'Events as the API shows them (every stored field; seq is not hashed), with the canonical JSON their schema version hashes and the event hash: hex SHA-256 of the byte 0x00 followed by the UTF-8 bytes of canonical_json. See docs/integrity.md.',
    vectors: EVENTS.map(({ name, event }) => {
      // Every field, in the order of the API, exports and archives; version 1 events have no writer.
      const shown = Object.fromEntries(EVENT_FIELDS.map((f) => [f, (event as unknown as Record<string, unknown>)[f] ?? null])) as unknown as StoredEvent;
      return { name, event: shown, canonical_json: canonicalEventJson(shown), event_hash: eventHash(shown) };
    }),
  };
}

/** Leaf i of the tree vectors: the RFC 6962 leaf hash of the ASCII decimal digits of i. */
const treeLeaf = (i: number) => toHex(leafHash(new TextEncoder().encode(String(i))));

function treeVectors(): TreeVectors {
  const trees = Array.from({ length: 17 }, (_, k) => {
    const size = k + 1;
    const leaves = Array.from({ length: size }, (_, i) => treeLeaf(i));
    const bytes = leaves.map(fromHex);
    return {
      size,
      leaves,
      root: toHex(merkleRoot(bytes)),
      proofs: leaves.map((_, index) => ({ leaf_index: index, audit_path: inclusionProof(bytes, index).map(toHex) })),
    };
  });
  return {
    description:
      'RFC 6962 / RFC 9162 Merkle trees over leaf hashes: node = SHA-256(0x01 ‖ left ‖ right), the left subtree holding the largest power of two smaller than the size. Leaf i (0-based) is SHA-256(0x00 ‖ ASCII decimal digits of i). Each proof is the audit path of a leaf, bottom up (RFC 9162 §2.1.3). All hashes hex.',
    trees,
  };
}

function checkpointVectors(): CheckpointVectors {
  const key = testKey();
  const events = eventVectors().vectors;
  const ranges: [number, number][] = [
    [1, 5],
    [6, 8],
    [9, 10],
  ];
  let prev = GENESIS_HASH;
  const checkpoints = ranges.map(([from, to], i) => {
    const leaves = events.filter((v) => v.event.seq >= from && v.event.seq <= to).map((v) => fromHex(v.event_hash));
    const body: CheckpointBody = {
      version: 1,
      tenant_id: TENANT,
      number: i + 1,
      seq_from: from,
      seq_to: to,
      count: to - from + 1,
      merkle_root: toHex(merkleRoot(leaves)),
      prev_hash: prev,
      sealed_at: `2026-01-05T10:0${i}:20.000000Z`,
      key_id: key.keyId,
    };
    const hash = checkpointHash(body);
    const signature = sign(null, checkpointBytes(body), key.privateKey).toString('base64');
    prev = hash;
    return {
      canonical_json: checkpointBytes(body).toString('utf8'),
      checkpoint: { ...body, hash, signature },
      inclusion: leaves.map((_, index) => ({ seq: from + index, leaf_index: index, tree_size: leaves.length, audit_path: inclusionProof(leaves, index).map(toHex) })),
    };
  });
  return {
    description:
      'A signed chain of checkpoints over the events of events.json (one tenant, seq 1–10). hash = hex SHA-256 of canonical_json (RFC 8785, UTF-8); signature = base64 (RFC 4648, with padding) of the Ed25519 signature of the same bytes; key_id = hex SHA-256 of the public key in DER SubjectPublicKeyInfo form; prev_hash links each checkpoint to the one before (64 zeros for number 1). The key is a TEST-ONLY key derived from a published seed: never trust it for anything else.',
    test_key: { seed_hex: TEST_KEY_SEED.toString('hex'), public_key_pem: key.publicKeyPem, key_id: key.keyId },
    checkpoints,
  };
}

export function buildTestVectors(): Record<string, string> {
  const write = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
  return {
    'events.json': write(eventVectors()),
    'trees.json': write(treeVectors()),
    'checkpoints.json': write(checkpointVectors()),
    'personal-data.json': write(personalDataVectors()),
    'personal-exports.json': write(personalExportVectors()),
    'personal-tokens.json': write(personalTokenVectors()),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(OUT, { recursive: true });
  for (const [name, content] of Object.entries(buildTestVectors())) {
    writeFileSync(path.join(OUT, name), content);
    console.log(`wrote ${path.relative(process.cwd(), path.join(OUT, name))}`);
  }
}
