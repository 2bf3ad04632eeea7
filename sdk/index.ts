/**
 * oms-audit client SDK, the package's browser entry (`@oms-audit/sdk` in a
 * browser bundle, or `@oms-audit/sdk/browser`); the Node entry (index.node.ts)
 * adds a spill folder and draining on exit.
 */
export { createAuditClient } from './client.ts';
export type { AuditClient, AuditClientOptions, CallResult, LogBulkResult, QueryFilters, ShutdownResult } from './client.ts';
export { AuditBulkError, AuditClientError } from './errors.ts';
export { changedFields, creationEvent, statusChangeEvent, updateEvent } from './helpers.ts';
export type { CreationInput, EventSubject, StatusChangeInput, UpdateInput } from './helpers.ts';
export type { PipelineStats } from './pipeline.ts';
export type { SpillSegment, SpillStore } from './spill.ts';
export type { EventPage } from './transport.ts';
export type { AuditEvent, AuditEventRequest, IngestResult } from '../supabase/functions/_shared/contract.ts';
export type { ErrorCode, FieldIssue } from '../supabase/functions/_shared/errors.ts';
export type { EventFilters, SortOrder } from '../supabase/functions/_shared/filters.ts';
/** The server's tRPC router, for typed calls with @trpc/client (`createTRPCClient<AppRouter>`). Types only. */
export type { AppRouter } from '../server/routers/_app.ts';
