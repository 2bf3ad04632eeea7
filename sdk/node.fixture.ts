/**
 * A small app process for sdk/node.test.ts: logs COUNT events through the SDK
 * (fire-and-forget), prints their ids, and drains on SIGTERM.
 *   BASE_URL, API_KEY, COUNT, [SPILL_DIR], [DRAIN_TIMEOUT_MS], [FLUSH_INTERVAL_MS]
 */
import { createAuditClient } from './index.ts';
import { drainOnExit, fileSpill } from './node.ts';

const env = process.env;
const audit = createAuditClient({
  baseUrl: env.BASE_URL!,
  apiKey: env.API_KEY!,
  flushIntervalMs: Number(env.FLUSH_INTERVAL_MS ?? 50),
  retry: { baseMs: 50, maxMs: 200 },
  ...(env.SPILL_DIR ? { spill: fileSpill(env.SPILL_DIR) } : {}),
});
drainOnExit(audit, { timeoutMs: Number(env.DRAIN_TIMEOUT_MS ?? 10_000), onDone: (result) => console.log(`drained ${JSON.stringify(result)}`) });

const ids: (string | null)[] = [];
for (let i = 0; i < Number(env.COUNT); i++) {
  ids.push(await audit.log({ actor_id: 'fix-engine', actor_type: 'SERVICE', object_type: 'ORDER', object_id: `ORD-${i}`, event_type: 'FILL' }));
}
console.log(`logged ${JSON.stringify(ids)}`);
// Stays up like a server would, until it is told to stop.
setInterval(() => {}, 60_000);
