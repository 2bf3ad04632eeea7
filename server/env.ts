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

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL');
/** Bytes of write requests in flight when MAX_INFLIGHT_WRITE_BYTES is not set: what MEMORY_LIMIT_MB leaves after the idle server and room for reads, exports and collection. */
export function writeBudgetBytes(e: Pick<Env, 'MEMORY_LIMIT_MB' | 'MAX_INFLIGHT_WRITE_BYTES'>): number {
  return e.MAX_INFLIGHT_WRITE_BYTES ?? Math.max(32, e.MEMORY_LIMIT_MB - MEMORY_NOT_FOR_WRITES_MB) * 1024 * 1024;
}

/** Resident memory of the idle server (about 190 MB: Next.js, the pools) plus headroom for reads, exports, verification and garbage not yet collected. */
const MEMORY_NOT_FOR_WRITES_MB = 512;

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  /**
   * An external PostgreSQL (a Supabase project, a Debian server), as the runtime role
   * oms_audit_runtime: what the server, the edge function and everyday CLI commands use.
   * Unset: embedded PostgreSQL.
   */
  DATABASE_URL: postgresUrl.optional(),
  /** The same database as oms_audit_owner (or a role that may act as it): migrations and DDL only. */
  DATABASE_OWNER_URL: postgresUrl.optional(),
  /**
   * A streaming replica of DATABASE_URL's database, as the runtime role: the console's and the API's searches
   * (event lists, single events, object histories, counts, facets) read there; writes, sealing, retention,
   * exports and everything else stay on DATABASE_URL. Unset: everything on DATABASE_URL.
   */
  DATABASE_READ_URL: postgresUrl.optional(),
  /** How long a search waits for the replica to replay every write acknowledged before it began; then it reads from the primary. */
  DATABASE_READ_MAX_WAIT_MS: int(1000, 0),
  /** Serve even when DATABASE_URL connects as a superuser, the owner, or a role that may change the trail. */
  OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: bool(false),
  /** Where embedded PostgreSQL, generated secrets and local archives live. */
  OMS_AUDIT_DATA_DIR: z.string().min(1).default('.data'),
  /** Port of embedded PostgreSQL (Supabase's local stack uses 54322 too). */
  OMS_AUDIT_PG_PORT: int(54322, 1),
  /**
   * Run as root, embedded PostgreSQL runs as the OS user "postgres": when that user cannot reach the data
   * folder or node_modules (a checkout in a 0700 folder), its cluster and binaries go here instead.
   */
  OMS_AUDIT_PG_HOME: z.string().min(1).default('/var/lib/oms-audit'),
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
  /** Write requests handled at once by this process; more are answered 503 with Retry-After (bounded memory under overload). */
  MAX_INFLIGHT_WRITES: int(256, 1),
  /** Resident memory (MB) the server process is sized to stay under; the write budget below is derived from it. */
  MEMORY_LIMIT_MB: int(768, 512),
  /** Bytes charged to write requests in flight (body and what parsing makes of it); more are answered 503. Default: (MEMORY_LIMIT_MB − 512) MiB. */
  MAX_INFLIGHT_WRITE_BYTES: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1024 * 1024, 'must be at least 1048576 (1 MiB)').optional(),
  /** Integrity verifications running at once in this process (each tenant runs at most one; callers meanwhile share its result). */
  MAX_CONCURRENT_VERIFICATIONS: int(2, 1),
  /** Exports streaming at once in this process (each holds a database connection and a snapshot). */
  MAX_CONCURRENT_EXPORTS: int(4, 1),
  /** Exports streaming at once per tenant: below MAX_CONCURRENT_EXPORTS, so no tenant can take every slot. */
  EXPORTS_PER_TENANT: int(2, 1),
  /** An export whose reader takes nothing for this long is ended (marked failed) and its slot freed; 0 never ends one. */
  EXPORT_STALL_SECONDS: int(60, 0),
  /** Milliseconds the console's search shape (histogram and value counts) may take counting exactly; look-ups included; beyond, it answers with labelled estimates from a sample. */
  SHAPE_BUDGET_MS: int(70, 1),
  /** Matching events (the planner's estimate) above which the shape goes straight to the sample instead of counting exactly. */
  SHAPE_EXACT_ROWS: int(20_000, 0),
  /** Matching events the shape's sample aims to see (time windows read through the tenant's own index, sized from the planner's estimate). */
  SHAPE_SAMPLE_ROWS: int(2000, 1),
  /** Seconds "Count exactly" (the shape without its budget, in an export slot) may take. */
  SHAPE_EXACT_TIMEOUT_SECONDS: int(60, 1),
  /** How long a verified API key is trusted before it is checked again (revocation delay elsewhere). */
  API_KEY_CACHE_SECONDS: int(10, 0),
  /** Ed25519 private key (PEM) that signs integrity checkpoints; or a file holding it. Default: generated into the data folder. */
  OMS_AUDIT_SIGNING_KEY: z.string().includes('PRIVATE KEY', { error: 'must be a PEM private key' }).optional(),
  OMS_AUDIT_SIGNING_KEY_FILE: z.string().optional(),
  /** Public keys (PEM) of earlier signing keys whose checkpoints still verify. */
  OMS_AUDIT_TRUSTED_PUBLIC_KEYS: z.string().optional(),
  /** Seconds between sealing runs: every committed event is under a signed checkpoint within this time. */
  INTEGRITY_SEAL_INTERVAL_SECONDS: int(20, 1),
  /** Minutes between the server's verifications of every tenant, each of what was sealed since the last one (0: never). */
  INTEGRITY_VERIFY_EVERY_MINUTES: int(60, 0),
  /** Hours after which the server's scheduled verification of a tenant checks everything again instead (0: never). */
  INTEGRITY_FULL_VERIFY_EVERY_HOURS: int(168, 0),
  /** Where month archives go: file:///path or s3://bucket/prefix. Default with embedded PostgreSQL: <data dir>/archive. */
  ARCHIVE_URL: z
    .string()
    .regex(/^(file:\/\/\/.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, 'must be file:///absolute/path or s3://bucket[/prefix]')
    .optional(),
  /** S3-compatible endpoint (MinIO, Supabase Storage, …); unset: AWS. */
  ARCHIVE_S3_ENDPOINT: z.string().url('must be a URL').optional(),
  ARCHIVE_S3_REGION: z.string().default('us-east-1'),
  /** Unset: the AWS SDK's usual sources (AWS_ACCESS_KEY_ID, profiles, instance roles). */
  ARCHIVE_S3_ACCESS_KEY_ID: z.string().optional(),
  ARCHIVE_S3_SECRET_ACCESS_KEY: z.string().optional(),
  ARCHIVE_S3_FORCE_PATH_STYLE: bool(false),
  /** Write archives under S3 Object Lock (compliance mode): auto = when the bucket has Object Lock enabled. */
  ARCHIVE_S3_OBJECT_LOCK: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Where signed checkpoints and retention records are anchored (write-once objects); default: <archive location>/anchors. */
  ANCHOR_URL: z
    .string()
    .regex(/^(file:\/\/\/.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, 'must be file:///absolute/path or s3://bucket[/prefix]')
    .optional(),
  /** An RFC 3161 time-stamp authority: each anchored checkpoint and retention record is time-stamped by it. */
  ANCHOR_TSA_URL: z.url({ error: 'must be a URL' }).optional(),
  /** PEM certificate(s) of the time-stamp authority or its CA; tokens signed under any other are refused. Required with ANCHOR_TSA_URL. */
  ANCHOR_TSA_CA_FILE: z.string().optional(),
  /** How long a sealed checkpoint or issued record may wait for its anchor before verification reports it. */
  ANCHOR_GRACE_SECONDS: int(600, 1),
  /** Operator floor: no tenant may set a total retention shorter than this. */
  RETENTION_MIN_TOTAL_YEARS: int(6, 1),
  /** Minutes between the server's retention runs (archive, verify, drop, expire); 0 turns them off. */
  RETENTION_RUN_EVERY_MINUTES: int(360, 0),
  /** Days the per-minute clock evidence (clock_skew_minutes, docs/clock.md) is kept; older minutes are purged hourly. At least 2. */
  CLOCK_EVIDENCE_KEEP_DAYS: int(400, 2),
  /** Group commit: a small group waits up to this long for more events while the tenant's previous one commits (0: never). */
  GROUP_COMMIT_LINGER_MS: int(2, 0),
  /** Serve the audit-logger edge function under Deno beside the server (npm start). */
  OMS_AUDIT_FUNCTIONS: bool(true),
  /** Port of the local edge functions (Supabase's local stack uses 54321 too): /functions/v1/audit-logger. */
  FUNCTIONS_PORT: int(54321, 1),
  /** The project's JWT secret: lets trusted back-ends write through the edge function with a service-role JWT. */
  OMS_AUDIT_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** HS256 secret of console sessions and Supabase JWTs. Unset: generated into <data dir>/secrets/jwt-secret. */
  SUPABASE_JWT_SECRET: z.string().min(32, 'must have at least 32 characters').optional(),
  /** Also accept asymmetric JWTs (RS256/ES256) signed by the keys at this JWKS URL, e.g. Supabase Auth's. */
  SUPABASE_JWKS_URL: z.url({ error: 'must be a URL' }).optional(),
  /** Lifetime of a console sign-in. */
  SESSION_HOURS: int(8, 1),
  /** Bearer token that /api/metrics requires; unset: metrics are served to loopback clients only. */
  METRICS_TOKEN: z.string().min(16, 'must have at least 16 characters').optional(),
  /** Minutes between recalibrations of tenants' measured network delay (docs/clock.md); 0: this server runs none. */
  CLOCK_CALIBRATION_EVERY_MINUTES: int(60, 0),
  /** Log streams (docs/streams.md): milliseconds between this server's delivery rounds; 0: this server delivers none. */
  STREAM_POLL_INTERVAL_MS: int(1000, 0),
  /** Streams one server process delivers at once (each stream has one worker across all processes). */
  STREAM_WORKERS: int(4, 1),
  /** Timeout of one delivery request (HTTP or S3). */
  STREAM_REQUEST_TIMEOUT_SECONDS: int(15, 1),
  /** Retries wait an exponentially growing time from this base, with jitter, up to STREAM_RETRY_MAX_SECONDS. */
  STREAM_RETRY_BASE_MS: int(1000, 1),
  STREAM_RETRY_MAX_SECONDS: int(300, 1),
  /** A stream whose deliveries have failed for this long is marked failing (console, metrics). */
  STREAM_FAILING_AFTER_SECONDS: int(300, 1),
  /** Bytes of event JSON per batch (a batch always holds at least one event). */
  STREAM_MAX_BATCH_BYTES: int(1_048_576, 1024),
  /** Allow http:// and destinations in loopback, private and link-local ranges (receivers inside your own network). */
  STREAM_ALLOW_PRIVATE_NETWORKS: bool(false),
  /** AES-256 key (base64 of 32 bytes) encrypting stream credentials. Unset: generated into <data dir>/secrets/stream-secrets-key. */
  STREAM_SECRETS_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  /** AES-256 master key (base64 of 32 bytes) wrapping the tenants' personal-data keys (docs/personal-data.md). */
  OMS_AUDIT_MASTER_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  /** A file holding the master key (base64). Neither set: generated once into <data dir>/secrets/master-key. */
  OMS_AUDIT_MASTER_KEY_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The console's address as people reach it (https://audit.example.com): links in invitation mails and printed by the CLI. */
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Mail invitations through this SMTP server: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465. Unset: links are only shown. */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/.+/, 'must be smtp://… or smtps://…')
    .optional(),
  /** Sender of invitation mails. */
  SMTP_FROM: z.string().default('oms-audit <oms-audit@localhost>'),
}).superRefine((env, ctx) => {
  // The runtime and the owner are two roles: the server must not hold the owner's rights.
  if (env.DATABASE_OWNER_URL && !env.DATABASE_URL) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: "required with DATABASE_OWNER_URL: the runtime role's URL (oms_audit_runtime); DATABASE_OWNER_URL is for migrations only" });
  }
  if (env.DATABASE_OWNER_URL && env.DATABASE_OWNER_URL === env.DATABASE_URL && !env.OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_OWNER_URL'], message: 'must differ from DATABASE_URL: the server connects as oms_audit_runtime, migrations as oms_audit_owner' });
  }
  // A link in a mail must not be built from a request's Host header (an attacker chooses it).
  if (env.SMTP_URL && !env.PUBLIC_URL) ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'is required when SMTP_URL is set (the address in invitation mails)' });
  if (env.ANCHOR_TSA_URL && !env.ANCHOR_TSA_CA_FILE) {
    ctx.addIssue({ code: 'custom', path: ['ANCHOR_TSA_CA_FILE'], message: 'is required with ANCHOR_TSA_URL: the certificate(s) that time-stamp tokens must chain to' });
  }
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
  const { EXPORTS_PER_TENANT, MAX_CONCURRENT_EXPORTS } = result.data;
  if (MAX_CONCURRENT_EXPORTS > 1 && EXPORTS_PER_TENANT >= MAX_CONCURRENT_EXPORTS) {
    throw new Error(`Invalid environment:\n  EXPORTS_PER_TENANT: must be below MAX_CONCURRENT_EXPORTS (${MAX_CONCURRENT_EXPORTS}), or one tenant could hold every export slot`);
  }
  return result.data;
}

export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
