/** Turns a started export into an HTTP response: streamed body, file name, manifest URL. */
import type { Readable } from 'node:stream';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { recordExport } from '@/server/services/console-audit.ts';
import { env } from '@/server/env.ts';
import type { StartedExport } from '@/server/services/export.ts';
import { bundleExport } from '@/server/services/integrity/bundle.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { log } from '@/server/observability/log.ts';


/** The zone of every time in an export file: always UTC. */
export const TIME_ZONE_HEADER = 'x-audit-time-zone';
/** The zone the requester shows times in (time_zone=…; the manifest's display_time_zone), for the record. */
export const DISPLAY_TIME_ZONE_HEADER = 'x-audit-display-time-zone';
export const MANIFEST_HEADER = 'X-Audit-Manifest';

export function manifestPath(exportId: string): string {
  return `/api/v1/audit/exports/${exportId}/manifest`;
}

/** The origin the client used (Host header; behind a trusted proxy, X-Forwarded-*). */
export function publicOrigin(req: Request): string {
  const url = new URL(req.url);
  const trusted = env().TRUST_PROXY;
  const proto = (trusted && req.headers.get('x-forwarded-proto')?.split(',')[0]?.trim()) || url.protocol.replace(':', '');
  const host = (trusted && req.headers.get('x-forwarded-host')) || req.headers.get('host') || url.host;
  return `${proto}://${host}`;
}

/** A pull-based web stream over a Node stream, a few chunks ahead of the client (backpressure; one chunk ahead made PostgreSQL wait). */
export function toWebStream(stream: Readable): ReadableStream<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await chunks.next();
          if (done) controller.close();
          else controller.enqueue(value as Uint8Array);
        } catch (err) {
          controller.error(err);
        }
      },
      cancel(reason) {
        stream.destroy(reason instanceof Error ? reason : new Error('The client went away'));
      },
    },
    { highWaterMark: 4 },
  );
}

/** Streams the export, and records it in the tenant's trail when it completes or fails. */
export function exportResponse(req: Request, sql: Sql, tenantId: string, started: StartedExport, observed: ObservedClient): Response {
  void started.done
    .then((manifest) => recordExport(sql, tenantId, manifest, observed))
    .catch((err: unknown) => log().error({ request_id: observed.requestId, err: (err as Error)?.message }, 'recording an export failed'));
  const origin = publicOrigin(req);
  return new Response(toWebStream(started.stream), {
    headers: {
      'content-type': started.mediaType,
      'content-disposition': `attachment; filename="${started.fileName}"`,
      // no-transform: the file goes out as hashed, never recompressed on the way (and without the CPU cost).
      'cache-control': 'no-store, no-transform',
      'x-content-type-options': 'nosniff',
      [MANIFEST_HEADER]: `${origin}${manifestPath(started.id)}`,
      'x-audit-export-id': started.id,
      // Every time in an export is UTC (ISO 8601 with Z), whatever zone the console shows.
      [TIME_ZONE_HEADER]: 'UTC',
      [DISPLAY_TIME_ZONE_HEADER]: started.displayTimeZone,
    },
  });
}

/** The export as a verifiable bundle (a zip), streamed as it is built. */
export function bundleResponse(req: Request, sql: Sql, tenantId: string, started: StartedExport, observed: ObservedClient): Response {
  void started.done
    .then((manifest) => recordExport(sql, tenantId, manifest, observed))
    .catch((err: unknown) => log().error({ request_id: observed.requestId, err: (err as Error)?.message }, 'recording an export failed'));
  const bundle = bundleExport(sql, started, signer());
  return new Response(toWebStream(bundle.stream), {
    headers: {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="${bundle.fileName}"`,
      'cache-control': 'no-store, no-transform',
      'x-content-type-options': 'nosniff',
      [MANIFEST_HEADER]: `${publicOrigin(req)}${manifestPath(started.id)}`,
      'x-audit-export-id': started.id,
      [TIME_ZONE_HEADER]: 'UTC',
      [DISPLAY_TIME_ZONE_HEADER]: started.displayTimeZone,
    },
  });
}
