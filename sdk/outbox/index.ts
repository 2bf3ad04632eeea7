/**
 * `@oms-audit/sdk/outbox` (Node): the transactional outbox in the OMS's own
 * PostgreSQL. An audit event is inserted in the transaction of the order
 * change it describes (outbox(tx).log(event)), so it exists if and only if
 * that change committed; a relay ships it to oms-audit and removes it once
 * stored. Works with node-postgres (`pg`) and postgres.js (`postgres`),
 * optional peer dependencies: install the one the OMS uses. How an OMS
 * adopts it, the SQL objects and the relay's guarantees: docs/outbox.md.
 */
export { createOutbox, outbox } from './writer.ts';
export type { Outbox, OutboxOptions, OutboxWriter } from './writer.ts';
export { startRelay, OutboxNotReadyError } from './relay.ts';
export type { ParkedError, ParkedEvent, Relay, RelayOptions, RelayRole, RelayStats } from './relay.ts';
export { installOutbox, outboxStatus, retryParked } from './admin.ts';
export { registerRelayMetrics } from './metrics.ts';
export type { PromClientLike, RelayMetricsOptions } from './metrics.ts';
export type { OutboxStatus, ParkedEventInfo } from './admin.ts';
export { outboxSql, OUTBOX_SCHEMA, OUTBOX_SCHEMA_VERSION, RELAY_LOCK_KEY } from './schema.ts';
export type { OutboxGrants } from './schema.ts';
export type { OutboxSource, OutboxTransaction, PgClientLike, PgPoolLike, PostgresJsLike } from './database.ts';
export { AuditClientError } from '../errors.ts';
export type { AuditEventRequest } from '../../supabase/functions/_shared/contract.ts';
export type { FieldIssue } from '../../supabase/functions/_shared/errors.ts';
export type { CreationInput, StatusChangeInput, UpdateInput } from '../helpers.ts';
