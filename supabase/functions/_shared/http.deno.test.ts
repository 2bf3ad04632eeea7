/** Body reading under Deno's Request streams: the limit holds without a Content-Length. */
import assert from 'node:assert/strict';
import { AuditError } from './errors.ts';
import { DISCARD_REST_MS, readJsonBody } from './http.ts';

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

/** A body of 1 KiB chunks, `limit` of them (endless when omitted), never ended; `cancelled` settles when the reader lets it go. */
function chunkedBody(limit = Infinity) {
  const chunk = new TextEncoder().encode('x'.repeat(1024));
  const state = { produced: 0 };
  let released!: () => void;
  const cancelled = new Promise<void>((resolve) => (released = resolve));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.produced < limit) {
        state.produced++;
        controller.enqueue(chunk);
      }
    },
    cancel: () => released(),
  });
  return { request: new Request('http://localhost/', { method: 'POST', body }), state, cancelled };
}

Deno.test('refuses a streamed body once it exceeds the limit, then drops at most as much again before releasing it', async () => {
  const { request, state, cancelled } = chunkedBody();
  const err = await rejection(readJsonBody(request, 4096));
  assert.equal(err.status, 413);
  // The rest is read and dropped (so the client still sending gets the 413, not a reset), up to the limit again.
  await cancelled;
  assert.ok(state.produced >= 5 && state.produced <= 11, `read ${state.produced} chunks of an endless body`);
});

Deno.test('releases a refused body whose client stops sending, after DISCARD_REST_MS', async () => {
  // Five chunks, then the client sends nothing more and never ends the body.
  const { request, cancelled } = chunkedBody(5);
  const started = performance.now();
  const err = await rejection(readJsonBody(request, 4096));
  assert.equal(err.status, 413);
  await cancelled;
  assert.ok(performance.now() - started >= DISCARD_REST_MS - 50, 'released before the discard time was up');
});

Deno.test('malformed JSON is a 400 naming the problem', async () => {
  const err = await rejection(readJsonBody(streamed(['{"events": [', '{]']), 1024));
  assert.equal(err.status, 400);
  assert.equal(err.code, 'malformed_json');
});
