/**
 * Prometheus metrics (prom-client), one registry per process, kept on
 * globalThis so Next.js module copies and the start script share it.
 * Names follow Prometheus conventions: oms_audit_<area>_<what>_<unit>.
 */
import client from 'prom-client';

function create() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'oms_audit_process_' });
  const m = {
    registry,
    ingestEvents: new client.Counter({ name: 'oms_audit_ingest_events_total', help: 'Events received for writing, by path and outcome (created, duplicate, rejected)', labelNames: ['path', 'outcome'] as const, registers: [registry] }),
    ingestBatches: new client.Counter({ name: 'oms_audit_ingest_batches_total', help: 'Write requests, by path and outcome (ok, invalid, unauthorized, rate_limited, unavailable, error)', labelNames: ['path', 'outcome'] as const, registers: [registry] }),
    ingestBatchSeconds: new client.Histogram({ name: 'oms_audit_ingest_batch_seconds', help: 'Time to stamp and commit a write request, by path', labelNames: ['path'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    writeBytesInFlight: new client.Gauge({ name: 'oms_audit_write_bytes_in_flight', help: 'Memory charged to write requests in flight (write admission; MAX_INFLIGHT_WRITE_BYTES is the limit)', registers: [registry] }),
    writeRequestsInFlight: new client.Gauge({ name: 'oms_audit_write_requests_in_flight', help: 'Write requests in flight (write admission; MAX_INFLIGHT_WRITES is the limit)', registers: [registry] }),
    groupCommitQueued: new client.Gauge({ name: 'oms_audit_group_commit_queued_events', help: 'Events waiting for their tenant\'s next group commit', registers: [registry] }),
    groupCommitSize: new client.Histogram({ name: 'oms_audit_group_commit_events', help: 'Events committed per transaction', buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 2500, 5000], registers: [registry] }),
    queryDurationSeconds: new client.Histogram({ name: 'oms_audit_query_duration_seconds', help: 'Read requests by procedure', labelNames: ['procedure'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    exportRows: new client.Counter({ name: 'oms_audit_export_rows_total', help: 'Rows written to exports, by format', labelNames: ['format'] as const, registers: [registry] }),
    sealerLagSeconds: new client.Gauge({ name: 'oms_audit_sealer_lag_seconds', help: 'Age of the oldest committed event not yet under a signed checkpoint', registers: [registry] }),
    searchReads: new client.Counter({ name: 'oms_audit_search_reads_total', help: 'Searches by where they read: replica, or primary (no replica configured, or the replica lagged or failed)', labelNames: ['source'] as const, registers: [registry] }),
    checkpointsSealed: new client.Counter({ name: 'oms_audit_checkpoints_sealed_total', help: 'Signed checkpoints closed', registers: [registry] }),
    archiveParts: new client.Gauge({ name: 'oms_audit_archive_parts', help: 'Archive parts (pieces of tenant-months) by retention state', labelNames: ['state'] as const, registers: [registry] }),
    dbPoolConnections: new client.Gauge({ name: 'oms_audit_db_pool_connections', help: 'Connections of the server pool (application_name oms-audit-server) as PostgreSQL sees them, by state', labelNames: ['state'] as const, registers: [registry] }),
    dbPoolMax: new client.Gauge({ name: 'oms_audit_db_pool_max_connections', help: 'Size limit of this process\'s PostgreSQL pool (DB_POOL_MAX)', registers: [registry] }),
    streamDeliveries: new client.Counter({ name: 'oms_audit_stream_deliveries_total', help: 'Log stream delivery attempts by stream, format and outcome (ok, status, timeout, network, refused)', labelNames: ['stream', 'format', 'outcome'] as const, registers: [registry] }),
    streamEvents: new client.Counter({ name: 'oms_audit_stream_events_delivered_total', help: 'Events acknowledged by log stream receivers (re-sent ones included)', labelNames: ['stream', 'format'] as const, registers: [registry] }),
    streamDeliverySeconds: new client.Histogram({ name: 'oms_audit_stream_delivery_seconds', help: 'Time of one log stream delivery attempt, by format', labelNames: ['format'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 30], registers: [registry] }),
    streamFailing: new client.Gauge({ name: 'oms_audit_stream_failing', help: '1 for a log stream whose deliveries have failed for longer than STREAM_FAILING_AFTER_SECONDS, else 0', labelNames: ['stream', 'tenant', 'format'] as const, registers: [registry] }),
    streamPendingEvents: new client.Gauge({ name: 'oms_audit_stream_pending_events', help: 'Sealed events a log stream has not delivered yet', labelNames: ['stream', 'tenant', 'format'] as const, registers: [registry] }),
    streamFailingSeconds: new client.Gauge({ name: 'oms_audit_stream_failing_seconds', help: 'How long a log stream\'s deliveries have been failing (0 when its last attempt succeeded)', labelNames: ['stream', 'tenant', 'format'] as const, registers: [registry] }),
    clockSkewSeconds: new client.Gauge({ name: 'oms_audit_clock_skew_seconds', help: 'received_at − occurred_at of a source\'s events over the last 5 complete minutes (stat: min, mean, max; negative: the source\'s clock is ahead), by tenant, source and writing credential', labelNames: ['tenant', 'source', 'written_by', 'stat'] as const, registers: [registry] }),
    clockSkewEvents: new client.Gauge({ name: 'oms_audit_clock_skew_events', help: 'Events with their own occurred_at over the last 5 complete minutes, by tenant, source and writing credential', labelNames: ['tenant', 'source', 'written_by'] as const, registers: [registry] }),
    clockSkewFlagged: new client.Gauge({ name: 'oms_audit_clock_skew_flagged_events', help: 'Events over the last 5 complete minutes whose clock was beyond the tenant\'s tolerance (direction: ahead, behind)', labelNames: ['tenant', 'source', 'written_by', 'direction'] as const, registers: [registry] }),
    clockRoundTripSeconds: new client.Gauge({ name: 'oms_audit_clock_round_trip_seconds', help: 'Network round trips the source\'s client reported (X-Audit-Round-Trip-Ms) over the last 5 complete minutes (stat: min, max): a bound on the delivery delay inside the skew', labelNames: ['tenant', 'source', 'written_by', 'stat'] as const, registers: [registry] }),
    clockToleranceSeconds: new client.Gauge({ name: 'oms_audit_clock_tolerance_seconds', help: 'The clock tolerance in force, by tenant (part: tolerance, network_delay, max_network_delay; measured: 1 if the network delay is measured from reported round trips, 0 if set by hand)', labelNames: ['tenant', 'part', 'measured'] as const, registers: [registry] }),
    clockSyncOffsetSeconds: new client.Gauge({ name: 'oms_audit_clock_sync_offset_seconds', help: 'The offset from its reference a source last reported in a CLOCK_SYNC event (within 2 days)', labelNames: ['tenant', 'source'] as const, registers: [registry] }),
    clockSyncAgeSeconds: new client.Gauge({ name: 'oms_audit_clock_sync_age_seconds', help: 'Time since a source\'s last CLOCK_SYNC report (within 2 days)', labelNames: ['tenant', 'source'] as const, registers: [registry] }),
    httpRequests: new client.Counter({ name: 'oms_audit_http_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'] as const, registers: [registry] }),
    httpRequestSeconds: new client.Histogram({ name: 'oms_audit_http_request_seconds', help: 'HTTP request duration by route', labelNames: ['route'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof create>;

const holder = globalThis as typeof globalThis & { __omsAuditMetrics?: Metrics };

export function metrics(): Metrics {
  holder.__omsAuditMetrics ??= create();
  return holder.__omsAuditMetrics;
}
