/** The strict body rules under Deno's own TextDecoder and JSON.parse, as the edge function runs them. */
import assert from 'node:assert/strict';
import { AuditError } from './errors.ts';
import { parseJsonBody } from './http.ts';

function refusal(body: Uint8Array | string): AuditError {
  try {
    parseJsonBody(typeof body === 'string' ? new TextEncoder().encode(body) : body);
  } catch (err) {
    if (err instanceof AuditError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const event = (context: string) => `{"events":[{"actor_id":"a","actor_type":"USER","object_type":"ORDER","object_id":"o","event_type":"CREATE","context":${context}}]}`;

Deno.test('keeps numbers a double holds and refuses the others, naming event and path', () => {
  assert.deepEqual(parseJsonBody(new TextEncoder().encode(event('{"a":0.1,"b":150.00,"c":1e2}'))), JSON.parse(event('{"a":0.1,"b":150,"c":100}')));
  const err = refusal(event('{"qty":12345678901234567890}'));
  assert.equal(err.status, 400);
  assert.deepEqual(err.issues.map((i) => [i.index, i.field]), [[0, 'context.qty']]);
});

Deno.test('refuses duplicate keys, lone surrogates and invalid UTF-8', () => {
  assert.deepEqual(refusal(event('{"x":1,"x":2}')).issues[0]?.field, 'context.x');
  assert.deepEqual(refusal(event('{"x":"\\ud800"}')).issues[0]?.field, 'context.x');
  const bytes = new TextEncoder().encode(event('{"note":"cafX"}'));
  bytes[bytes.lastIndexOf(0x58)] = 0xe9;
  assert.deepEqual(refusal(bytes).issues[0]?.field, 'context.note');
});
