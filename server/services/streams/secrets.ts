/**
 * Stream credentials (webhook HMAC secrets, Splunk tokens, Datadog API keys,
 * S3 keys) are kept encrypted: AES-256-GCM with the server's stream secrets
 * key (STREAM_SECRETS_KEY, or one generated into the data folder), bound to
 * the stream's id as associated data, so a dump of the database reveals none
 * of them and a ciphertext copied onto another stream does not decrypt.
 *
 * Blob layout: 0x01 ‖ key id (first 8 bytes of SHA-256 of the key) ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { dataPath } from '@/server/db/open.ts';
import { env, type Env } from '@/server/env.ts';

const VERSION = 1;
const KEY_ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const holder = globalThis as typeof globalThis & { __omsAuditStreamKey?: Buffer };

/** The stream secrets key: STREAM_SECRETS_KEY, or generated once into <data dir>/secrets/stream-secrets-key. */
export function streamSecretsKey(e: Env = env()): Buffer {
  if (holder.__omsAuditStreamKey) return holder.__omsAuditStreamKey;
  let encoded = e.STREAM_SECRETS_KEY;
  if (!encoded) {
    const file = dataPath(e, 'secrets', 'stream-secrets-key');
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (err) {
        // Another process (server, CLI) wrote it first: use theirs.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    encoded = readFileSync(file, 'utf8').trim();
  }
  holder.__omsAuditStreamKey = Buffer.from(encoded, 'base64');
  return holder.__omsAuditStreamKey;
}

const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
const aadOf = (streamId: string) => Buffer.from(`oms-audit.log_streams:${streamId}`);

export function encryptSecret(plaintext: string, streamId: string, key = streamSecretsKey()): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aadOf(streamId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), keyIdOf(key), nonce, body, cipher.getAuthTag()]);
}

export function decryptSecret(blob: Uint8Array, streamId: string, key = streamSecretsKey()): string {
  const data = Buffer.from(blob);
  if (data[0] !== VERSION || data.length < 1 + KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES) {
    throw new AuditError('internal', `The credentials of stream ${streamId} are not in a known form`);
  }
  if (!data.subarray(1, 1 + KEY_ID_BYTES).equals(keyIdOf(key))) {
    throw new AuditError('internal', `The credentials of stream ${streamId} were encrypted with another stream secrets key: give every server and CLI the same STREAM_SECRETS_KEY`);
  }
  const nonce = data.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + NONCE_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aadOf(streamId));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(data.subarray(1 + KEY_ID_BYTES + NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new AuditError('internal', `The credentials of stream ${streamId} do not decrypt: they were changed or belong to another stream`);
  }
}
