/**
 * Where log() puts events when its memory buffer is full, instead of making
 * callers wait: segments of events, written once, read back in order, removed
 * once every event in them is stored. Segments left by a process that died are
 * sent on the next start (event ids make that idempotent). `fileSpill` in
 * ./node.ts keeps them in a folder.
 */
import type { AuditEventRequest } from '../supabase/functions/_shared/contract.ts';

export interface SpillSegment {
  name: string;
  count: number;
}

export interface SpillStore {
  /** Segments already stored (by an earlier run), oldest first. */
  list(): Promise<SpillSegment[]>;
  /** Stores events as a new segment, durably, and names it. */
  write(events: AuditEventRequest[]): Promise<SpillSegment>;
  read(name: string): Promise<AuditEventRequest[]>;
  remove(name: string): Promise<void>;
}
