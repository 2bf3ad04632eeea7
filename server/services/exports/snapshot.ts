/**
 * One consistent view of a tenant's trail for the whole of an export.
 *
 * A coordinating transaction (repeatable read, read only, as the tenant under
 * row-level security) first takes ACCESS SHARE locks on audit_events and
 * restored_events — a month's partition is dropped, or a restored copy
 * released, only under an exclusive lock, so neither can happen while the
 * export runs — and then exports its snapshot. It answers the plan's queries
 * (archived parts, expired months) and stays open until the export ends.
 *
 * Each COPY runs on a connection of its own that imports that snapshot
 * (`SET TRANSACTION SNAPSHOT`) and is closed, not committed, once its COPY
 * has delivered its last byte: postgres.js can leave a connection's socket
 * paused after a COPY ends under backpressure, so nothing may run on it
 * afterwards. Every statement of the export thus sees exactly the same rows.
 */
import type { Readable } from 'node:stream';
import { connect, connectionUrl, type Sql, type TenantClaims, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { asUnavailable } from '@/supabase/functions/_shared/errors.ts';
import { COPY_PARAMS_SETTING } from '../filters/postgres.ts';

export interface CopyStream {
  /** One CopyData message per row. */
  rows: Readable;
  /** Stops PostgreSQL and lets the connection go (for an aborted export). */
  cancel(): void;
  /** Settles when the connection is closed. */
  closed: Promise<void>;
}

export interface ExportSnapshot {
  claims: TenantClaims;
  /** Queries inside the coordinating transaction. */
  tx: TxSql;
  /** Runs `statement` (a COPY … TO STDOUT) on its own connection in the same snapshot; `params` fills the filter setting. */
  copy(statement: string, params: string): Promise<CopyStream>;
  /** Ends the coordinating transaction. */
  close(): Promise<void>;
}


/**
 * `resolve` runs first in the snapshot, as the server's own role, before the
 * transaction becomes the tenant's: the export's sealed values are resolved
 * there (personal/search.ts), in the snapshot the export reads.
 */
export async function openSnapshot(sql: Sql, claims: TenantClaims, resolve?: (tx: TxSql) => Promise<void>): Promise<ExportSnapshot> {
  const url = connectionUrl(sql);
  const coordinator = connect(url, { max: 1, prepare: false, applicationName: 'oms-audit-export' });
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let ready!: (value: { tx: TxSql; snapshot: string }) => void;
  const opened = new Promise<{ tx: TxSql; snapshot: string }>((resolve) => (ready = resolve));
  const transaction = coordinator.begin('isolation level repeatable read read only', async (tx) => {
    // Neither SET nor LOCK takes the snapshot: it is taken by the first query, after the locks are held.
    await tx`set local role authenticated`;
    await tx`lock table public.audit_events, public.restored_events in access share mode`;
    if (resolve) {
      await tx`set local role none`;
      await resolve(tx);
      await tx`set local role authenticated`;
    }
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true), set_config('plan_cache_mode', 'force_custom_plan', true)`;
    const [row] = await tx`select pg_export_snapshot() as id`;
    ready({ tx, snapshot: row!.id as string });
    await held;
  });
  const ended = transaction.then(
    () => undefined,
    (err: unknown) => err,
  );
  const first = await Promise.race([opened, ended.then((err) => Promise.reject(asUnavailable(err ?? new Error('the export transaction ended early'))))]).catch(async (err: unknown) => {
    await coordinator.end({ timeout: 0 }).catch(() => {});
    throw err;
  });
  const { tx, snapshot } = first;

  async function copy(statement: string, params: string): Promise<CopyStream> {
    const connection = connect(url, { max: 1, prepare: false, applicationName: 'oms-audit-export-copy' });
    try {
      await connection.unsafe('begin isolation level repeatable read read only');
      await connection.unsafe(`set transaction snapshot '${snapshot.replace(/[^0-9A-Fa-f-]/g, '')}'`);
      await connection`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                              set_config(${COPY_PARAMS_SETTING}, ${params}, true)`;
      const query = connection.unsafe(statement);
      const rows = (await query.readable()) as unknown as Readable;
      const closed = new Promise<void>((resolve) => {
        const close = () => void connection.end({ timeout: 0 }).then(resolve, () => resolve());
        rows.once('end', close);
        rows.once('error', close);
        rows.once('close', close);
      });
      return { rows, cancel: () => void Promise.resolve(query.cancel()).catch(() => {}), closed };
    } catch (err) {
      await connection.end({ timeout: 0 }).catch(() => {});
      throw asUnavailable(err);
    }
  }

  return {
    claims,
    tx,
    copy,
    close: async () => {
      release();
      await ended;
      await coordinator.end({ timeout: 5 }).catch(() => {});
    },
  };
}
