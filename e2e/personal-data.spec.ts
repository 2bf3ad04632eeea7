/**
 * The erasure page, in Chromium: a tenant admin reaches it from a person's
 * actor page, is shown plainly that a legal hold refuses the erasure (which
 * hold, how many events), and once the hold is released must type a reason
 * and the subject id exactly before Erase is enabled; afterwards the person's
 * fields are marked erased on the event page while another person's stay as
 * sent — including a client name sent as the text "[erased]", which shows as
 * that text, never marked. An export with the personal data opened carries the
 * other person's values (the literal "[erased]" among them) and lists the
 * erased person's fields as erased, and says how many erased fields its
 * manifest lists. Viewers see neither the page nor its link.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { base, cli, expectAccessible, screenshot, signIn, signOut, user } from './helpers.ts';

/** Stricter than expectAccessible for this page: no axe violation of any impact. */
async function expectNoViolations(page: Page, name: string) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  expect(violations.map((v) => `${v.id} (${v.impact}): ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), `accessibility of ${name}`).toEqual([]);
}

test('an admin erases a person: refused under a legal hold, typed confirmation, then the fields are marked erased', async ({ page }, testInfo) => {
  // A tenant of its own that seals personal data, with an admin who joined by invitation.
  const suffix = randomUUID().slice(0, 8);
  const tenant = cli(['tenant', 'create', '--name', `Erasure Brokerage ${suffix}`]);
  const tenantId = String(tenant.id);
  cli(['personal-data', 'declare', '--tenant', tenantId, '--outside-retention']);
  const adminEmail = `dpo-${suffix}@erasure-brokerage.example`;
  const invited = cli(['user', 'invite', '--email', adminEmail, '--tenant', tenantId, '--role', 'admin', '--url', base()]);
  // Accepted outside the browser (accepting signs in; the test signs in as a person does).
  const accepted = await fetch(`${base()}/api/auth/invitation/accept`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: invited.token, as: 'new_account', password: process.env.OMS_E2E_PASSWORD }),
  });
  expect(accepted.status).toBe(200);
  const key = String(cli(['key', 'create', '--tenant', tenantId, '--scopes', 'events:write']).key);

  const subject = `ines.${suffix}@broker.example`;
  const other = `jon.${suffix}@broker.example`;
  const trade = (actor: string, order: string, ip: string, clientName = `client of ${order}`) => ({
    actor_type: 'TRADER',
    actor_id: actor,
    object_type: 'ORDER',
    object_id: order,
    event_type: 'CREATE',
    ip_address: ip,
    context: { client_name: clientName, qty: 100 },
  });
  const logged = await page.request.post(`${base()}/api/v1/audit/events`, {
    headers: { authorization: `Bearer ${key}` },
    data: { events: [trade(subject, 'ORD-INES-1', '192.0.2.41'), trade(subject, 'ORD-INES-2', '192.0.2.41'), trade(other, 'ORD-JON-1', '192.0.2.42'), trade(other, 'ORD-JON-2', '192.0.2.42', '[erased]')] },
  });
  expect(logged.status()).toBe(201);
  const ids = ((await logged.json()) as { ids: string[] }).ids;
  const hold = cli(['hold', 'add', '--tenant', tenantId, '--reason', 'Litigation 2026-7', '--object-type', 'ORDER', '--object-id', 'ORD-INES-2']);

  await signIn(page, user(adminEmail));
  await expect(page.getByRole('link', { name: 'Personal data' })).toBeVisible();
  await page.goto(`${base()}/actors/${encodeURIComponent(subject)}`);
  await page.getByRole('link', { name: /Erase this person/ }).click();
  await expect(page.getByRole('heading', { name: 'Personal data', level: 1 })).toBeVisible();
  await expect(page.getByLabel(/Subject id/)).toHaveValue(subject);

  // Refused under the hold, plainly: which hold, how many of the person's events; no Erase button at all.
  const refusal = page.getByTestId('erasure-refusal');
  await expect(refusal).toContainText('The erasure is refused now; nothing would be changed.');
  const holds = refusal.getByRole('table', { name: /Active legal holds/ });
  await expect(holds).toContainText(String(hold.id));
  await expect(holds).toContainText('Litigation 2026-7');
  await expect(holds.getByRole('row').nth(1).getByRole('cell').nth(2)).toHaveText('1');
  await expect(page.getByRole('button', { name: 'Erase', exact: true })).toHaveCount(0);
  await expectNoViolations(page, 'personal data, refused');
  await screenshot(page, testInfo, 'personal-data-refused');

  // Released: the erasure is offered, but only after a reason and the subject id typed exactly.
  cli(['hold', 'release', '--id', String(hold.id), '--reason', 'Settled']);
  await page.reload();
  await expect(page.getByTestId('erasure-subject')).toContainText('1 live key(s)');
  await expect(page.getByTestId('erasure-subject')).toContainText('Checked 2 event(s) in PostgreSQL and 0 in archived months');
  const erase = page.getByRole('button', { name: 'Erase', exact: true });
  await expect(erase).toBeDisabled();
  await page.getByLabel('Reason for the erasure').fill('GDPR request 2026-118');
  await expect(erase).toBeDisabled();
  const confirm = page.getByLabel('Type the subject id to confirm');
  await confirm.fill(subject.toUpperCase());
  await expect(erase).toBeDisabled();
  await expect(page.getByText('The confirmation does not match the subject id exactly.')).toBeVisible();
  await confirm.fill(subject);
  await expect(erase).toBeEnabled();
  await expectNoViolations(page, 'personal data, confirmation');
  await screenshot(page, testInfo, 'personal-data-confirm');
  await erase.click();
  await expect(page.getByTestId('erasure-result')).toContainText('Erased: 1 key(s) destroyed; 2 event(s) in PostgreSQL');
  await expectNoViolations(page, 'personal data, erased');

  // The person's event now marks every personal field erased; the other person's is as sent.
  await page.goto(`${base()}/events/${ids[0]}`);
  const main = page.locator('main');
  await expect(main.getByRole('heading', { level: 1 })).toBeVisible();
  // The actor in the header and in the fields, the IP address and user agent fields: marked, not written as a value.
  expect(await main.getByTestId('erased-field').count()).toBeGreaterThanOrEqual(3);
  await expect(main.getByTestId('erased-context')).toContainText('client_name');
  await expect(main).not.toContainText(subject);
  await expect(main).not.toContainText('192.0.2.41');
  await expect(main).not.toContainText('client of ORD-INES-1');
  await expectAccessible(page, 'event page, erased');
  await page.goto(`${base()}/events/${ids[2]}`);
  await expect(main).toContainText(other);
  await expect(main).toContainText('192.0.2.42');
  await expect(main.getByTestId('erased-field')).toHaveCount(0);
  // A client name sent as the text "[erased]" is that text, and nothing is marked erased.
  await page.goto(`${base()}/events/${ids[3]}`);
  await expect(main).toContainText('"client_name": "[erased]"');
  await expect(main.getByTestId('erased-field')).toHaveCount(0);
  await expect(main.getByTestId('erased-context')).toHaveCount(0);

  // An export of the orders with personal data opened: the other person readable, the erased one's fields listed as erased.
  await page.goto(`${base()}/?object_type=ORDER`);
  await expect(page.getByTestId('result-count')).toHaveText(/4 events/);
  // In the results, the erased person's two events mark the actor erased; the other person's are named.
  const results = page.getByTestId('results-scroll');
  await expect(results.getByTestId('erased-field')).toHaveCount(2);
  await expect(results.getByRole('link', { name: other, exact: true })).toHaveCount(2);
  await page.getByLabel('Personal data').selectOption('opened');
  await expect(page.getByTestId('export-parquet')).toBeDisabled();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-jsonl').click()]);
  const lines = (await readFile((await download.path())!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toHaveLength(4);
  const cells = lines.map((l) => l.personal_opened as { erased: string[]; values: Record<string, unknown> });
  const opened = cells.map((c) => JSON.stringify(c.values));
  expect(opened.filter((o) => o.includes(other) && o.includes('192.0.2.42') && o.includes('client of ORD-JON-1'))).toHaveLength(1);
  expect(cells.filter((c) => c.erased.includes('/actor_id') && c.erased.includes('/context/client_name'))).toHaveLength(2);
  // The literal "[erased]" is a value of the other person's event, which lists nothing as erased.
  expect(cells.filter((c) => c.values['/context/client_name'] === '[erased]' && c.erased.length === 0)).toHaveLength(1);
  expect(JSON.stringify(cells)).not.toContain(subject);
  await expect(page.getByTestId('export-result-personal')).toContainText(/personal data opened, [1-9]\d* erased fields listed in the manifest/);
  await expectNoViolations(page, 'search with an opened export');

  // Checking the person again says they were erased.
  await page.goto(`${base()}/admin/personal-data?subject=${encodeURIComponent(subject)}`);
  await expect(page.getByText(/Already erased at/)).toBeVisible();

  // Not for viewers: no link, and the page says who may use it.
  await signOut(page);
  await signIn(page, user('viewer@demo-brokerage.example'));
  await expect(page.getByRole('link', { name: 'Personal data' })).toHaveCount(0);
  await page.goto(`${base()}/admin/personal-data`);
  await expect(page.getByRole('alert').filter({ hasText: 'Not allowed' })).toContainText("Erasing a person's personal data needs the admin role in this tenant.");
});
