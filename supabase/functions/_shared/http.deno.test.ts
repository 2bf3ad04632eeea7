/** Body reading under Deno's Request streams: the limit holds without a Content-Length. */
import assert from 'node:assert/strict';
import { AuditError } from './errors.ts';
import { readJsonBody } from './http.ts';

function streamed(chunks: string[]): Request {
  const encoder = new TextEncoder();
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[pulled++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(encoder.encode(chunk));
    },
  });
  return new Request('http://localhost/', { method: 'POST', body });
}

async function rejection(promise: Promise<unknown>): Promise<AuditError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AuditError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

Deno.test('reads a streamed JSON body, multi-byte characters split across chunks included', async () => {
  const text = JSON.stringify({ events: [{ actor_id: '注文-🚀' }] });
  const bytes = new TextEncoder().encode(text);
  const cut = bytes.indexOf(0xf0) + 2; // inside the 4-byte emoji
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, cut));
      controller.enqueue(bytes.slice(cut));
      controller.close();
    },
  });
  assert.deepEqual(await readJsonBody(new Request('http://localhost/', { method: 'POST', body }), 1024), JSON.parse(text));
});

Deno.test('stops reading a streamed body as soon as it exceeds the limit', async () => {
  const chunk = 'x'.repeat(1024);
  let produced = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      produced++;
      controller.enqueue(new TextEncoder().encode(chunk));
    },
  });
  const err = await rejection(readJsonBody(new Request('http://localhost/', { method: 'POST', body }), 4096));
  assert.equal(err.status, 413);
  assert.ok(produced < 10, `read ${produced} chunks of an endless body`);
});

Deno.test('malformed JSON is a 400 naming the problem', async () => {
  const err = await rejection(readJsonBody(streamed(['{"events": [', '{]']), 1024));
  assert.equal(err.status, 400);
  assert.equal(err.code, 'malformed_json');
});
