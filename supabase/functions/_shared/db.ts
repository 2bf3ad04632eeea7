/**
 * postgres.js settings and the tenant-scoped transaction, shared by the server
 * (Node) and the audit-logger edge function (Deno).
 */
import net from 'node:net';
import postgres from 'postgres';
import { pgTimestampToIso } from './timestamps.ts';
import { canonicalIp } from './ip.ts';
import { isConnectionError } from './errors.ts';

export type Sql = postgres.Sql<Record<string, unknown>>;
export type TxSql = postgres.TransactionSql<Record<string, unknown>>;
export type AnySql = Sql | TxSql;

/** Timestamps stay canonical µs strings, bigints become numbers (seq < 2^53), inet is canonical. */
export const PG_TYPES = {
  timestamptz: { to: 1184, from: [1184], serialize: (x: unknown) => String(x), parse: pgTimestampToIso },
  int8: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) },
  inet: { to: 869, from: [869], serialize: (x: unknown) => String(x), parse: (x: string) => canonicalIp(x) ?? x },
};

export interface ConnectOptions {
  /** Pool size. */
  max?: number;
  /** false through a transaction pooler (Supabase's port 6543). */
  prepare?: boolean;
  applicationName?: string;
  connectTimeoutSeconds?: number;
}

/**
 * TCP sockets with Nagle's algorithm off. postgres.js leaves it on, and a small
 * write (COMMIT, the end of a COPY) queued behind a large one then waits for the
 * server's delayed ACK: tens of milliseconds per transaction.
 */
function noDelaySocket(options: { host: string[]; port: number[]; path?: string | false }): net.Socket {
  const socket = options.path ? net.connect(options.path) : net.connect(options.port[0]!, options.host[0]!);
  try {
    socket.setNoDelay(true);
  } catch {
    // A runtime whose node:net lacks it (Deno has it) keeps Nagle's algorithm: slower commits, same results.
  }
  return socket;
}

const urls = new WeakMap<object, string>();

/** The URL a pool was opened with (for helpers that need a connection of their own). */
export function connectionUrl(sql: Sql): string {
  const url = urls.get(sql);
  if (!url) throw new Error('connectionUrl: this pool was not opened with connect()');
  return url;
}

export function connect(url: string, options: ConnectOptions = {}): Sql {
  const sql = postgres(url, {
    // Accepted by postgres.js, missing from its type definitions.
    ...({ socket: noDelaySocket } as object),
    max: options.max ?? 10,
    prepare: options.prepare ?? true,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: 60,
    // Seconds before reconnecting after a failed connection. postgres.js's default grows to 20 s
    // (3^n / 100), so a short database restart would leave requests waiting long after it is back.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    types: PG_TYPES,
    onnotice: () => {},
    connection: { TimeZone: 'UTC', application_name: options.applicationName ?? 'oms-audit' },
  }) as unknown as Sql;
  urls.set(sql, url);
  return sql;
}

/**
 * Hands a reserved connection back to the pool, unless `failure` says its
 * connection was lost: postgres.js has then already set the connection aside
 * to reconnect, and releasing it would queue the next query on a socket that
 * no longer exists (the pool would hang, or the process crash, once the
 * database is back).
 */
export function releaseReserved(conn: postgres.ReservedSql<Record<string, unknown>>, failure: unknown): void {
  if (failure !== undefined && isConnectionError(failure)) return;
  conn.release();
}

/** Claims a tenant-scoped transaction runs under; row-level security reads `tenant_id`. */
export interface TenantClaims {
  tenant_id: string;
  /** The principal: a user id, or `key:<api key id>`. */
  sub: string;
  role: 'authenticated';
  /** The principal's role within the tenant (viewer, auditor, admin) or the key's scopes. */
  tenant_role?: string;
  scopes?: string[];
}

/**
 * Runs `fn` in a transaction as the `authenticated` role with the caller's
 * claims in `request.jwt.claims`, so row-level security confines every
 * statement to the caller's tenant, whatever the SQL says.
 */
export async function withTenant<T>(sql: Sql, claims: TenantClaims, fn: (tx: TxSql) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    await becomeTenant(tx, claims);
    return fn(tx);
  })) as T;
}

/** From here to the end of the transaction `tx`: the `authenticated` role with the caller's claims. */
export function becomeTenant(tx: TxSql, claims: TenantClaims) {
  return tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
}

const NEEDS_ESCAPE = /[\\"]/;

/** Backslashes, then quotes, preceded by a backslash (plain string replacements: several times faster than a regex's `$&`). */
const arrayEscaped = (v: string) => (v.includes('\\') ? v.replaceAll('\\', '\\\\') : v).replaceAll('"', '\\"');

/**
 * A PostgreSQL array literal of text values, built by hand (postgres.js's own
 * array encoding is slow for big batches). `pick` reads each item's value.
 */
export function pgArray<T>(items: ReadonlyArray<T>, pick: (item: T) => string | null): string {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    if (i) out += ',';
    const v = pick(items[i]!);
    if (v === null || v === undefined) out += 'NULL';
    else out += '"' + (NEEDS_ESCAPE.test(v) ? arrayEscaped(v) : v) + '"';
  }
  return out + '}';
}

/**
 * A JSON array of JSON texts (`pick` returns each item's JSON, never null):
 * no escaping on this side, and PostgreSQL reads each element as jsonb once.
 */
export function jsonArray<T>(items: ReadonlyArray<T>, pick: (item: T) => string): string {
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) parts[i] = pick(items[i]!);
  return '[' + parts.join(',') + ']';
}
