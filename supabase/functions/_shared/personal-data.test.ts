/**
 * The seal of personal data (docs/personal-data.md): one AEAD seal per subject
 * and event opens to exactly the values sealed, and only in its own place —
 * another event, key id, tenant or key does not open it.
 */
import { createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { describe, expect, it } from 'vitest';
import { isReference, openValues, parseReference, referenceOf, referencesOf, sealValues, subjectRef } from './personal-data.ts';

const key = { keyId: '0193a000-0000-7000-8000-00000000a11c', subjectRef: subjectRef(randomBytes(32), 'alice@example.com'), key: randomBytes(32) };
const values = { '/actor_id': 'alice@example.com', '/ip_address': '192.0.2.1', '/context/client/email': 'a@example.net', '/context/qty': 150 };

describe('sealed personal data', () => {
  it('opens one seal per subject and event to every value sealed in it', () => {
    const sealed = sealValues(values, key, 'tenant-1', 'event-1');
    expect(openValues(sealed, key.key, 'tenant-1', 'event-1', key.keyId)).toEqual(values);
    // A fresh nonce every time: the same values never give the same seal.
    expect(sealValues(values, key, 'tenant-1', 'event-1')).not.toBe(sealed);
  });

  it('seals exactly the RFC 8785 canonical JSON of the values, whatever they hold', () => {
    const mixed = { '/b': 'x', '/a': 1.5, '/Z': null, '/é': true, '/context/x': { b: [1, { d: 2, c: 'é\u2028' }], a: -0 }, '/q': 'quo"te\\\n😀', '/n': 1e21, '/m': 5e-324 };
    const sealed = Buffer.from(sealValues(mixed, key, 'tenant-1', 'event-1'), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(`oms-audit.personal:tenant-1:event-1:${key.keyId}`, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]).toString('utf8');
    expect(plaintext).toBe(canonicalJson(mixed));
  });

  it('does not open in another event, under another key id or tenant, with another key, or changed', () => {
    const sealed = sealValues(values, key, 'tenant-1', 'event-1');
    expect(() => openValues(sealed, key.key, 'tenant-1', 'event-2', key.keyId)).toThrow();
    expect(() => openValues(sealed, key.key, 'tenant-1', 'event-1', '0193a000-0000-7000-8000-000000000b0b')).toThrow();
    expect(() => openValues(sealed, key.key, 'tenant-2', 'event-1', key.keyId)).toThrow();
    expect(() => openValues(sealed, randomBytes(32), 'tenant-1', 'event-1', key.keyId)).toThrow();
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[20]! ^= 1;
    expect(() => openValues(bytes.toString('base64url'), key.key, 'tenant-1', 'event-1', key.keyId)).toThrow();
  });

  it('finds every reference of a stored event with its place, and nothing else', () => {
    const reference = referenceOf(key);
    expect(isReference(reference)).toBe(true);
    expect(parseReference(reference)).toEqual({ subjectRef: key.subjectRef, keyId: key.keyId });
    expect(isReference(reference + 'x')).toBe(false);
    const found = referencesOf({
      actor_id: reference,
      user_agent: 'plain agent',
      personal: { ip_address: reference, sealed: { [key.keyId]: 'AAAA' } },
      context: { client: { email: reference }, qty: 150, 'a/b': reference, list: [reference] },
    });
    expect(found.map((f) => f.pointer)).toEqual(['/actor_id', '/ip_address', '/context/client/email', '/context/a~1b']);
  });
});
