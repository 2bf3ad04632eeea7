/**
 * Environment, validated once. A wrong value stops the server at boot with a
 * message naming the variable, instead of failing on the first request.
 */
import { z } from 'zod';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes'].includes(v)));

const int = (fallback: number, min = 0) =>
  z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(min).default(fallback);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  /** An external PostgreSQL (a Supabase project, a Debian server). Unset: embedded PostgreSQL. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** Where embedded PostgreSQL, generated secrets and local archives live. */
  OMS_AUDIT_DATA_DIR: z.string().min(1).default('.data'),
  /** Port of embedded PostgreSQL (Supabase's local stack uses 54322 too). */
  OMS_AUDIT_PG_PORT: int(54322, 1),
  /** Load demo data into an empty database at start. */
  OMS_AUDIT_DEMO: bool(true),
  PORT: int(3000, 1),
  /** Interface to listen on; 0.0.0.0 to accept other machines. */
  HOST: z.string().default('127.0.0.1'),
  /** Connections in the server's pool. */
  DB_POOL_MAX: int(10, 1),
  /** false when DATABASE_URL goes through a transaction pooler (Supabase port 6543). */
  DB_PREPARE: bool(true),
  /** Take the client IP from X-Forwarded-For (only behind a proxy you control). */
  TRUST_PROXY: bool(false),
  /** Per API key: events written per second (sustained; bursts up to twice this). */
  RATE_LIMIT_WRITE_EVENTS_PER_SEC: int(50_000, 1),
  /** Per API key: read requests per second (sustained; bursts up to twice this). */
  RATE_LIMIT_READ_REQUESTS_PER_SEC: int(200, 1),
  /** How long a verified API key is trusted before it is checked again (revocation delay elsewhere). */
  API_KEY_CACHE_SECONDS: int(10, 0),
  /** HS256 secret of console sessions and Supabase JWTs. Unset: generated into <data dir>/secrets/jwt-secret. */
  SUPABASE_JWT_SECRET: z.string().min(32, 'must have at least 32 characters').optional(),
  /** Also accept asymmetric JWTs (RS256/ES256) signed by the keys at this JWKS URL, e.g. Supabase Auth's. */
  SUPABASE_JWKS_URL: z.url({ error: 'must be a URL' }).optional(),
  /** Lifetime of a console sign-in. */
  SESSION_HOURS: int(8, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.output<typeof schema>;

let cached: Env | undefined;

export function parseEnv(source: Record<string, string | undefined>): Env {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
