/**
 * The function's write admission under Deno: a declared body is charged up
 * front, a chunked one as the largest until it has arrived and then as its
 * real size, and a request the budget cannot take is refused with 503 +
 * Retry-After before its body is read.
 */
import assert from 'node:assert/strict';
import { AuditError } from '../_shared/errors.ts';
import { LIMITS } from '../_shared/limits.ts';
import { WriteBudget, writeCharge } from '../_shared/write-budget.ts';
import { admitWrite, functionWriteBudgetBytes } from './admission.ts';

const URL_ = 'http://localhost/functions/v1/audit-logger';
const MiB = 1024 * 1024;

Deno.test('derives the budget from the memory limit unless it is set', () => {
  assert.equal(functionWriteBudgetBytes(256), 160 * MiB);
  assert.equal(functionWriteBudgetBytes(256, 7 * MiB), 7 * MiB);
});

Deno.test('charges a declared body up front and refuses what the budget cannot take, with 503 and Retry-After', () => {
  const budget = new WriteBudget(writeCharge(MiB, LIMITS.edgeBatch) * 2, 10);
  const post = () => new Request(URL_, { method: 'POST', headers: { 'content-length': String(MiB) }, body: new Uint8Array(MiB) });
  const first = admitWrite(budget, post());
  const second = admitWrite(budget, post());
  assert.equal(budget.bytes, 2 * writeCharge(MiB, LIMITS.edgeBatch));
  assert.throws(() => admitWrite(budget, post()), (err: unknown) => err instanceof AuditError && err.status === 503 && err.retryAfter === 1);
  first.ticket.release();
  second.ticket.release();
  assert.equal(budget.bytes, 0);
});

Deno.test('charges a chunked body as the largest until it has arrived, then as the bytes that came', async () => {
  const budget = new WriteBudget(1024 * MiB, 10);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(1000));
      controller.enqueue(new Uint8Array(500));
      controller.close();
    },
  });
  const { ticket, req } = admitWrite(budget, new Request(URL_, { method: 'POST', body }));
  assert.equal(ticket.charge, writeCharge(LIMITS.edgeBodyBytes, LIMITS.edgeBatch));
  assert.equal((await req.arrayBuffer()).byteLength, 1500);
  assert.equal(ticket.charge, writeCharge(1500, LIMITS.edgeBatch));
  ticket.release();
});
