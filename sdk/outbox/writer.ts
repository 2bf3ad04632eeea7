/**
 * outbox(tx).log(event): an audit event written in the OMS's own transaction,
 * so it exists if and only if the order change it describes committed. It
 * goes through the outbox's SQL function (schema.ts), like every other
 * writer's, which gives it its id and time; the relay ships it later.
 *
 * Before anything reaches the database the event is checked against the
 * event contract the server applies (field names, lengths, type names,
 * timestamps, context size), so a mistake shows in the OMS at once, not as
 * a parked event later. What only the server can decide (its credential's
 * tenant, reserved event types) is decided when the relay delivers it; an
 * event refused then is parked in the outbox with the server's answer.
 */
import { auditEventInput, type AuditEventRequest } from '../../supabase/functions/_shared/contract.ts';
import { invalid, issuesFromZod, type FieldIssue } from '../../supabase/functions/_shared/errors.ts';
import { AuditClientError } from '../errors.ts';
import { creationEvent, statusChangeEvent, updateEvent, type CreationInput, type StatusChangeInput, type UpdateInput } from '../helpers.ts';
import { transactionQuery, type OutboxTransaction } from './database.ts';

export interface OutboxOptions {
  /**
   * Check each event against the server's event contract before inserting it
   * (default true). Without it only the SQL function's checks apply (an
   * object with the five required fields, an id that is a UUID).
   */
  validate?: boolean;
  /** Fields every event gets unless it sets them itself, e.g. `{ source: 'oms-eu-1' }`. */
  defaults?: Partial<AuditEventRequest>;
}

export interface OutboxWriter {
  /** Inserts the event in the transaction; resolves with its id (UUID). */
  log(event: AuditEventRequest): Promise<string>;
  /** Inserts the events in the transaction, in order; resolves with their ids. */
  logBulk(events: readonly AuditEventRequest[]): Promise<string[]>;
  logCreation(input: CreationInput): Promise<string>;
  logUpdate(input: UpdateInput): Promise<string>;
  logStatusChange(input: StatusChangeInput): Promise<string>;
}

export interface Outbox {
  /** The writer for one transaction: a pg client inside BEGIN, or the tx of postgres.js sql.begin(). */
  outbox(tx: OutboxTransaction): OutboxWriter;
}

const LOG_SQL = 'select oms_audit_outbox.log($1::text::jsonb)::text as id';
const LOG_MANY_SQL = 'select oms_audit_outbox.log_many($1::text::jsonb)::text[] as ids';

/** The contract's verdict on events about to be logged; throws naming every bad event (in a bulk call) and field. */
function check(events: readonly AuditEventRequest[]): void {
  const issues: FieldIssue[] = [];
  events.forEach((event, index) => {
    const result = auditEventInput.safeParse(event);
    if (!result.success) issues.push(...issuesFromZod(result.error, { batch: false }).map((i) => (events.length > 1 ? { ...i, index } : i)));
  });
  if (!issues.length) return;
  const error = invalid(issues.slice(0, 100), events.length > 1 ? 'batch' : 'event');
  throw new AuditClientError(`${error.message}. Nothing was logged.`, error.code, error.status, error.issues);
}

export function createOutbox(options: OutboxOptions = {}): Outbox {
  const validate = options.validate ?? true;
  const defaults = options.defaults ?? {};
  const complete = (event: AuditEventRequest): AuditEventRequest => {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new AuditClientError('The event was not logged: an event must be an object', 'invalid_request', 400, [{ field: '(event)', message: 'must be a JSON object' }]);
    }
    return { ...defaults, ...event };
  };
  return {
    outbox(tx) {
      const query = transactionQuery(tx);
      async function log(event: AuditEventRequest): Promise<string> {
        const full = complete(event);
        if (validate) check([full]);
        const [row] = await query(LOG_SQL, [JSON.stringify(full)]);
        return row!.id as string;
      }
      async function logBulk(events: readonly AuditEventRequest[]): Promise<string[]> {
        if (!events.length) return [];
        const full = events.map(complete);
        if (validate) check(full);
        const [row] = await query(LOG_MANY_SQL, [JSON.stringify(full)]);
        return row!.ids as string[];
      }
      return {
        log,
        logBulk,
        logCreation: (input) => log(creationEvent(input)),
        logUpdate: (input) => log(updateEvent(input)),
        logStatusChange: (input) => log(statusChangeEvent(input)),
      };
    },
  };
}

const plain = createOutbox();

/** `outbox(tx).log(event)` with the default options (the contract checked, no default fields). */
export function outbox(tx: OutboxTransaction): OutboxWriter {
  return plain.outbox(tx);
}
