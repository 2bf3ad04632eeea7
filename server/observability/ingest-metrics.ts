/**
 * Ingest metrics: the shared write path reports through its optional observer
 * (registered here, by the Node server), and the entry points report the
 * requests refused before they reach it (bad input, credentials, rate limits).
 */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { IngestMethod } from '@/supabase/functions/_shared/contract.ts';
import { setIngestObserver } from '@/supabase/functions/_shared/ingest.ts';
import { metrics } from './metrics.ts';

/** The `path` label: how the events came in. */
export type IngestPath = 'rest' | 'trpc' | 'edge_function' | 'single' | 'cli';

const PATH_OF: Record<IngestMethod, IngestPath> = { rest: 'rest', trpc: 'trpc', edge_function: 'edge_function', group_commit: 'single', cli: 'cli' };

/** The `outcome` label of a refused or failed write request. */
export function batchOutcome(err: unknown): string {
  if (!(err instanceof AuditError)) return 'error';
  switch (err.code) {
    case 'unauthorized':
    case 'forbidden':
      return 'unauthorized';
    case 'rate_limited':
      return 'rate_limited';
    case 'unavailable':
      return 'unavailable';
    case 'internal':
      return 'error';
    default:
      return 'invalid';
  }
}

// Errors the write path has already counted, so an entry point that sees them again does not count them twice.
const counted = new WeakSet<object>();

export function registerIngestMetrics(): void {
  const m = metrics();
  setIngestObserver({
    batch({ method, ok, error, events, created, duplicates, seconds }) {
      const path = PATH_OF[method] ?? method;
      m.ingestBatchSeconds.observe({ path }, seconds);
      if (ok) {
        m.ingestBatches.inc({ path, outcome: 'ok' });
        if (created) m.ingestEvents.inc({ path, outcome: 'created' }, created);
        if (duplicates) m.ingestEvents.inc({ path, outcome: 'duplicate' }, duplicates);
        return;
      }
      const outcome = batchOutcome(error);
      m.ingestBatches.inc({ path, outcome });
      m.ingestEvents.inc({ path, outcome: outcome === 'invalid' || outcome === 'unauthorized' ? 'rejected' : 'failed' }, events);
      if (error && typeof error === 'object') counted.add(error);
    },
    groupCommitted({ events, queued }) {
      m.groupCommitSize.observe(events);
      m.groupCommitQueued.set(queued);
    },
  });
}

/** A write request refused before (or failed in) the write path; counted once whatever layer sees it first. */
export function recordIngestFailure(path: IngestPath, err: unknown): void {
  const key = err instanceof Error && err.cause && typeof err.cause === 'object' ? err.cause : err;
  if (key && typeof key === 'object') {
    if (counted.has(key)) return;
    counted.add(key);
  }
  metrics().ingestBatches.inc({ path, outcome: batchOutcome(key) });
}
