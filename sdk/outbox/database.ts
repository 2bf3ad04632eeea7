/**
 * The OMS's database as the outbox sees it, whichever PostgreSQL client the
 * OMS uses: node-postgres (`pg`) or postgres.js (`postgres`), both optional
 * peer dependencies of the SDK. The types here are structural, so the
 * package's declarations need neither library.
 *
 * - A transaction, for writers: a pg client inside BEGIN, or postgres.js's
 *   `tx` of `sql.begin(tx => …)`.
 * - A source, for the relay and the administrative calls: a pg Pool,
 *   postgres.js's `sql`, or a connection string (opened with whichever of
 *   the two is installed, postgres.js first). A relay holds one session of
 *   it for as long as it runs: its leader lock is that session's.
 */

/** A node-postgres client (pg.Client, or a pool's client), inside BEGIN when used for writing. */
export interface PgClientLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(text: string, values?: any[]): Promise<{ rows: any[] }>;
}

/** A node-postgres pool (pg.Pool). */
export interface PgPoolLike extends PgClientLike {
  connect(): Promise<PgClientLike & { release(destroy?: boolean | Error): void }>;
  readonly totalCount: number;
  end(): Promise<void>;
}

/** postgres.js: `sql` (from postgres()), or a transaction's `tx`. */
export interface PostgresJsLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  unsafe(query: string, parameters?: any[]): PromiseLike<any>;
}

/** Where an OMS transaction's statements go: a pg client inside BEGIN, or postgres.js's `tx`. */
export type OutboxTransaction = PgClientLike | PostgresJsLike;

/** The OMS database for a relay or an administrative call: a pg Pool, postgres.js's `sql`, or a connection string. */
export type OutboxSource = string | PgPoolLike | PostgresJsLike;

export type Row = Record<string, unknown>;
export type Param = string | number | null;
export type Query = (text: string, params?: Param[]) => Promise<Row[]>;

/** One connection, kept for a while (a relay's leader lock is held by it). */
export interface Session {
  query: Query;
  /** Gives the connection back; it holds no advisory lock afterwards. */
  close(): Promise<void>;
}

export interface OutboxDatabase {
  session(): Promise<Session>;
  /** Closes what was opened for a connection string; a pool or `sql` handed in stays open. */
  end(): Promise<void>;
}

const isPostgresJs = (x: unknown): x is PostgresJsLike & { reserve?: () => Promise<PostgresJsLike & { release(): void }>; begin?: unknown; savepoint?: unknown } =>
  typeof x === 'function' && typeof (x as unknown as PostgresJsLike).unsafe === 'function';

const isPgPool = (x: unknown): x is PgPoolLike =>
  typeof x === 'object' && x !== null && typeof (x as PgPoolLike).connect === 'function' && 'totalCount' in x;

const isPgClient = (x: unknown): x is PgClientLike => typeof x === 'object' && x !== null && typeof (x as PgClientLike).query === 'function';

/**
 * The statements of a writer's transaction. Refuses what is certainly not
 * a transaction (a pool, postgres.js's root `sql`): an event logged there
 * would commit on its own, whatever became of the order change.
 */
export function transactionQuery(tx: OutboxTransaction): Query {
  if (isPostgresJs(tx)) {
    if (typeof tx.begin === 'function' && typeof tx.savepoint !== 'function') {
      throw new TypeError("outbox(tx) needs the transaction, not postgres.js's sql: call it inside sql.begin(async (tx) => …) with that tx");
    }
    return async (text, params) => [...((await tx.unsafe(text, params ?? [])) as Row[])];
  }
  if (isPgPool(tx)) {
    throw new TypeError('outbox(tx) needs the client that ran BEGIN (const client = await pool.connect()), not the pool: a pool runs each query on any connection, outside the transaction');
  }
  if (isPgClient(tx)) return async (text, params) => (await tx.query(text, params ?? [])).rows as Row[];
  throw new TypeError('outbox(tx) takes a node-postgres client inside BEGIN or the tx of postgres.js sql.begin()');
}

function postgresJsDatabase(sql: PostgresJsLike & { reserve?: () => Promise<PostgresJsLike & { release(): void }> }, close: () => Promise<void>): OutboxDatabase {
  if (typeof sql.reserve !== 'function') throw new TypeError('The outbox source must be postgres.js sql (with reserve(), postgres.js 3.4 or newer), a pg Pool or a connection string');
  return {
    async session() {
      const reserved = await sql.reserve!();
      const query: Query = async (text, params) => [...((await reserved.unsafe(text, params ?? [])) as Row[])];
      return {
        query,
        async close() {
          // The connection goes back to the pool: without the session's advisory locks (a dead one holds none).
          await query('select pg_advisory_unlock_all()').catch(() => {});
          reserved.release();
        },
      };
    },
    end: close,
  };
}

function pgPoolDatabase(pool: PgPoolLike, close: () => Promise<void>): OutboxDatabase {
  return {
    async session() {
      const client = await pool.connect();
      return {
        query: async (text, params) => (await client.query(text, params ?? [])).rows as Row[],
        // The connection is closed rather than reused: whatever the session held goes with it.
        close: async () => client.release(true),
      };
    },
    end: close,
  };
}

const notInstalled = (err: unknown) => ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'].includes((err as NodeJS.ErrnoException).code ?? '');

/** Opens a connection string with postgres.js, or with node-postgres when only that is installed. */
async function fromUrl(url: string, applicationName: string): Promise<OutboxDatabase> {
  try {
    const { default: postgres } = await import('postgres');
    const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { application_name: applicationName } });
    return postgresJsDatabase(sql as unknown as PostgresJsLike, () => sql.end({ timeout: 5 }));
  } catch (err) {
    if (!notInstalled(err)) throw err;
  }
  try {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url, max: 2, application_name: applicationName });
    // An idle connection that fails (the database restarted) must not crash the process.
    pool.on('error', () => {});
    return pgPoolDatabase(pool as unknown as PgPoolLike, () => pool.end());
  } catch (err) {
    if (!notInstalled(err)) throw err;
  }
  throw new Error('A connection string needs a PostgreSQL client: install postgres (postgres.js) or pg (node-postgres) beside @oms-audit/sdk');
}

export async function openDatabase(source: OutboxSource, applicationName = 'oms-audit-outbox'): Promise<OutboxDatabase> {
  if (typeof source === 'string') return fromUrl(source, applicationName);
  if (isPostgresJs(source)) return postgresJsDatabase(source, async () => {});
  if (isPgPool(source)) return pgPoolDatabase(source, async () => {});
  throw new TypeError('The outbox source must be a connection string, postgres.js sql or a pg Pool');
}

/** Runs `work` on one session of `source`, then gives everything back. */
export async function withSession<T>(source: OutboxSource, work: (query: Query) => Promise<T>): Promise<T> {
  const db = await openDatabase(source);
  try {
    const session = await db.session();
    try {
      return await work(session.query);
    } finally {
      await session.close();
    }
  } finally {
    await db.end();
  }
}
