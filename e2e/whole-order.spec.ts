/**
 * The compliance officer's questions, in Chromium against the product with
 * demo data: the whole order with its fills in one place and one export, in
 * the officer's time zone, with administration on the record; and the small
 * breakages that used to get in the way.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { expect, test, type Page } from '@playwright/test';
import { auditor, base, expectAccessible, screenshot, signIn, signOut, user } from './helpers.ts';

/** An order of the demo tenant with fills and an allocation, found through the API as an integrator would. */
async function filledOrder(page: Page): Promise<{ order: string; fills: number }> {
  const res = await page.request.get(`${base()}/api/v1/audit/events?object_type=ALLOCATION&limit=1&order=asc`, { headers: { authorization: `Bearer ${process.env.OMS_E2E_API_KEY}` } });
  expect(res.status()).toBe(200);
  const order = (await res.json()).events[0].context.order_id as string;
  const fills = await page.request.get(`${base()}/api/v1/audit/events?object_type=EXECUTION&context.order_id=${order}&limit=100`, { headers: { authorization: `Bearer ${process.env.OMS_E2E_API_KEY}` } });
  return { order, fills: (await fills.json()).events.length };
}

/** React's words (development) or error numbers (production) for a server/browser mismatch. */
const HYDRATION = /hydrat|react\.dev\/errors\/4(18|19|23|25)/i;

/** Picks a zone, again if it was picked before the page could take it (before hydration), until its cookie holds it. */
async function chooseZone(page: Page, zone: string) {
  await expect(async () => {
    await page.getByLabel('Time zone').selectOption(zone);
    expect((await page.context().cookies()).find((c) => c.name === 'oms_tz')?.value).toBe(encodeURIComponent(zone));
  }).toPass();
}

test('everything that happened to an order, with its fills and allocation, in one timeline and one export', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  const { order, fills } = await filledOrder(page);
  expect(fills).toBeGreaterThan(0);
  // One filter on the search page: the whole order.
  await page.getByLabel('Whole order').fill(order);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`about=${order}`));
  const table = page.getByRole('table', { name: 'Matching events' });
  await expect(table.getByRole('row').filter({ hasText: 'EXECUTION' })).toHaveCount(fills);
  await expect(table.getByRole('row').filter({ hasText: 'ALLOCATION' })).toHaveCount(1);

  await page.goto(`${base()}/objects/ORDER/${order}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`ORDER ${order}`);
  const timeline = page.getByRole('list', { name: 'Timeline' });
  await expect(timeline.getByRole('link', { name: /^EXECUTION EXE-/ })).toHaveCount(fills);
  await expect(timeline.getByRole('link', { name: /^ALLOCATION ALC-/ })).toHaveCount(1);
  const total = await timeline.getByRole('listitem').count();
  // As of the last event, every fill is counted and the allocation covers the filled quantity.
  const state = page.getByTestId('fills-as-of');
  await expect(state).toContainText(`Fills${fills}`);
  const filled = (await state.locator('dd').nth(1).textContent())!;
  await expect(state.locator('dd').nth(3)).toContainText(filled);
  await expectAccessible(page, 'whole order');
  await screenshot(page, testInfo, 'whole-order');

  // Narrowed to the fills.
  await page.getByRole('navigation', { name: 'Object types in the timeline' }).getByRole('link', { name: /^EXECUTION/ }).click();
  await expect(page).toHaveURL(/only=EXECUTION/);
  await expect(timeline.getByRole('listitem')).toHaveCount(fills);

  // One export holds exactly the timeline.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('order-export-csv').click()]);
  const rows = parse(await readFile((await download.path())!, 'utf8'), { columns: true }) as { object_type: string; object_id: string }[];
  expect(rows).toHaveLength(total);
  expect(rows.filter((r) => r.object_type === 'EXECUTION')).toHaveLength(fills);
});

test('the order as of 10:32:05 New York time: times in the chosen zone, the moment in the URL', async ({ page }) => {
  await signIn(page, auditor());
  const { order } = await filledOrder(page);
  await page.goto(`${base()}/objects/ORDER/${order}`);
  await chooseZone(page, 'America/New_York');
  await expect(page.getByLabel('State as of (America/New_York)')).toBeVisible();
  const first = page.getByRole('list', { name: 'Timeline' }).getByRole('listitem').first().locator('time');
  const iso = (await first.getAttribute('datetime'))!;
  await expect(first).toHaveText(/^\d{4}-\d\d-\d\d [0-2]\d:\d\d:\d\d\.\d{6} E[SD]T$/);
  // The zone's wall time of the first event, typed back, gives that instant (to the end of its second) in the URL.
  const wall = (await first.textContent())!.replace(/\.\d+ E[SD]T$/, '');
  await page.getByLabel('State as of (America/New_York)').fill(wall);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`at=${encodeURIComponent(`${iso.slice(0, 19)}.999999Z`)}`));
  await expect(page.getByTestId('state-summary')).toContainText('After 1 of');
  // A shared link opens at that moment, in the reader's chosen zone.
  await page.reload();
  await expect(page.getByTestId('state-summary')).toContainText('After 1 of');
  await expect(page.getByLabel('Time zone')).toHaveValue('America/New_York');
  // A time the clocks skip is refused in words.
  await page.getByLabel('State as of (America/New_York)').fill('2026-03-08 02:30:00');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'does not exist in America/New_York' })).toBeVisible();
  await chooseZone(page, 'UTC');
});

test('Today in New York on the day DST ends is 25 hours, and "To" reads as "before"', async ({ page }) => {
  await page.clock.setFixedTime(new Date('2026-11-01T16:00:00Z'));
  await signIn(page, auditor());
  await chooseZone(page, 'America/New_York');
  await page.goto(`${base()}/?range=today`);
  await expect(page.getByTestId('time-range')).toContainText('2026-11-01 00:00:00.000000 EDT → before 2026-11-02 00:00:00.000000 EST');
  await expect(page.getByTestId('time-range')).toContainText('(UTC: 2026-11-01 04:00:00.000000 UTC → before 2026-11-02 05:00:00.000000 UTC)');
  await page.getByLabel('Time range').selectOption('custom');
  await expect(page.getByLabel('Before (America/New_York)')).toBeVisible();
  await page.getByLabel('From (America/New_York)').fill('2026-10-31 20:00:00');
  await page.getByLabel('Before (America/New_York)').fill('2026-11-01 01:30:00');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(/from=2026-11-01T00(:|%3A)00(:|%3A)00\.000000Z/);
  await expect(page).toHaveURL(/to=2026-11-01T05(:|%3A)30(:|%3A)00\.000000Z/);
  await expectAccessible(page, 'search with a custom range');
  await chooseZone(page, 'UTC');
});

test('admin changes are on the record: a hold is released only with a reason, and Activity lists it by email', async ({ page }, testInfo) => {
  const admin = user('admin@demo-brokerage.example');
  await signIn(page, admin);
  await page.getByRole('link', { name: 'Retention' }).click();
  await page.getByLabel('Reason').fill('SEC inquiry e2e-activity');
  await page.getByRole('button', { name: 'Place hold' }).click();
  const holds = page.getByRole('list', { name: 'Active legal holds' });
  const hold = holds.getByRole('listitem').filter({ hasText: 'SEC inquiry e2e-activity' });
  await expect(hold).toContainText(`placed by ${admin.email}`);
  await hold.getByRole('button', { name: 'Release' }).click();
  const dialog = page.getByRole('dialog', { name: /Release the legal hold/ });
  await expect(dialog.getByRole('button', { name: 'Release hold' })).toBeDisabled();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(hold).toBeVisible();
  await hold.getByRole('button', { name: 'Release' }).click();
  await dialog.getByLabel('Reason for the release').fill('Inquiry closed');
  await expectAccessible(page, 'release dialog');
  await dialog.getByRole('button', { name: 'Release hold' }).click();
  await expect(hold).toHaveCount(0);

  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByLabel('Key name').fill('activity-e2e');
  await page.getByRole('button', { name: 'Create key' }).click();
  await expect(page.getByLabel('New API key')).toHaveValue(/^omsk_/);

  await page.getByRole('link', { name: 'Activity' }).click();
  const activity = page.getByRole('table', { name: 'Administration activity' });
  await expect(activity.getByRole('row').filter({ hasText: 'created API key activity-e2e' })).toContainText(admin.email);
  await expect(activity.getByRole('row').filter({ hasText: 'released the legal hold “SEC inquiry e2e-activity”, because: Inquiry closed' })).toContainText(admin.email);
  await expect(activity).not.toContainText('user:');
  await expectAccessible(page, 'activity');
  await screenshot(page, testInfo, 'activity');
  await signOut(page);
});

test('an admin sets which context keys relate events to an order: the order page follows, and the change is on the record', async ({ page }) => {
  const admin = user('admin@demo-brokerage.example');
  await signIn(page, admin);
  const { order } = await filledOrder(page);
  await page.goto(`${base()}/objects/ORDER/${order}`);
  await expect(page.getByTestId('timeline-keys')).toContainText('related through order_id, parent_order_id, client_order_id');
  const timeline = page.getByRole('list', { name: 'Timeline' });
  await expect(timeline.getByRole('link', { name: /^EXECUTION EXE-/ }).first()).toBeVisible();
  const withFills = await timeline.getByRole('listitem').count();

  await page.getByTestId('timeline-keys').getByRole('link', { name: 'change' }).click();
  const section = page.getByRole('region', { name: 'The whole order' });
  await expect(section.getByTestId('related-keys')).toContainText('These are the default keys.');
  await expectAccessible(page, 'system with the whole order keys');
  try {
    await section.getByLabel('Context keys, separated by commas').fill('parent_order_id');
    await section.getByRole('button', { name: 'Save keys' }).click();
    await expect(section.getByRole('status')).toContainText('Saved');
    await expect(section.getByTestId('related-keys')).toContainText(`by ${admin.email}`);

    // The fills name the order as order_id, no longer a related key: the timeline is the order's own events.
    await page.goto(`${base()}/objects/ORDER/${order}`);
    await expect(page.getByTestId('timeline-keys')).toContainText('related through parent_order_id');
    await expect(timeline.getByRole('link', { name: /^EXECUTION EXE-/ })).toHaveCount(0);
    expect(await timeline.getByRole('listitem').count()).toBeLessThan(withFills);

    await page.getByRole('link', { name: 'Activity' }).click();
    const activity = page.getByRole('table', { name: 'Administration activity' });
    await expect(activity.getByRole('row').filter({ hasText: 'changed the keys that relate events to an order from order_id, parent_order_id, client_order_id to parent_order_id' })).toContainText(admin.email);
  } finally {
    await page.goto(`${base()}/admin/system`);
    await section.getByLabel('Context keys, separated by commas').fill('order_id, parent_order_id, client_order_id');
    await section.getByRole('button', { name: 'Save keys' }).click();
    await expect(section.getByRole('status')).toContainText('Saved');
  }
  await page.goto(`${base()}/objects/ORDER/${order}`);
  await expect(timeline.getByRole('listitem')).toHaveCount(withFills);
  await signOut(page);
});

test('an officer who picked Today in New York sees the export range in New York and in UTC', async ({ page }) => {
  await page.clock.setFixedTime(new Date('2026-11-01T16:00:00Z'));
  await signIn(page, auditor());
  await chooseZone(page, 'America/New_York');
  await page.goto(`${base()}/?range=today`);
  await expect(page.getByTestId('export-range')).toHaveText(
    'Time range: from 2026-11-01 00:00:00.000000 EDT to before 2026-11-02 00:00:00.000000 EST (America/New_York) = UTC from 2026-11-01 04:00:00.000000 UTC to before 2026-11-02 05:00:00.000000 UTC; the file\'s times are UTC',
  );
  await chooseZone(page, 'UTC');
});

test('the histogram labels its axes in the chosen zone, and the export states the range it covered in that zone and UTC', async ({ page }) => {
  await signIn(page, auditor());
  await chooseZone(page, 'America/New_York');
  await page.goto(`${base()}/?range=30d`);
  const histogram = page.getByTestId('histogram');
  await expect(histogram.getByTestId('histogram-x-label')).toHaveText(/^Time \(America\/New_York, E[SD]T\), \d+ (h|min|s|days?) per bar$/);
  await expect(histogram.getByTestId('histogram-y-label')).toHaveText('Events per bar');
  await expect(histogram.getByTestId('histogram-y-ticks').locator('span').last()).toHaveText('0');
  await expect(histogram.getByTestId('histogram-x-ticks').locator('span')).toHaveCount(5);
  await expectAccessible(page, 'search with labelled histogram axes');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-jsonl').click()]);
  await download.path();
  await expect(page.getByTestId('export-result-range')).toContainText('(America/New_York) = UTC from ');
  await chooseZone(page, 'UTC');
});

test('small breakages stay fixed', async ({ page }) => {
  const hydrationErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && HYDRATION.test(m.text())) hydrationErrors.push(m.text());
  });
  page.on('pageerror', (e) => {
    if (HYDRATION.test(e.message)) hydrationErrors.push(e.message);
  });
  // A deep link opened while signed out comes back after sign-in.
  const { order } = await (async () => {
    await signIn(page, auditor());
    const found = await filledOrder(page);
    await signOut(page);
    return found;
  })();
  await page.goto(`${base()}/objects/ORDER/${order}?only=EXECUTION`);
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByLabel('Email').fill(auditor().email);
  await page.getByLabel('Password').fill(auditor().password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${base()}/objects/ORDER/${order}?only=EXECUTION`);

  // Unknown events and impossible objects are 404 pages, not 200 or an error page.
  const missing = await page.goto(`${base()}/events/00000000-0000-4000-8000-000000000000`);
  expect(missing!.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  const script = await page.goto(`${base()}/objects/%3Cscript%3E/x`);
  expect(script!.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();

  // A relative range loads without a hydration error; unknown link values are named.
  await page.goto(`${base()}/?range=30d`);
  await expect(page.getByTestId('time-range')).toContainText('→ before now');
  await page.goto(`${base()}/?range=2y&event_type=NOPE`);
  const problems = page.getByTestId('url-problems');
  await expect(problems).toContainText('range=2y is not one of');
  await expect(problems).toContainText('No event in this tenant has the type NOPE');
  expect(hydrationErrors).toEqual([]);

  // Ticking event types does not search; their Apply button does.
  await page.goto(`${base()}/`);
  await expect(page.getByTestId('result-count')).toHaveText(/events?$/);
  let searches = 0;
  page.on('request', (r) => {
    if (r.url().includes('events.list')) searches++;
  });
  const types = page.getByRole('group', { name: /Event types/ });
  await types.getByLabel('CANCEL', { exact: true }).check();
  await types.getByLabel('FILL', { exact: true }).check();
  await expect(page).not.toHaveURL(/event_type=/);
  expect(searches).toBe(0);
  await types.getByRole('button', { name: 'Apply event types' }).click();
  await expect(page).toHaveURL(/event_type=/);

  // The Columns popover closes on Esc, back on its button.
  await page.getByText('Columns', { exact: true }).click();
  await expect(page.getByRole('group', { name: 'Columns shown' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('group', { name: 'Columns shown' })).toBeHidden();

  // One event is "1 event".
  await page.goto(`${base()}/?object_type=ALLOCATION&object_id=ALC-${order.slice(4)}`);
  await expect(page.getByTestId('result-count')).toHaveText('1 event');

  // A filter too long for a URL still searches, with no developer wording.
  await page.goto(`${base()}/?q=${encodeURIComponent(`symbol = ${'X'.repeat(3000)}`)}`);
  await expect(page.getByTestId('result-count')).toHaveText('0 events');
  await expect(page.getByText('Input is too big')).toHaveCount(0);
});
