/**
 * What the SDK's type declarations say about the server's database client
 * (postgres.js): it appears only in the server-side context of AppRouter, so
 * the published declarations carry an opaque stand-in instead of the server's
 * dependency. Used by build.mjs only.
 */
declare namespace postgres {
  /** The server's database handle: server-side only, never seen by clients. */
  interface Sql<T = unknown> {
    readonly serverOnly: T;
  }
  type TransactionSql<T = unknown> = Sql<T>;
}
export default postgres;
