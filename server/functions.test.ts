/** npm start's edge function: served beside the server, restarted after a crash, stopped with the server. */
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { countEvents, event, newTenant } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const denoPids = (output: string) => [...output.matchAll(/edge function audit-logger \(Deno, pid (\d+)\)/g)].map((m) => Number(m[1]));

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the edge function beside the server', () => {
  let server: RunningServer | undefined;
  afterAll(() => server?.stop());

  it('keeps the server up when the function crashes, says so, and brings the function back', async () => {
    server = await startServer({ databaseUrl: inject('databaseUrl') });
    const t = await newTenant();
    const post = () =>
      fetch(server!.functionsUrl, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event()] }) });
    expect((await post()).status).toBe(201);
    const [first] = denoPids(server.output());
    expect(first).toBeGreaterThan(0);

    process.kill(first!, 'SIGKILL');
    await until('the crash to be reported', () => server!.output().includes('the audit-logger edge function exited (SIGKILL); the server goes on'));
    expect((await fetch(`${server.baseUrl}/api/health`)).status).toBe(200);

    // The archive reader (DuckDB) is warmed after the server is ready, in the background, not before it serves.
    const warmed = await until('the archive reader warmed', () => /archive reader \(DuckDB\) warmed in \d+ ms/.exec(server!.output()));
    expect(warmed.index).toBeGreaterThan(server.output().indexOf('serving http://'));

    const second = await until('a new function process', () => denoPids(server!.output())[1]);
    expect(second).not.toBe(first);
    expect((await post()).status).toBe(201);
    expect(await countEvents(t.id)).toBe(2);

    await server.stop();
    expect(server.output()).toContain('shutting down');
    expect(alive(second)).toBe(false);
  });
});
