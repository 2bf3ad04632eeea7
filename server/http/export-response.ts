/** Turns a started export into an HTTP response: streamed body, file name, manifest URL. */
import type { Readable } from 'node:stream';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { recordExport } from '@/server/services/console-audit.ts';
import type { StartedExport } from '@/server/services/export.ts';

export const MANIFEST_HEADER = 'X-Audit-Manifest';

export function manifestPath(exportId: string): string {
  return `/api/v1/audit/exports/${exportId}/manifest`;
}

/** A pull-based web stream over a Node stream: the next chunk is read only when the client takes one (backpressure). */
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
    { highWaterMark: 1 },
  );
}

/** Streams the export, and records it in the tenant's trail when it completes or fails. */
export function exportResponse(req: Request, sql: Sql, tenantId: string, started: StartedExport, observed: ObservedClient): Response {
  void started.done
    .then((manifest) => recordExport(sql, tenantId, manifest, observed))
    .catch((err: unknown) => console.error('[oms-audit] recording an export failed:', err));
  const origin = new URL(req.url).origin;
  return new Response(toWebStream(started.stream), {
    headers: {
      'content-type': started.mediaType,
      'content-disposition': `attachment; filename="${started.fileName}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      [MANIFEST_HEADER]: `${origin}${manifestPath(started.id)}`,
      'x-audit-export-id': started.id,
    },
  });
}
