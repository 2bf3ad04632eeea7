/**
 * The operator's Ed25519 signing key for checkpoints. From OMS_AUDIT_SIGNING_KEY
 * (PEM) or OMS_AUDIT_SIGNING_KEY_FILE, otherwise generated once into
 * <data dir>/secrets/signing-key.pem. Only its public half ever leaves the process.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keyIdOf, publicKeyFromPem } from '@/supabase/functions/_shared/checkpoint.ts';
import { env } from '@/server/env.ts';
import { fromRoot } from '@/server/paths.ts';

export interface Signer {
  keyId: string;
  publicKey: KeyObject;
  publicKeyPem: string;
  sign(data: Buffer): string;
}

function loadPrivateKey(): KeyObject {
  const e = env();
  if (e.OMS_AUDIT_SIGNING_KEY) return createPrivateKey(e.OMS_AUDIT_SIGNING_KEY.replace(/\\n/g, '\n'));
  const file = e.OMS_AUDIT_SIGNING_KEY_FILE ?? fromRoot(e.OMS_AUDIT_DATA_DIR, 'secrets', 'signing-key.pem');
  if (!existsSync(file)) {
    if (e.OMS_AUDIT_SIGNING_KEY_FILE) throw new Error(`OMS_AUDIT_SIGNING_KEY_FILE ${file} does not exist`);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    // wx: never overwrite a key another process wrote a moment ago.
    try {
      writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return createPrivateKey(readFileSync(file, 'utf8'));
}

const holder = globalThis as typeof globalThis & { __omsAuditSigner?: Signer };

export function signer(): Signer {
  if (!holder.__omsAuditSigner) {
    const privateKey = loadPrivateKey();
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('The signing key must be an Ed25519 key');
    const publicKey = createPublicKey(privateKey);
    holder.__omsAuditSigner = {
      keyId: keyIdOf(publicKey),
      publicKey,
      publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      sign: (data) => sign(null, data, privateKey).toString('base64'),
    };
  }
  return holder.__omsAuditSigner;
}

/**
 * Keys whose signatures verification accepts: the current key plus earlier ones
 * listed in OMS_AUDIT_TRUSTED_PUBLIC_KEYS (PEM, concatenated) after a rotation.
 * Never read from the database: whoever can write the database must not be able
 * to add a key.
 */
export function trustedKeys(): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const current = signer();
  keys.set(current.keyId, current.publicKey);
  const extra = env().OMS_AUDIT_TRUSTED_PUBLIC_KEYS;
  if (extra) {
    for (const pem of extra.replace(/\\n/g, '\n').match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []) {
      const key = publicKeyFromPem(pem);
      keys.set(keyIdOf(key), key);
    }
  }
  return keys;
}
