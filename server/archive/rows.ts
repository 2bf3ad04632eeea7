/** Reading archived rows back as the events every read API returns. */
import type { DuckDBValue } from '@duckdb/node-api';
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import { canonicalIp } from '@/supabase/functions/_shared/ip.ts';
import { ARCHIVE_COLUMNS } from './format.ts';

export type ArchivedEvent = AuditEvent & { archived: true };

const TIMESTAMP_FORMAT = `'%Y-%m-%dT%H:%M:%S.%fZ'`;

/** The select list that yields every column in canonical order, timestamps as canonical µs strings. */
export const ARCHIVE_SELECT = ARCHIVE_COLUMNS.map(([field, type]) => (type === 'TIMESTAMPTZ' ? `strftime(${field}, ${TIMESTAMP_FORMAT}) as ${field}` : field)).join(', ');

const str = (v: DuckDBValue): string | null => (v === null ? null : String(v));
const ip = (v: DuckDBValue): string | null => (v === null ? null : (canonicalIp(String(v)) ?? String(v)));

/** A row of ARCHIVE_SELECT as an event. */
export function archivedEvent(row: DuckDBValue[]): ArchivedEvent {
  return {
    id: row[0] as string,
    tenant_id: row[1] as string,
    seq: Number(row[2] as bigint),
    occurred_at: row[3] as string,
    received_at: row[4] as string,
    actor_type: row[5] as string,
    actor_id: row[6] as string,
    object_type: row[7] as string,
    object_id: row[8] as string,
    event_type: row[9] as string,
    outcome: row[10] as AuditEvent['outcome'],
    source: str(row[11]!),
    request_id: str(row[12]!),
    ip_address: ip(row[13]!),
    user_agent: str(row[14]!),
    device_fingerprint: str(row[15]!),
    observed_ip: ip(row[16]!),
    observed_user_agent: str(row[17]!),
    context: JSON.parse(row[18] as string) as Record<string, unknown>,
    schema_version: Number(row[19]),
    archived: true,
  };
}
