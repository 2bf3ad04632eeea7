/**
 * Structured JSON logs (pino) on stdout. Request ids tie log lines to the
 * request_id recorded on events; keys, passwords, tokens and cookies are
 * redacted, and personal data is never logged on purpose.
 *
 * Lines are buffered and written in blocks (at 4 KiB, at least every 100 ms,
 * and when the process exits): one write per line cost a system call per
 * request, a noticeable share of a single event's CPU. A process killed with
 * SIGKILL loses at most the last 100 ms of lines.
 */
import pino, { type Logger } from 'pino';

/** How long a line may wait in the buffer. */
export const LOG_FLUSH_MS = 100;

interface Logs {
  log: Logger;
  requests: Logger;
}

function create(): Logs {
  const destination = pino.destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: LOG_FLUSH_MS });
  process.once('exit', () => destination.flushSync());
  const options = { level: process.env.LOG_LEVEL ?? 'info', base: { service: 'oms-audit' }, timestamp: pino.stdTimeFunctions.isoTime };
  return {
    log: pino({
      ...options,
      redact: {
        paths: ['authorization', 'apikey', 'cookie', 'password', 'key', 'token', '*.authorization', '*.apikey', '*.cookie', '*.password', '*.key', '*.token', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
    }, destination),
    // One line per request, of fixed fields none of which is secret (request-log.ts): a redaction pass over
    // each would cost a noticeable share of a single event's CPU and find nothing.
    requests: pino(options, destination),
  };
}

const holder = globalThis as typeof globalThis & { __omsAuditLogs?: Logs };

export function log(): Logger {
  holder.__omsAuditLogs ??= create();
  return holder.__omsAuditLogs.log;
}

/** The request log's lines (request-log.ts), in the same stream as log()'s, without its redaction. */
export function requestLog(): Logger {
  holder.__omsAuditLogs ??= create();
  return holder.__omsAuditLogs.requests;
}
