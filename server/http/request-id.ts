/** Request ids: what the server accepts from `x-request-id` and records on events as their default request_id. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Short and plain (letters, digits, . _ : -): safe in logs, headers and the stored event. */
export function validRequestId(value: string): boolean {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(value);
}
