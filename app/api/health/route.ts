/** GET /api/health — 200 when the database answers and no migration is pending, 503 otherwise. */
import { db } from '@/server/db/client.ts';
import { json } from '@/server/http/rest.ts';
import { migrationStatus } from '@/server/db/migrate.ts';

export const dynamic = 'force-dynamic';

export async function GET() {
  const started = performance.now();
  try {
    const status = await migrationStatus(db());
    const ok = status.pending.length === 0;
    return json(
      {
        status: ok ? 'ok' : 'degraded',
        database: 'ok',
        migrations: { applied: status.applied.length, pending: status.pending },
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
      },
      { status: ok ? 200 : 503 },
    );
  } catch (err) {
    return json({ status: 'unavailable', database: 'unreachable', error: (err as Error).message.split('\n')[0] }, { status: 503 });
  }
}
