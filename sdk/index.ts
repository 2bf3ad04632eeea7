/** oms-audit client SDK: import from Node or a browser bundle. Node extras (file spill, drain on exit) are in ./node.ts. */
export { createAuditClient } from './client.ts';
export type { AuditClient, AuditClientOptions, CallResult, LogBulkResult, QueryFilters, ShutdownResult } from './client.ts';
export { AuditBulkError, AuditClientError } from './errors.ts';
export { changedFields, creationEvent, statusChangeEvent, updateEvent } from './helpers.ts';
export type { CreationInput, EventSubject, StatusChangeInput, UpdateInput } from './helpers.ts';
export type { PipelineStats } from './pipeline.ts';
export type { SpillSegment, SpillStore } from './spill.ts';
export type { EventPage } from './transport.ts';
export type { AuditEvent, AuditEventRequest, IngestResult } from '../supabase/functions/_shared/contract.ts';
export type { FieldIssue } from '../supabase/functions/_shared/errors.ts';
