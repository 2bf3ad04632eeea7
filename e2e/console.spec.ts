/** The compliance console, in Chromium, against the product started with demo data. */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect, test } from '@playwright/test';
import { EVENT_FIELDS } from '../supabase/functions/_shared/contract.ts';
import { CLOCK_FLAG_COLUMN } from '../lib/export-formats.ts';
import { auditor, base, expectAccessible, screenshot, signIn, signOut, unzipTo, user } from './helpers.ts';

const ORDER = 'ORD-100001';

test('the sign-in page is accessible and refuses a wrong password', async ({ page }, testInfo) => {
  await page.goto(`${base()}/`);
  await expect(page).toHaveURL(/\/sign-in$/);
  await expectAccessible(page, 'sign-in');
  await screenshot(page, testInfo, 'sign-in');
  await page.getByLabel('Email').fill(auditor().email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Wrong email or password' })).toBeVisible();
});

test('an auditor finds an order by its id, and filters live in the URL', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  await expect(page.getByTestId('result-count')).toHaveText(/[\d,]+ events/);
  await expect(page.getByRole('table', { name: 'Matching events' }).getByRole('row').nth(1)).toBeVisible();
  await expectAccessible(page, 'search');
  await screenshot(page, testInfo, 'search');

  await page.getByLabel('Object ID').fill(ORDER);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`object_id=${ORDER}`));
  const table = page.getByRole('table', { name: 'Matching events' });
  await expect(table.getByRole('row').filter({ hasText: ORDER }).first()).toBeVisible();
  const rows = table.getByRole('row').filter({ hasText: 'ORDER' });
  const count = Number((await page.getByTestId('result-count').textContent())!.replace(/\D/g, ''));
  expect(count).toBeGreaterThan(1);
  await expect(rows).toHaveCount(count);
  await expect(table.getByRole('row').filter({ hasText: 'CREATE' })).toHaveCount(1);

  // A picker applies at once and becomes part of the URL; reload keeps every filter.
  await page.getByLabel('Order', { exact: true }).selectOption('asc');
  await expect(page).toHaveURL(/order=asc/);
  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('success');
  await expect(page).toHaveURL(/outcome=success/);
  await page.reload();
  await expect(page.getByLabel('Object ID')).toHaveValue(ORDER);
  await expect(page.getByRole('combobox', { name: 'Outcome' })).toHaveValue('success');
  await expect(page.getByLabel('Order', { exact: true })).toHaveValue('asc');
  await expect(table.getByRole('row').nth(1)).toContainText('CREATE');
  // Back goes to the search before the outcome was chosen.
  await page.goBack();
  await expect(page).not.toHaveURL(/outcome=/);
  await expect(page.getByRole('combobox', { name: 'Outcome' })).toHaveValue('');
  await expect(page.getByLabel('Object ID')).toHaveValue(ORDER);
});

test('an event shows its fields and diff, and links to the object timeline', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  await page.goto(`${base()}/?object_id=${ORDER}&event_type=ROUTE`);
  const table = page.getByRole('table', { name: 'Matching events' });
  await table.getByRole('row').nth(1).getByRole('link', { name: /^Open event/ }).click();
  await expect(page).toHaveURL(/\/events\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`ROUTE of ORDER ${ORDER}`);
  const diff = page.getByRole('table', { name: 'Fields before and after this event' });
  await expect(diff.getByRole('row', { name: /venue/ })).toBeVisible();
  await expect(diff.locator('tr[data-changed="true"]')).not.toHaveCount(0);
  await expect(page.getByLabel('Context as JSON')).toContainText('"venue"');
  await expectAccessible(page, 'event');
  await screenshot(page, testInfo, 'event');

  await page.getByRole('link', { name: 'Object timeline' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`ORDER ${ORDER}`);
  const timeline = page.getByRole('list', { name: 'Timeline' });
  await expect(timeline.getByRole('listitem').first()).toContainText('CREATE');
  await expect(page.getByTestId('state-summary')).toContainText('After');
  // Replaying to the first event shows the order as created.
  await page.getByRole('group', { name: 'Jump to an event' }).getByRole('button').first().click();
  await expect(page.getByTestId('state-summary')).toContainText('After 1 of');
  await expect(page.getByTestId('state-fields')).toContainText('NEW');
  await expectAccessible(page, 'object timeline');
  await screenshot(page, testInfo, 'object-timeline');

  await page.getByRole('main').getByRole('link', { name: /@demo-brokerage\.example|smart-order-router/ }).first().click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Activity of');
  await expect(page.getByRole('table').getByRole('row').nth(1)).toBeVisible();
  await expectAccessible(page, 'actor activity');
  await screenshot(page, testInfo, 'actor-activity');
});

test('a CSV export holds exactly the events the search counts, with a manifest', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  await page.goto(`${base()}/?object_id=${ORDER}`);
  await expect(page.getByTestId('result-count')).toHaveText(/\d+ events/);
  const count = Number((await page.getByTestId('result-count').textContent())!.replace(/\D/g, ''));
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^oms-audit-demo-brokerage-\d{8}T\d{6}Z\.csv$/);
  const text = await readFile((await download.path())!, 'utf8');
  const records = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  expect(Object.keys(records[0]!)).toEqual([...EVENT_FIELDS, CLOCK_FLAG_COLUMN]);
  expect(records).toHaveLength(count);
  expect(new Set(records.map((r) => r.object_id))).toEqual(new Set([ORDER]));
  expect(text.includes('\r\n')).toBe(true);
  // Before: the exact filters and the count; after: the manifest's row count beside it.
  await expect(page.getByTestId('export-summary')).toContainText(`${count} events where object = ${ORDER}`);
  await expect(page.getByTestId('export-result')).toHaveText(new RegExp(`CSV complete: ${count} rows \\(the search counted ${count}\\)`));
  const [excel] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV for Excel' }).click()]);
  expect(excel.suggestedFilename()).toMatch(/^oms-audit-demo-brokerage-\d{8}T\d{6}Z-excel\.csv$/);

  await page.getByRole('link', { name: 'Exports' }).click();
  const latest = page.getByRole('table', { name: 'Recent exports' }).getByRole('row').nth(1);
  await expect(latest).toContainText(String(count));
  await expect(latest).toContainText('complete');
  await expectAccessible(page, 'exports');
  await screenshot(page, testInfo, 'exports');

  // Save the search and find it in the tenant's list.
  await page.goto(`${base()}/?object_id=${ORDER}`);
  await page.getByRole('button', { name: 'Save search' }).click();
  await page.getByLabel('Name').fill(`Order ${ORDER}`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('link', { name: 'Saved searches' }).click();
  await expect(page.getByRole('link', { name: `Order ${ORDER}` })).toBeVisible();
  await expectAccessible(page, 'saved searches');
  await screenshot(page, testInfo, 'saved-searches');
});

test('export buttons stay off while a filter is not valid, saying why, and the API refuses it too', async ({ page }, testInfo) => {
  await signIn(page, auditor());
  await page.goto(`${base()}/?event_type=CANCEL&q=${encodeURIComponent('last_px > abc')}`);
  await expect(page.getByTestId('export-blocked')).toContainText('Exports are off until every filter is valid — Query:');
  for (const name of ['Export CSV', 'CSV for Excel', 'JSON Lines', 'Parquet', 'Verifiable bundle']) {
    await expect(page.getByRole('button', { name })).toBeDisabled();
    await expect(page.getByRole('link', { name })).toHaveCount(0);
  }
  await expect(page.getByRole('button', { name: 'Export CSV' })).toHaveAccessibleDescription(/Query: "abc" is not a number/);
  await expectAccessible(page, 'search with an invalid filter');
  await screenshot(page, testInfo, 'export-blocked');
  // The same query sent to the API is refused, naming it.
  const refused = await page.request.get(`${base()}/api/v1/audit/events/export?format=csv&event_type=CANCEL&q=${encodeURIComponent('last_px > abc')}`);
  expect(refused.status()).toBe(400);
  expect((await refused.json()).error.issues[0].field).toBe('q');
  // Fixed, the buttons come back.
  await page.getByLabel('Query', { exact: true }).fill('last_px > 400');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByRole('link', { name: 'Export CSV' })).toBeVisible();
  await expect(page.getByTestId('export-summary')).toContainText('query last_px > 400');
});

test('an admin creates an API key shown once', async ({ page }, testInfo) => {
  await signIn(page, user('admin@demo-brokerage.example'));
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByLabel('Key name').fill('e2e gateway');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByLabel('New API key').inputValue();
  expect(secret).toMatch(/^omsk_/);
  const res = await page.request.get(`${base()}/api/v1/audit/events?limit=1`, { headers: { authorization: `Bearer ${secret}` } });
  expect(res.status()).toBe(403); // write-only key
  await expect(page.getByRole('table', { name: 'API keys of this tenant' })).toContainText('e2e gateway');
  await expectAccessible(page, 'API keys');
  await screenshot(page, testInfo, 'api-keys');
});

test('an admin invites a person, who chooses their own password; the admin changes their role and disables them', async ({ page, browser }, testInfo) => {
  await signIn(page, user('admin@demo-brokerage.example'));
  await page.getByRole('link', { name: 'Users' }).click();
  const invitee = 'new.viewer@demo-brokerage.example';
  await page.getByLabel('Email').fill(invitee);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByLabel('Invitation link').inputValue();
  expect(link).toMatch(new RegExp(`^${base()}/invitation#omsi_[A-Za-z0-9_-]{43}$`));
  await expect(page.getByRole('status')).toContainText('shown only once');
  const invitations = page.getByRole('table', { name: 'Invitations not yet accepted' });
  await expect(invitations.getByRole('row').filter({ hasText: invitee })).toContainText('pending');
  await expectAccessible(page, 'users');
  await screenshot(page, testInfo, 'users');

  // The invitee opens the link in their own browser and chooses a password.
  const theirs = await browser.newContext();
  const invited = await theirs.newPage();
  await invited.goto(link);
  await expect(invited.getByTestId('invitation-offer')).toContainText(`Demo Brokerage invites ${invitee} as viewer`);
  await expectAccessible(invited, 'accept invitation');
  await screenshot(invited, testInfo, 'accept-invitation');
  await invited.getByLabel('New password', { exact: true }).fill('my very own password');
  await invited.getByLabel('Repeat the password').fill('my very own password');
  await invited.getByRole('button', { name: 'Create my account and join' }).click();
  await expect(invited.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(invited.getByTestId('tenant-name')).toContainText('Demo Brokerage');
  // The link is spent: opened again, it says so.
  const again = await theirs.newPage();
  await again.goto(link);
  await expect(again.getByRole('alert').filter({ hasText: 'used already' })).toBeVisible();

  // The admin sees the member (no longer an invitation), changes the role, and disables them.
  await page.reload();
  const users = page.getByRole('table', { name: 'Users of this tenant' });
  await expect(users).toContainText(invitee);
  await expect(page.getByRole('table', { name: 'Invitations not yet accepted' }).getByRole('row').filter({ hasText: invitee })).toHaveCount(0);
  await users.getByLabel(`Role of ${invitee}`).selectOption('auditor');
  await expect(users.getByLabel(`Role of ${invitee}`)).toHaveValue('auditor');
  page.once('dialog', (d) => void d.accept());
  await users.getByRole('button', { name: `Disable ${invitee} in this tenant` }).click();
  await expect(page.getByTestId(`status-${invitee}`)).toContainText('disabled since');
  // Their open session no longer reaches the tenant.
  await invited.reload();
  await expect(invited.getByRole('alert').filter({ hasText: 'no role in any tenant' })).toBeVisible();
  await users.getByRole('button', { name: `Enable ${invitee} in this tenant` }).click();
  await expect(page.getByTestId(`status-${invitee}`)).toHaveText('active');
  await invited.reload();
  await expect(invited.getByTestId('result-count')).toHaveText(/events/);
  await theirs.close();

  // A withdrawn invitation is refused.
  await page.getByLabel('Email').fill('never.joins@demo-brokerage.example');
  await page.getByRole('button', { name: 'Invite' }).click();
  const withdrawnLink = await page.getByLabel('Invitation link').inputValue();
  await page.getByRole('button', { name: 'Withdraw the invitation of never.joins@demo-brokerage.example' }).click();
  await expect(page.getByRole('table', { name: 'Invitations not yet accepted' })).toHaveCount(0);
  const stranger = await browser.newContext();
  const strangerPage = await stranger.newPage();
  await strangerPage.goto(withdrawnLink);
  await expect(strangerPage.getByRole('alert').filter({ hasText: 'withdrawn' })).toBeVisible();
  await stranger.close();
});

test('a person with an account joins another tenant with its password, never a new one', async ({ page, browser }) => {
  await signIn(page, user('admin@demo-brokerage.example'));
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('Email').fill('analyst@other-brokerage.example');
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByLabel('Invitation link').inputValue();

  const theirs = await browser.newContext();
  const invited = await theirs.newPage();
  await invited.goto(link);
  // Choosing a new password for an account that exists is refused…
  await invited.getByLabel('New password', { exact: true }).fill('an admin would like this');
  await invited.getByLabel('Repeat the password').fill('an admin would like this');
  await invited.getByRole('button', { name: 'Create my account and join' }).click();
  await expect(invited.getByRole('alert').filter({ hasText: 'has an oms-audit account already' })).toBeVisible();
  // …the account's own password joins it.
  await invited.getByLabel('Password of analyst@other-brokerage.example').fill(process.env.OMS_E2E_PASSWORD!);
  await invited.getByRole('button', { name: 'Sign in and join' }).click();
  await expect(invited.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(invited.getByLabel('Tenant')).toHaveValue(/.+/);
  await expect(invited.getByLabel('Tenant').getByRole('option')).toHaveText(['Demo Brokerage (viewer)', 'Other Brokerage (viewer)']);
  await theirs.close();
});

test('a user changes their own password and signs out everywhere', async ({ page, browser }, testInfo) => {
  const me = user('account@demo-brokerage.example');
  const elsewhere = await browser.newContext();
  const otherPage = await elsewhere.newPage();
  await signIn(otherPage, me);
  await signIn(page, me);
  await page.getByRole('link', { name: me.email }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your account');
  // Three sessions (and the header row): accepting the invitation signed them in too, then the two browsers here.
  const sessions = page.getByRole('table', { name: 'Your active sessions' });
  await expect(sessions.getByRole('row')).toHaveCount(4);
  await expect(sessions.getByRole('row').filter({ hasText: 'invitation' })).toHaveCount(1);
  await expect(sessions).toContainText('(this session)');
  await expectAccessible(page, 'account');
  await screenshot(page, testInfo, 'account');

  // Without the current password, nothing changes.
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password', { exact: true }).fill('my next long password');
  await page.getByLabel('Repeat the new password').fill('my next long password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'current password is wrong' })).toBeVisible();
  await page.getByLabel('Current password').fill(me.password);
  await page.getByLabel('New password', { exact: true }).fill('my next long password');
  await page.getByLabel('Repeat the new password').fill('my next long password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password changed; 2 other sessions ended' })).toBeVisible();
  // The other browser's session has ended.
  await otherPage.reload();
  await expect(otherPage).toHaveURL(/\/sign-in$/);
  await elsewhere.close();

  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await signIn(page, { email: me.email, password: 'my next long password' });
});

test('after sign-in, ?next= leads only to a path of this site', async ({ page }) => {
  for (const next of ['/%5Cevil.example', '//evil.example', '/%2F%2Fevil.example']) {
    await page.goto(`${base()}/sign-in?next=${next}`);
    await page.getByLabel('Email').fill(auditor().email);
    await page.getByLabel('Password').fill(auditor().password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
    expect(new URL(page.url()).origin).toBe(base());
    expect(new URL(page.url()).pathname).toBe('/');
    await signOut(page);
    await expect(page).toHaveURL(/\/sign-in$/);
  }
  // A path of the site is kept.
  await page.goto(`${base()}/sign-in?next=${encodeURIComponent('/exports')}`);
  await page.getByLabel('Email').fill(auditor().email);
  await page.getByLabel('Password').fill(auditor().password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${base()}/exports`);
});

test('a viewer can search but cannot export or open API keys', async ({ page }) => {
  await signIn(page, user('viewer@demo-brokerage.example'));
  await expect(page.getByTestId('result-count')).toHaveText(/events/);
  await expect(page.getByRole('link', { name: 'Export CSV' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'API keys' })).toHaveCount(0);
  await page.goto(`${base()}/admin/api-keys`);
  await expect(page.getByRole('alert').filter({ hasText: 'needs the admin role' })).toBeVisible();
  const exported = await page.request.get(`${base()}/api/v1/audit/events/export?format=csv`);
  expect(exported.status()).toBe(403);
});

test("a user of another tenant cannot reach this tenant's event by URL", async ({ page, browser }) => {
  await signIn(page, auditor());
  await page.goto(`${base()}/?object_id=${ORDER}`);
  await page.getByRole('table', { name: 'Matching events' }).getByRole('row').nth(1).getByRole('link', { name: /^Open event/ }).click();
  await expect(page).toHaveURL(/\/events\//);
  const eventUrl = page.url();

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, user('compliance@other-brokerage.example'));
  await otherPage.goto(eventUrl);
  await expect(otherPage.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await expect(otherPage.getByText(ORDER)).toHaveCount(0);
  const api = await otherPage.request.get(`${base()}/api/v1/audit/events/${eventUrl.split('/').pop()}`);
  expect(api.status()).toBe(404);
  await other.close();
});

test('an auditor sees the trail verified, an event with its proof, and a bundle that verifies offline', async ({ page }, testInfo) => {
  // Two verifications, a wait of up to 45 s for the demo data's seal, then a bundle built and verified: more than one
  // test's usual 90 s on a loaded machine.
  test.setTimeout(180_000);
  await signIn(page, auditor());
  await page.getByRole('link', { name: 'Integrity' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Integrity');
  const keyId = (await page.getByTitle('SHA-256 of the public key (DER)').textContent())!.trim();
  expect(keyId).toMatch(/^[0-9a-f]{64}$/);
  // The fingerprint a customer pins their own monitor to, with the command to run.
  await expect(page.getByTestId('monitor-command')).toContainText(`--fingerprint ${keyId}`);
  await expect(page.getByTestId('anchor-state')).toContainText('Checkpoints anchored through');
  await page.getByRole('button', { name: 'Verify now' }).click();
  await expect(page.getByRole('status').filter({ hasText: /events checked/ })).toContainText('Intact');
  await expect(page.getByTestId('verification-result')).toHaveText('Intact');
  // Run again, it checks only what was sealed since, on top of the signed result just recorded, and says so.
  await page.getByRole('button', { name: 'Verify now' }).click();
  await expect(page.getByRole('status').filter({ hasText: /events checked/ })).toContainText('(incremental)');
  await expect(page.getByTestId('verification-coverage')).toContainText('Incremental:');
  await expectAccessible(page, 'integrity');
  await screenshot(page, testInfo, 'integrity');

  // The demo data is sealed within one sealing interval of the start.
  await page.goto(`${base()}/?object_id=${ORDER}&event_type=CREATE`);
  await page.getByRole('table', { name: 'Matching events' }).getByRole('row').nth(1).getByRole('link', { name: /^Open event/ }).click();
  // The link navigates client-side: reload only once the event's URL is current.
  await expect(page).toHaveURL(/\/events\/[0-9a-f-]{36}$/);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('integrity-state')).toHaveText('Verified', { timeout: 1000 });
  }).toPass({ timeout: 45_000 });
  await expect(page.getByRole('link', { name: 'Download proof (JSON)' })).toBeVisible();
  // Which credential wrote the event: the demo data is the operator's.
  await expect(page.getByTestId('written-by')).toHaveText('Written with operator:demo-data');

  // The bundle of a filtered search, checked by its own verifier with the key's fingerprint.
  await page.goto(`${base()}/?object_id=${ORDER}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-bundle').click()]);
  expect(download.suggestedFilename()).toMatch(/-bundle\.zip$/);
  const dir = testInfo.outputPath('bundle');
  const root = await unzipTo((await download.path())!, dir);
  const run = spawnSync(process.execPath, [path.join(root, 'verify.mjs'), '--fingerprint', keyId, root], { encoding: 'utf8' });
  expect(run.stdout).toMatch(/^VERIFIED: \d+ rows/);
  expect(run.status).toBe(0);
});

test('an admin sets the retention policy and places and releases a legal hold', async ({ page }, testInfo) => {
  await signIn(page, user('admin@demo-brokerage.example'));
  await page.getByRole('link', { name: 'Retention' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Retention');
  await expect(page.getByRole('table', { name: 'Months and where their events are' }).getByRole('row').nth(1)).toBeVisible();

  // Below the operator's floor is refused; a longer retention is accepted and shown.
  await page.getByLabel('Total years').fill('2');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'below the operator' })).toBeVisible();
  await page.getByLabel('Total years').fill('12');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByTestId('retention-policy')).toContainText('12 years in total');

  await page.getByLabel('Reason').fill('FINRA inquiry e2e');
  await page.getByLabel('Object type').fill('ORDER');
  await page.getByLabel('Object ID').fill(ORDER);
  await page.getByRole('button', { name: 'Place hold' }).click();
  const holds = page.getByRole('list', { name: 'Active legal holds' });
  await expect(holds).toContainText('FINRA inquiry e2e');
  await expectAccessible(page, 'retention');
  await screenshot(page, testInfo, 'retention');
  await holds.getByRole('listitem').filter({ hasText: 'FINRA inquiry e2e' }).getByRole('button', { name: 'Release' }).click();
  await page.getByLabel('Reason for the release').fill('Inquiry closed');
  await page.getByRole('button', { name: 'Release hold' }).click();
  await expect(page.getByText('No active legal hold.')).toBeVisible();

  // Both changes are in the tenant's own trail.
  await page.goto(`${base()}/?source=oms-audit-retention`);
  await expect(page.getByRole('table', { name: 'Matching events' })).toContainText('LEGAL_HOLD');
});

test('an admin sees the System page: ingest chart, process figures and month partition sizes', async ({ page }, testInfo) => {
  const key = process.env.OMS_E2E_API_KEY!;
  const logged = await page.request.post(`${base()}/api/v1/audit/events`, {
    headers: { authorization: `Bearer ${key}` },
    data: { events: [1, 2, 3].map((n) => ({ actor_id: 'e2e-system', actor_type: 'SYSTEM', object_type: 'ORDER', object_id: `ORD-SYS-${n}`, event_type: 'CREATE', context: {} })) },
  });
  expect(logged.status()).toBe(201);

  await signIn(page, user('admin@demo-brokerage.example'));
  await page.getByRole('link', { name: 'System' }).click();
  await expect(page.getByRole('heading', { name: 'System', level: 1 })).toBeVisible();
  const chart = page.getByTestId('ingest-chart');
  await expect(chart).toBeVisible();
  await expect(chart.locator('rect')).toHaveCount(60);
  expect(await chart.locator('rect:not([data-events="0"])').count()).toBeGreaterThan(0);
  await expect(page.getByTestId('ingest-total')).toContainText(/[1-9][\d,]* events received/);
  await expect(page.getByTestId('error-rate')).toBeVisible();
  const month = new Date().toISOString().slice(0, 7);
  const partitions = page.getByRole('table', { name: 'Month partitions and their size' });
  await expect(partitions.getByRole('row').filter({ hasText: month })).toContainText(/\d+(\.\d)? (B|KiB|MiB|GiB)/);
  await expectAccessible(page, 'system');
  await screenshot(page, testInfo, 'system');

  // Not for viewers: no link, and the page says who may see it.
  await signOut(page);
  await signIn(page, user('viewer@demo-brokerage.example'));
  await expect(page.getByRole('link', { name: 'System' })).toHaveCount(0);
  await page.goto(`${base()}/admin/system`);
  await expect(page.getByRole('alert').filter({ hasText: 'needs the admin role' })).toBeVisible();
});
