/** Reading archived rows back as the events every read API returns. */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import { canonicalIp } from '@/supabase/functions/_shared/ip.ts';
import { literal } from './duckdb.ts';
import { ARCHIVE_COLUMNS } from './format.ts';

export type ArchivedEvent = AuditEvent & { archived: true };

const TIMESTAMP_FORMAT = `'%Y-%m-%dT%H:%M:%S.%fZ'`;

/**
 * The same columns as one JSON array per row: DuckDB encodes it natively and
 * JSON.parse decodes it, several times faster than converting each value
 * through the DuckDB client (verification reads every archived row).
 */
export const ARCHIVE_JSON = `json_array(${ARCHIVE_COLUMNS.map(([field, type]) =>
  type === 'TIMESTAMPTZ' ? `strftime(${field}, ${TIMESTAMP_FORMAT})` : field === 'context' || field === 'personal' ? `${field}::json` : field,
).join(', ')})::varchar`;

/**
 * The rows of archive files as one relation with every current column. Parts
 * written before a column existed (written_by: before schema version 2; personal:
 * before version 3) read it as NULL, so every reader works on archives of any age.
 */
export function archiveRelation(files: readonly string[]): string {
  return `(select * from read_parquet([${files.map(literal).join(', ')}], union_by_name = true) union all by name select null::VARCHAR as written_by, null::VARCHAR as personal where false)`;
}

/** A row of ARCHIVE_JSON as an event. */
export function archivedEventFromJson(text: string): ArchivedEvent {
  const r = JSON.parse(text) as unknown[];
  const s = (v: unknown) => (v === null ? null : (v as string));
  const addr = (v: unknown) => (v === null ? null : (canonicalIp(v as string) ?? (v as string)));
  return {
    id: r[0] as string,
    tenant_id: r[1] as string,
    seq: r[2] as number,
    occurred_at: r[3] as string,
    received_at: r[4] as string,
    actor_type: r[5] as string,
    actor_id: r[6] as string,
    object_type: r[7] as string,
    object_id: r[8] as string,
    event_type: r[9] as string,
    outcome: r[10] as AuditEvent['outcome'],
    source: s(r[11]),
    request_id: s(r[12]),
    ip_address: addr(r[13]),
    user_agent: s(r[14]),
    device_fingerprint: s(r[15]),
    observed_ip: addr(r[16]),
    observed_user_agent: s(r[17]),
    context: r[18] as Record<string, unknown>,
    schema_version: r[19] as number,
    written_by: s(r[20]),
    personal: (r[21] ?? null) as Record<string, unknown> | null,
    archived: true,
  };
}

/** Reads the JSON rows of a DuckDB result, chunk by chunk. */
export async function* jsonRows(result: AsyncIterable<{ getColumnValues(i: number): unknown[] }>): AsyncGenerator<ArchivedEvent> {
  for await (const chunk of result) for (const text of chunk.getColumnValues(0)) yield archivedEventFromJson(text as string);
}
