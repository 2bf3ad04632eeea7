/**
 * The function's settings, from its environment (`supabase secrets set …` or
 * npm start's). A wrong value stops the function with a message naming the
 * variable. The database is OMS_AUDIT_DB_URL, the runtime role's URL; Supabase's
 * own SUPABASE_DB_URL connects as its privileged postgres role, which the
 * function refuses to write as (handler.ts) unless explicitly allowed.
 */
import { z } from 'zod';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes'].includes(v)));

const int = (fallback: number, min = 0) => z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(min).default(fallback);

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL');

const schema = z.object({
  /** The runtime role's URL (oms_audit_runtime), set as a secret. */
  OMS_AUDIT_DB_URL: postgresUrl.optional(),
  /** Supabase injects it into every function: the postgres role, which may change the trail. */
  SUPABASE_DB_URL: postgresUrl.optional(),
  /** Write even when the database URL's role could change the trail. */
  OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: bool(false),
  /**
   * The project's JWT secret. Set: trusted back-ends may write with a service-role JWT (HS256).
   * Unset: API keys only. Hosted projects reserve the SUPABASE_ prefix for their own
   * variables, so there it is set as OMS_AUDIT_JWT_SECRET.
   */
  OMS_AUDIT_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SUPABASE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How long a verified API key is trusted before it is checked again. */
  API_KEY_CACHE_SECONDS: int(10),
  /** Per API key (or per tenant for service-role writes), events per second, sustained; bursts up to twice this. */
  RATE_LIMIT_WRITE_EVENTS_PER_SEC: int(50_000, 1),
  /** Connections this function instance opens. */
  DB_POOL_MAX: int(4, 1),
  /** Prepared statements; off by default so the function also works through a transaction pooler. */
  DB_PREPARE: bool(false),
  /** Group commit: a small group waits up to this long for more events while the tenant's previous one commits (0: never). */
  GROUP_COMMIT_LINGER_MS: int(2),
  /** Take the client IP from X-Forwarded-For. On Supabase the platform's proxy sets it; npm start sets false. */
  TRUST_PROXY: bool(true),
  /** Resident memory (MB) the function's process is sized to stay under (Supabase's hosted limit is 256 MB). */
  MEMORY_LIMIT_MB: int(256, 128),
  /** Bytes charged to write requests in flight (body and what parsing makes of it); more are answered 503. Default: (MEMORY_LIMIT_MB − 96) MiB. */
  MAX_INFLIGHT_WRITE_BYTES: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1024 * 1024, 'must be at least 1048576 (1 MiB)').optional(),
  /** Write requests handled at once, whatever their size. */
  MAX_INFLIGHT_WRITES: int(64, 1),
  /** Browser origins allowed to call the function, comma-separated, or * for any. */
  CORS_ALLOWED_ORIGINS: z.string().default('*'),
});

export type AuditLoggerConfig = z.output<typeof schema> & {
  jwtSecret?: string;
  databaseUrl: string;
  /** Which variable the URL came from, for messages. */
  databaseUrlVariable: 'OMS_AUDIT_DB_URL' | 'SUPABASE_DB_URL';
};

export function parseConfig(source: Record<string, string | undefined>): AuditLoggerConfig {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment for audit-logger:\n${lines.join('\n')}`);
  }
  const { OMS_AUDIT_DB_URL, SUPABASE_DB_URL } = result.data;
  const databaseUrl = OMS_AUDIT_DB_URL ?? SUPABASE_DB_URL;
  if (!databaseUrl) {
    throw new Error('Invalid environment for audit-logger:\n  OMS_AUDIT_DB_URL: required: the URL of the oms_audit_runtime role (supabase secrets set OMS_AUDIT_DB_URL=…)');
  }
  return {
    ...result.data,
    jwtSecret: result.data.OMS_AUDIT_JWT_SECRET ?? result.data.SUPABASE_JWT_SECRET,
    databaseUrl,
    databaseUrlVariable: OMS_AUDIT_DB_URL ? 'OMS_AUDIT_DB_URL' : 'SUPABASE_DB_URL',
  };
}
