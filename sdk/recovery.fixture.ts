/**
 * An app process for sdk/crash.test.ts's recovery check: logs an event every
 * 10 ms through the SDK with its default settings (retries included) until
 * it reads `flush` on stdin; then stops logging, calls flush() and prints
 * `flushed <ids as JSON>` once it returns.   BASE_URL, API_KEY
 */
import { createInterface } from 'node:readline';
import { createAuditClient } from './index.ts';

const audit = createAuditClient({ baseUrl: process.env.BASE_URL!, apiKey: process.env.API_KEY!, onRetry: () => {} });
const ids: string[] = [];
let producing = true;

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'flush') producing = false;
});

console.log('started');
for (let i = 0; producing; i++) {
  ids.push((await audit.log({ actor_id: 'fix-engine', actor_type: 'SERVICE', object_type: 'ORDER', object_id: `ORD-${i}`, event_type: 'FILL' }))!);
  await new Promise((r) => setTimeout(r, 10));
}
await audit.flush();
console.log(`flushed ${JSON.stringify(ids)}`);
process.exit(0);
