/** Clock evidence in Chromium: the System page shows a fast source flagged beside its reported sync, and the event says so. */
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { base, expectAccessible, screenshot, signIn, user } from './helpers.ts';

test('an admin sees a fast source flagged on the System page beside its clock sync report, and on the event itself', async ({ page }, testInfo) => {
  await signIn(page, user('admin@demo-brokerage.example'));
  await page.getByRole('link', { name: 'System' }).click();
  const section = page.getByRole('region', { name: 'Source clocks, last hour' });
  await expect(section).toBeVisible();

  // The demo tenant's network delay is measured until set by hand.
  await expect(page.getByTestId('clock-tolerance')).toContainText('measured');
  // A network delay of 2 s, so a slow HTTP round trip on a busy machine never counts as a slow clock here.
  await section.getByLabel('Tolerance (ms)').fill('50');
  await section.getByLabel('Measure the network delay').uncheck();
  await section.getByLabel('Network delay (ms)').fill('2000');
  await section.getByRole('button', { name: 'Save tolerance' }).click();
  await expect(section.getByRole('status')).toContainText('Saved');
  await expect(page.getByTestId('clock-tolerance')).toContainText('behind by more than 2050 ms (tolerance 50 ms + network delay 2000 ms, set by hand)');

  try {
    const key = process.env.OMS_E2E_API_KEY!;
    const now = Date.now();
    const order = (source: string, occurred: number) => ({ actor_id: 'e2e-clock', actor_type: 'SYSTEM', object_type: 'ORDER', object_id: `ORD-CLK-${source}`, event_type: 'CREATE', source, occurred_at: new Date(occurred).toISOString(), context: {} });
    const logged = await page.request.post(`${base()}/api/v1/audit/events`, {
      // The round trip of the client's previous request, as the SDK reports it.
      headers: { authorization: `Bearer ${key}`, 'x-audit-round-trip-ms': '7.5' },
      data: {
        events: [
          // A source whose clock runs 1 s fast: its events are dated after they reached us.
          order('e2e-fast-clock', now + 1000),
          order('e2e-good-clock', now - 3),
          { ...order('e2e-fast-clock', now + 1000), object_type: 'CLOCK', event_type: 'CLOCK_SYNC', context: { offset_ms: 1000.25, reference: 'NIST time.nist.gov', max_error_ms: 2 } },
        ],
      },
    });
    expect(logged.status()).toBe(201);
    const [fastId] = ((await logged.json()) as { ids: string[] }).ids;

    await page.reload();
    const table = page.getByRole('table', { name: 'Measured skew and reported clock sync per source' });
    const fast = table.locator('tr[data-source="e2e-fast-clock"]');
    const good = table.locator('tr[data-source="e2e-good-clock"]');
    await expect(fast.getByTestId('flagged')).toHaveText(/^[1-9]\d* \/ 0$/);
    await expect(fast.getByTestId('last-sync')).toContainText('1000 ms from NIST time.nist.gov');
    await expect(good.getByTestId('flagged')).toHaveText('0 / 0');
    await expect(good.getByTestId('round-trip')).toHaveText('7.5 ms / 7.5 ms');
    await expect(good.getByTestId('last-sync')).toHaveText('none reported');
    await expect(page.getByTestId('skew-chart').first()).toBeVisible();
    await expectAccessible(page, 'system clock evidence');
    const axe = await new AxeBuilder({ page }).include('section[aria-labelledby="clock-evidence"]').analyze();
    expect(axe.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
    await screenshot(page, testInfo, 'system-clock');

    await page.goto(`${base()}/events/${fastId}`);
    await expect(page.getByTestId('event-clock')).toContainText("the source's clock is ahead of ours");
    await expect(page.getByTestId('event-clock')).toContainText('Flagged: ahead by more than the tolerance of 50 ms');
  } finally {
    // The demo tenant's defaults again, for every other test.
    await page.goto(`${base()}/admin/system`);
    await section.getByLabel('Network delay (ms)').fill('0');
    await section.getByRole('button', { name: 'Save tolerance' }).click();
    await expect(page.getByTestId('clock-tolerance')).toContainText('behind by more than 50 ms');
  }
});
