/**
 * Structured JSON logs (pino) on stdout. Request ids tie log lines to the
 * request_id recorded on events; keys, passwords, tokens and cookies are
 * redacted, and personal data is never logged on purpose.
 */
import pino, { type Logger } from 'pino';

function create(): Logger {
  return pino({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service: 'oms-audit' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', 'apikey', 'cookie', 'password', 'key', 'token', '*.authorization', '*.apikey', '*.cookie', '*.password', '*.key', '*.token', 'headers.authorization', 'headers.cookie'],
      censor: '[redacted]',
    },
  });
}

const holder = globalThis as typeof globalThis & { __omsAuditLog?: Logger };

export function log(): Logger {
  holder.__omsAuditLog ??= create();
  return holder.__omsAuditLog;
}
