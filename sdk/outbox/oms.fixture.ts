/**
 * An OMS process for sdk/outbox/crash.test.ts: WORKERS concurrent workers
 * commit COUNT order changes in all, each a transaction that bumps one of
 * ORDERS orders' version and logs its FILL event through the outbox in the
 * same transaction. Every tenth transaction logs its event and then rolls
 * back (event_type ROLLED_BACK: it must never reach the trail). Prints `done`
 * when all are committed. PER_SECOND paces the transactions begun (0: as fast as
 * it can), so a run lasts long enough to be interrupted where the test means to
 * on a fast machine too.
 *   DATABASE_URL (the OMS application's role), COUNT, WORKERS, ORDERS, PER_SECOND
 */
import postgres from 'postgres';
import { outbox } from './writer.ts';

const count = Number(process.env.COUNT);
const workers = Number(process.env.WORKERS ?? 4);
const orders = Number(process.env.ORDERS ?? 100);
const perSecond = Number(process.env.PER_SECOND ?? 0);
const startedAt = Date.now();
let begun = 0;
/** Waits for this transaction's turn at PER_SECOND. */
async function pace(): Promise<void> {
  if (!perSecond) return;
  const due = startedAt + (begun++ / perSecond) * 1000;
  if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
}
const sql = postgres(process.env.DATABASE_URL!, { max: workers, onnotice: () => {} });

class RolledBack extends Error {}

let remaining = count;
async function worker(): Promise<void> {
  let n = 0;
  while (remaining > 0) {
    remaining--;
    const orderId = `O-${Math.floor(Math.random() * orders)}`;
    const rollBack = ++n % 10 === 0;
    await pace();
    try {
      await sql.begin(async (tx) => {
        const [row] = await tx`
          insert into orders (id, status, quantity, version) values (${orderId}, 'NEW', 100, 1)
          on conflict (id) do update set quantity = orders.quantity + 100, version = orders.version + 1, updated_at = now()
          returning version`;
        await outbox(tx).log({
          actor_id: 'fix-engine',
          actor_type: 'SERVICE',
          object_type: 'ORDER',
          object_id: orderId,
          event_type: rollBack ? 'ROLLED_BACK' : 'FILL',
          context: { version: row!.version as number, quantity: 100 },
        });
        if (rollBack) throw new RolledBack();
      });
    } catch (err) {
      if (!(err instanceof RolledBack)) throw err;
      remaining++;
    }
  }
}

await Promise.all(Array.from({ length: workers }, worker));
await sql.end();
console.log('done');
