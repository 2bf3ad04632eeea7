/**
 * Console passwords: argon2id (RFC 9106) through `hash-wasm` (WebAssembly: no
 * native binary to build or to crash on load, the same code on every platform), stored
 * as PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) so the parameters
 * travel with each hash. Hashes of older releases (`scrypt$N$r$p$salt$hash`,
 * N = 2^15) still verify, and `needsRehash` tells the caller to replace them
 * after the next successful sign-in.
 *
 * Parameters: OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): ~50–80 ms
 * on one core here. Hashes run one at a time (a queue), so at most 19 MiB is in
 * use whatever the number of attempts; sign-in's rate limits bound the queue.
 *
 * Verification does the same work whether or not the user exists: an unknown
 * email is checked against a dummy hash with the current parameters.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { argon2id, argon2Verify } from 'hash-wasm';

export const ARGON2_PARAMETERS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

/** What each verification cost, by parameter set: tests compare the work done for known and unknown emails. */
export const passwordWork = { verifications: 0, lastScheme: '' };

export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `must have at most ${MAX_PASSWORD_LENGTH} characters`;
  return null;
}

// One hash at a time: each holds 19 MiB while it runs.
let queue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => {});
  return next;
}

export function hashPassword(password: string): Promise<string> {
  return oneAtATime(() =>
    argon2id({
      password: password.normalize('NFKC'),
      salt: randomBytes(16),
      parallelism: ARGON2_PARAMETERS.parallelism,
      iterations: ARGON2_PARAMETERS.timeCost,
      memorySize: ARGON2_PARAMETERS.memoryCost,
      hashLength: 32,
      outputType: 'encoded',
    }),
  );
}

/** The scheme and parameters of a stored hash, e.g. `argon2id m=19456,t=2,p=1` or `scrypt N=32768,r=8,p=1`. */
export function schemeOf(stored: string): string {
  const phc = /^\$(argon2id|argon2i|argon2d)\$v=\d+\$([^$]+)\$/.exec(stored);
  if (phc) return `${phc[1]} ${phc[2]!.split(',').sort((a, b) => 'mtp'.indexOf(a[0]!) - 'mtp'.indexOf(b[0]!)).join(',')}`;
  const legacy = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$/.exec(stored);
  if (legacy) return `scrypt N=${legacy[1]},r=${legacy[2]},p=${legacy[3]}`;
  return 'unknown';
}

const CURRENT_SCHEME = `argon2id m=${ARGON2_PARAMETERS.memoryCost},t=${ARGON2_PARAMETERS.timeCost},p=${ARGON2_PARAMETERS.parallelism}`;

/** A stored hash made with another scheme or weaker parameters than today's. */
export function needsRehash(stored: string): boolean {
  return schemeOf(stored) !== CURRENT_SCHEME;
}

function legacyScrypt(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, expected] = stored.split('$');
  const N = Number(n);
  const R = Number(r);
  // Only the parameters earlier releases wrote; anything else in the column is refused.
  if (!(N >= 2 ** 14 && N <= 2 ** 17 && R === 8 && Number(p) === 1)) return Promise.resolve(false);
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), Buffer.from(salt!, 'base64url'), 32, { N, r: R, p: 1, maxmem: 256 * N * R }, (err, key) => {
      if (err) return reject(err);
      const want = Buffer.from(expected!, 'base64url');
      resolve(want.length === key.length && timingSafeEqual(want, key));
    }),
  );
}

// Compared against when the user is unknown or has no password, so that response time does not reveal which emails exist.
let dummy: Promise<string> | undefined;

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const hash = stored ?? (await (dummy ??= hashPassword('not a real password')));
  passwordWork.verifications++;
  passwordWork.lastScheme = schemeOf(hash);
  let ok: boolean;
  if (hash.startsWith('$argon2')) {
    try {
      ok = await oneAtATime(() => argon2Verify({ password: password.normalize('NFKC'), hash }));
    } catch {
      ok = false;
    }
  } else if (hash.startsWith('scrypt$')) ok = await legacyScrypt(password, hash);
  else ok = false;
  return stored != null && ok;
}
