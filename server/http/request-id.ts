/** Request ids: what the server accepts from `x-request-id` and records on events as their default request_id (shared with the edge function). */
export { REQUEST_ID_HEADER, validRequestId } from '@/supabase/functions/_shared/credentials.ts';
