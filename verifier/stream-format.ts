/**
 * The log-stream wire format (docs/streams.md), shared by the server that
 * sends batches and the standalone verifier that checks what a receiver kept.
 *
 * A batch is a header (what the operator signs, the checkpoints covering the
 * batch's events and the audit paths its events need) plus the events, in seq
 * order. Every stream format carries the same two kinds of records — one
 * header, then one record per event — wrapped the way its receiver expects:
 * one JSON document (webhook), HEC events (Splunk), log entries (Datadog) or
 * NDJSON lines (S3). This module is the one registry of those formats: each
 * encodes a batch; one decoder reads any of them back into records.
 */
import type { SignedCheckpoint } from '../supabase/functions/_shared/checkpoint.ts';

export const BATCH_TYPE = 'oms-audit.stream.batch';
export const BATCH_VERSION = 1;

/** What the operator's Ed25519 key signs (over its RFC 8785 form): which events of which stream a batch holds. */
export interface BatchStatement {
  type: typeof BATCH_TYPE;
  version: typeof BATCH_VERSION;
  stream_id: string;
  tenant_id: string;
  /** `<stream_id>:<seq_from>-<seq_to>`: the same for every retry of the batch. */
  batch_id: string;
  /** The first seq the stream delivers; every batch of a stream carries the same. */
  start_seq: number;
  seq_from: number;
  seq_to: number;
  event_count: number;
  key_id: string;
}

/** The statement's fields, in the order they are written. */
export const STATEMENT_FIELDS = ['type', 'version', 'stream_id', 'tenant_id', 'batch_id', 'start_seq', 'seq_from', 'seq_to', 'event_count', 'key_id'] as const;

/** An RFC 9162 audit path of one event in its checkpoint's tree (as in export bundles' proofs.jsonl). */
export interface EventProof {
  seq: number;
  checkpoint: number;
  leaf_index: number;
  audit_path: string[];
}

export interface BatchHeader extends BatchStatement {
  /** Base64 Ed25519 signature of the statement. */
  signature: string;
  /** PEM of the key that signed the statement (trust it only by its fingerprint). */
  public_key: string;
  /** The consecutive signed checkpoints covering seq_from..seq_to. */
  checkpoints: SignedCheckpoint[];
  /** Audit paths of the events whose checkpoint is not wholly inside this batch. */
  proofs: EventProof[];
}

/** An audit event exactly as the API returns it (every stored field, seq included). */
export type StreamEvent = Record<string, unknown> & { id: string; seq: number; tenant_id: string };

export interface StreamBatch {
  header: BatchHeader;
  events: StreamEvent[];
}

export function batchId(streamId: string, seqFrom: number, seqTo: number): string {
  return `${streamId}:${seqFrom}-${seqTo}`;
}

export function statementOf(header: BatchStatement): BatchStatement {
  return Object.fromEntries(STATEMENT_FIELDS.map((f) => [f, header[f]])) as unknown as BatchStatement;
}

/** The header as a plain object in its documented key order. */
function headerRecord(h: BatchHeader): BatchHeader {
  return { ...statementOf(h), signature: h.signature, public_key: h.public_key, checkpoints: h.checkpoints, proofs: h.proofs };
}

/** Settings that shape a format's records (not secrets). */
export interface EncodeOptions {
  /** Splunk: index; unset = the token's default index. */
  index?: string;
  /** Splunk `host`, Datadog `hostname`. */
  host?: string;
  /** Datadog `service`. */
  service?: string;
  /** Datadog: extra tags, `key:value` comma-separated. */
  tags?: string;
}

export interface StreamFormat {
  contentType: string;
  /** Most events one request may carry (the receiver's own limit). */
  maxEvents: number;
  /** The request body (or object) for a batch: the same bytes on every retry. */
  encode(batch: StreamBatch, options: EncodeOptions): string;
}

/** Epoch seconds with milliseconds, as Splunk's `time` takes them. */
const epochSeconds = (iso: string) => Math.round(Date.parse(iso)) / 1000;

/** The time a header record is filed under: when its last checkpoint was sealed (fixed, so retries are identical). */
const headerTime = (h: BatchHeader) => h.checkpoints[h.checkpoints.length - 1]?.sealed_at ?? new Date(0).toISOString();

export const STREAM_FORMATS = {
  /** One JSON document: the header's fields and `events`. Signed per Standard Webhooks by the transport. */
  webhook: {
    contentType: 'application/json',
    maxEvents: 1000,
    encode: (batch) => JSON.stringify({ ...headerRecord(batch.header), events: batch.events }),
  },
  /** Splunk HTTP Event Collector: one HEC event per record, newline-separated, header first. */
  splunk_hec: {
    contentType: 'application/json',
    maxEvents: 1000,
    encode: (batch, o) => {
      const wrap = (time: number, sourcetype: string, event: unknown) =>
        JSON.stringify({ time, ...(o.host ? { host: o.host } : {}), source: 'oms-audit', sourcetype, ...(o.index ? { index: o.index } : {}), event });
      return [
        wrap(epochSeconds(headerTime(batch.header)), 'oms-audit:batch', headerRecord(batch.header)),
        ...batch.events.map((e) => wrap(epochSeconds(String(e.occurred_at)), 'oms-audit:event', e)),
      ].join('\n');
    },
  },
  /** Datadog logs intake (v2): an array of log entries; each record is the entry's `message`, as JSON text. */
  datadog: {
    contentType: 'application/json',
    // The intake takes at most 1000 entries per request; one is the header.
    maxEvents: 999,
    encode: (batch, o) => {
      const entry = (kind: 'batch' | 'event', record: unknown) => ({
        ddsource: 'oms-audit',
        ddtags: [`oms_audit_stream:${batch.header.stream_id}`, `oms_audit_record:${kind}`, ...(o.tags ? [o.tags] : [])].join(','),
        ...(o.host ? { hostname: o.host } : {}),
        service: o.service ?? 'oms-audit',
        message: JSON.stringify(record),
      });
      return JSON.stringify([entry('batch', headerRecord(batch.header)), ...batch.events.map((e) => entry('event', e))]);
    },
  },
  /** S3 NDJSON: one object per batch; its first line is the header, then one event per line. */
  s3_ndjson: {
    contentType: 'application/x-ndjson',
    maxEvents: 1000,
    encode: (batch) => [JSON.stringify(headerRecord(batch.header)), ...batch.events.map((e) => JSON.stringify(e))].join('\n') + '\n',
  },
} satisfies Record<string, StreamFormat>;

export type StreamFormatName = keyof typeof STREAM_FORMATS;
export const STREAM_FORMAT_NAMES = Object.keys(STREAM_FORMATS) as StreamFormatName[];

/** S3 object key of a batch: seqs zero-padded, so keys sort in seq order. */
export function s3ObjectKey(prefix: string, streamId: string, seqFrom: number, seqTo: number): string {
  const pad = (n: number) => String(n).padStart(15, '0');
  return `${prefix ? `${prefix.replace(/\/+$/, '')}/` : ''}${streamId}/${pad(seqFrom)}-${pad(seqTo)}.ndjson`;
}

export interface DecodedRecords {
  headers: BatchHeader[];
  events: StreamEvent[];
  /** Values that are neither a header nor an event (described for the report). */
  unknown: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads one stored delivery of any format (a webhook body, an HEC body, a
 * Datadog array, an NDJSON object, or records one per line as a SIEM exports
 * them) back into headers and events.
 */
export function decodeDelivery(text: string): DecodedRecords {
  const out: DecodedRecords = { headers: [], events: [], unknown: [] };
  const visit = (value: unknown, where: string) => {
    if (Array.isArray(value)) return value.forEach((v, i) => visit(v, `${where}[${i}]`));
    if (!isObject(value)) return void out.unknown.push(where);
    if (value.type === BATCH_TYPE) {
      const { events, ...header } = value;
      out.headers.push(header as unknown as BatchHeader);
      if (Array.isArray(events)) events.forEach((e, i) => visit(e, `${where}.events[${i}]`));
      return;
    }
    // Splunk HEC wraps a record in `event`; Datadog carries it as JSON text in `message`.
    if (isObject(value.event) && ('sourcetype' in value || 'time' in value)) return visit(value.event, where);
    if (typeof value.message === 'string' && value.message.startsWith('{')) {
      try {
        return visit(JSON.parse(value.message), where);
      } catch {
        return void out.unknown.push(where);
      }
    }
    if (typeof value.id === 'string' && typeof value.seq === 'number' && typeof value.tenant_id === 'string') return void out.events.push(value as StreamEvent);
    out.unknown.push(where);
  };
  const trimmed = text.trim();
  if (!trimmed) return out;
  try {
    visit(JSON.parse(trimmed), 'document');
    return out;
  } catch {
    // Not one JSON document: one value per line (NDJSON, HEC).
  }
  trimmed.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      visit(JSON.parse(line), `line ${i + 1}`);
    } catch {
      out.unknown.push(`line ${i + 1} (not JSON)`);
    }
  });
  return out;
}
