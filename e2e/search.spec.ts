/**
 * Searching as a compliance officer does: the query language (with its errors
 * at the box), the search's shape (histogram with brush-to-zoom, value counts
 * that filter on click and exclude on Alt-click), rows and cells that act, the
 * console's own activity out of sight unless asked for, and a results table that
 * Tab passes in one step. Each question in the steps a person expects, with the
 * answer checked against the API.
 */
import { expect, test, type Page } from '@playwright/test';
import { auditor, base, expectAccessible, screenshot, signIn } from './helpers.ts';

const HIDE = 'NOT event_type = AUDIT_*';

async function apiCount(page: Page, q: string): Promise<number> {
  const res = await page.request.get(`${base()}/api/trpc/events.count?input=${encodeURIComponent(JSON.stringify({ q }))}`);
  expect(res.status()).toBe(200);
  const body = (await res.json()) as { result: { data: { count: number; exact: boolean } } };
  expect(body.result.data.exact).toBe(true);
  return body.result.data.count;
}

const query = (page: Page) => page.getByLabel('Query', { exact: true });
const table = (page: Page) => page.getByRole('table', { name: 'Matching events' });

test('"AAPL or MSFT" and "what did trader Y do" are one query each; a wrong query is explained at the box', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  // One step: type the question, press Enter.
  await query(page).fill('symbol = AAPL or symbol = MSFT');
  await query(page).press('Enter');
  await expect(page).toHaveURL(/q=symbol/);
  const both = (await apiCount(page, `symbol = AAPL AND ${HIDE}`)) + (await apiCount(page, `symbol = MSFT AND ${HIDE}`));
  expect(both).toBeGreaterThan(0);
  await expect(page.getByTestId('result-count')).toHaveText(`${both.toLocaleString('en-US')} events`);

  // The trader typed as remembered: any case, the start of the address.
  await query(page).fill('actor ~ ALICE.CHEN*');
  await query(page).press('Enter');
  const alice = await apiCount(page, `actor_id = alice.chen@demo-brokerage.example AND ${HIDE}`);
  await expect(page.getByTestId('result-count')).toHaveText(`${alice.toLocaleString('en-US')} events`);
  await expect(table(page).getByRole('row').nth(1)).toContainText('alice.chen@demo-brokerage.example');

  // A mistake: one message, at the box, pointing at the character; nothing is searched.
  await query(page).fill('symbol = AAPL or');
  await query(page).press('Enter');
  const error = page.getByTestId('query-error');
  await expect(error).toContainText('Expected a condition, e.g. symbol = AAPL (character 17).');
  await expect(query(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(query(page)).toHaveAccessibleDescription(/Expected a condition/);
  await expect(page.getByRole('table', { name: 'Matching events' })).toHaveCount(0);
  await expectAccessible(page, 'search with a wrong query');
  await screenshot(page, testInfo, 'query-error');

  // The examples are one click away and run as written.
  await page.getByText('Query help').click();
  await page.getByTestId('query-help').getByRole('button', { name: 'NOT event_type IN (FILL, CANCEL)' }).click();
  await expect(query(page)).toHaveValue('NOT event_type IN (FILL, CANCEL)');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByTestId('query-error')).toHaveCount(0);
  await expect(page.getByTestId('result-count')).toHaveText(`${(await apiCount(page, `NOT event_type IN (FILL, CANCEL) AND ${HIDE}`)).toLocaleString('en-US')} events`);
});

test('the search shows its shape: value counts filter on click and exclude on Alt-click, the histogram zooms', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  await expect(page.getByTestId('histogram')).toBeVisible();
  // This server charts every search from a time sample (SHAPE_EXACT_ROWS=0 in e2e/global-setup.ts), as it does a
  // large trail: estimates, labelled as such with their basis, and never as exact.
  const accuracy = page.getByTestId('shape-accuracy');
  await expect(accuracy).toHaveText(/^Estimates \(≈\): bars estimated \(sampled [\d.]+ % of the time range \([\d,]+ windows spread over it, read through this tenant's index only\), [\d,]+ matching events seen/);
  await expect(page.getByTestId('histogram-summary')).toHaveText(/^≈ [\d,]+ \(estimate\) matching events/);
  const counts = page.getByRole('navigation', { name: 'Value counts' });
  await expect(counts.getByRole('button', { name: /^Event type \S+: about [\d,]+ events \(estimate\)/ }).first()).toBeVisible();
  await expect(counts.getByText(/^≈ [\d,]+/).first()).toBeVisible();
  for (const heading of ['Event type', 'Object type', 'Actor', 'Source', 'Outcome']) await expect(counts.getByRole('heading', { name: heading })).toBeVisible();
  await expectAccessible(page, 'search with its shape, estimated');
  await screenshot(page, testInfo, 'search-shape-estimate');

  // "Count exactly": the same search, counted without the budget; the bars add up to the search's count.
  await page.getByRole('button', { name: 'Count exactly' }).click();
  await expect(accuracy).toHaveText('Exact counts');
  await expect(page.getByRole('button', { name: 'Count exactly' })).toHaveCount(0);
  const all = await apiCount(page, HIDE);
  await expect(page.getByTestId('histogram-summary')).toHaveText(new RegExp(`^${all.toLocaleString('en-US')} matching events`));
  await expect(counts.getByText(/^≈/)).toHaveCount(0);
  await expectAccessible(page, 'search with its shape');
  await screenshot(page, testInfo, 'search-shape');

  // Click a value: only it; a new search is estimated again until counted exactly, then its value count is the search's count.
  await counts.getByRole('button', { name: /^Event type CANCEL: / }).click();
  await expect(query(page)).toHaveValue('event_type = CANCEL');
  const cancels = await apiCount(page, `event_type = CANCEL AND ${HIDE}`);
  await expect(page.getByTestId('result-count')).toHaveText(`${cancels.toLocaleString('en-US')} events`);
  await expect(accuracy).toHaveText(/^Estimates \(≈\)/);
  await page.getByRole('button', { name: 'Count exactly' }).click();
  await expect(accuracy).toHaveText('Exact counts');
  await expect(counts.getByRole('button', { name: new RegExp(`^Event type CANCEL: ${cancels.toLocaleString('en-US')} events`) })).toBeVisible();

  // Alt-click a value: all but it.
  const actorButton = counts.getByRole('button', { name: /^Actor / }).first();
  const actor = (await actorButton.getAttribute('aria-label'))!.match(/^Actor (.+?): /)![1]!;
  await actorButton.click({ modifiers: ['Alt'] });
  await expect(query(page)).toHaveValue(`event_type = CANCEL AND NOT actor_id = ${actor}`);
  await expect(page.getByTestId('result-count')).toHaveText(`${(await apiCount(page, `event_type = CANCEL AND NOT actor_id = ${actor} AND ${HIDE}`)).toLocaleString('en-US')} events`);
  await expect(table(page).getByRole('row').filter({ hasText: actor })).toHaveCount(0);

  // Drag across the histogram: the time range becomes the bars chosen.
  const chart = page.getByTestId('histogram').locator('svg');
  const box = (await chart.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect(page).toHaveURL(/range=custom/);
  const url = new URL(page.url());
  const from = url.searchParams.get('from')!;
  const to = url.searchParams.get('to')!;
  expect(Date.parse(from)).toBeLessThan(Date.parse(to));
  await expect(page.getByTestId('time-range')).toBeVisible();
  const inRange = await page.request.get(`${base()}/api/trpc/events.count?input=${encodeURIComponent(JSON.stringify({ q: `event_type = CANCEL AND NOT actor_id = ${actor} AND ${HIDE}`, from, to }))}`);
  const expected = ((await inRange.json()) as { result: { data: { count: number } } }).result.data.count;
  await expect(page.getByTestId('result-count')).toHaveText(`${expected.toLocaleString('en-US')} events`);
});

test("the console's own activity is hidden until asked for", async ({ page }) => {
  await signIn(page, auditor());
  const counts = page.getByRole('navigation', { name: 'Value counts' });
  await expect(counts.getByRole('button', { name: /^Event type / }).first()).toBeVisible();
  await expect(counts.getByRole('button', { name: /^Event type AUDIT_/ })).toHaveCount(0);
  await expect(page.getByTestId('result-count')).toHaveText(`${(await apiCount(page, HIDE)).toLocaleString('en-US')} events`);
  await page.getByLabel(/Show console activity/).check();
  await expect(page).toHaveURL(/console=true/);
  // Charted from a sample (which may miss a rarer value), the shape is counted exactly on request; then the searches show.
  const accuracy = page.getByTestId('shape-accuracy');
  await expect(accuracy).toHaveText(/^Estimates \(≈\)/);
  await page.getByRole('button', { name: 'Count exactly' }).click();
  await expect(accuracy).toHaveText('Exact counts');
  await expect(counts.getByRole('button', { name: /^Event type AUDIT_SEARCH: / })).toBeVisible();
});

test('event types apply on a button; rows open events, Object and Actor go to their pages, cells filter; Tab passes the table in one step', async ({ page }) => {
  await signIn(page, auditor());
  const types = page.getByRole('group', { name: /Event types/ });
  await types.getByLabel('CANCEL', { exact: true }).check();
  await types.getByLabel('FILL', { exact: true }).check();
  // Ticking searches nothing yet.
  await expect(page).not.toHaveURL(/event_type=/);
  await types.getByRole('button', { name: 'Apply event types' }).click();
  await expect(page).toHaveURL(/event_type=CANCEL,FILL|event_type=CANCEL&event_type=FILL/);
  await expect(page.getByTestId('result-count')).toHaveText(`${(await apiCount(page, `event_type IN (CANCEL, FILL) AND ${HIDE}`)).toLocaleString('en-US')} events`);

  // A click anywhere on a row (here: beside the outcome) opens its event.
  const first = table(page).getByRole('row').nth(1);
  const outcomeCell = first.getByRole('cell').nth(4);
  const cellBox = (await outcomeCell.boundingBox())!;
  await outcomeCell.click({ position: { x: cellBox.width - 4, y: cellBox.height / 2 } });
  await expect(page).toHaveURL(/\/events\/[0-9a-f-]{36}$/);
  await page.goBack();

  // The Object cell goes to the object, the Actor cell to the actor.
  const objectLink = table(page).getByRole('row').nth(1).getByRole('cell').nth(2).getByRole('link');
  const objectText = (await objectLink.textContent())!.trim();
  await objectLink.click();
  await expect(page).toHaveURL(/\/objects\/[^/]+\/[^/]+$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(objectText);
  await page.goBack();
  const actorLink = table(page).getByRole('row').nth(1).getByRole('cell').nth(3).getByRole('link');
  const actorText = (await actorLink.textContent())!.trim();
  await actorLink.click();
  await expect(page).toHaveURL(new RegExp(`/actors/${encodeURIComponent(actorText).replace(/\./g, '\\.')}$`));
  await page.goBack();

  // A cell filters on its value.
  const typeCell = table(page).getByRole('row').nth(1).getByRole('cell').nth(1).getByRole('button');
  const type = (await typeCell.textContent())!.trim();
  await typeCell.click();
  await expect(query(page)).toHaveValue(`event_type = ${type}`);

  // Tab enters the table once and leaves it with the next Tab; arrows move inside it.
  const lastBefore = page.getByRole('navigation', { name: 'Value counts' }).getByRole('button').last();
  await lastBefore.focus();
  await page.keyboard.press('Tab');
  const focusedInTable = () => page.evaluate(() => !!document.activeElement?.closest('[role="table"][aria-label="Matching events"]'));
  expect(await focusedInTable()).toBe(true);
  await expect(page.locator(':focus')).toHaveAccessibleName(/^Open event/);
  await page.keyboard.press('ArrowDown');
  await expect(page.locator(':focus')).toHaveAccessibleName(/^Open event/);
  expect(await page.evaluate(() => document.activeElement?.closest('[data-row-index]')?.getAttribute('data-row-index'))).toBe('1');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator(':focus')).toHaveAccessibleName(/^Filter on event type/);
  await page.keyboard.press('Tab');
  expect(await focusedInTable()).toBe(false);
  await expectAccessible(page, 'search with event types and a cell filter');
});
