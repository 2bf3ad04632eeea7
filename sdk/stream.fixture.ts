/**
 * An app process for sdk/crash.test.ts: a sustained log() stream of COUNT
 * events. Prints `sent <id>` for each event as log() returns it, and
 * `acked <n>` whenever flush() confirms that the first n are stored; `done`
 * once every event is stored.   BASE_URL, API_KEY, COUNT
 */
import { createAuditClient } from './index.ts';

const audit = createAuditClient({
  baseUrl: process.env.BASE_URL!,
  apiKey: process.env.API_KEY!,
  flushIntervalMs: 10,
  retry: { baseMs: 50, maxMs: 400 },
  onRetry: () => {},
});
const count = Number(process.env.COUNT);
let sent = 0;
let producing = true;

const acknowledging = (async () => {
  while (producing) {
    const upTo = sent;
    await audit.flush();
    console.log(`acked ${upTo}`);
    await new Promise((r) => setTimeout(r, 20));
  }
})();

for (let i = 0; i < count; i++) {
  const id = await audit.log({ actor_id: 'fix-engine', actor_type: 'SERVICE', object_type: 'ORDER', object_id: `ORD-${i}`, event_type: 'FILL', context: { seq: i } });
  sent++;
  console.log(`sent ${id}`);
  if (i % 25 === 24) await new Promise((r) => setTimeout(r, 10));
}
producing = false;
await acknowledging;
await audit.flush();
console.log('done');
process.exit(0);
