/** Export slots: a few exports at once; the next waits its turn and gets the first slot freed. */
import { describe, expect, it } from 'vitest';
import { acquireExportSlot, MAX_CONCURRENT_EXPORTS } from './slots.ts';

const claims = { tenant_id: '00000000-0000-4000-8000-000000000000', sub: 'test', role: 'authenticated' as const };

describe('export slots', () => {
  it('let a waiting export in as soon as a running one ends, and each release counts once', async () => {
    const running = await Promise.all(Array.from({ length: MAX_CONCURRENT_EXPORTS }, () => acquireExportSlot(claims)));
    let admitted = false;
    const waiting = acquireExportSlot(claims).then((slot) => ((admitted = true), slot));
    await new Promise((r) => setTimeout(r, 50));
    expect(admitted).toBe(false);
    running[0]!.release();
    running[0]!.release(); // twice: still one slot
    const next = await waiting;
    expect(admitted).toBe(true);
    let third = false;
    const after = acquireExportSlot(claims).then((slot) => ((third = true), slot));
    await new Promise((r) => setTimeout(r, 50));
    expect(third).toBe(false);
    next.release();
    (await after).release();
    for (const slot of running.slice(1)) slot.release();
  });
});
