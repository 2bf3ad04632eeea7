/** The Streams page, in Chromium: an admin adds a webhook stream to a real receiver and watches it catch up. */
import http from 'node:http';
import { expect, test } from '@playwright/test';
import { Webhook } from 'standardwebhooks';
import { freePort } from '../test/ports.ts';
import { expectAccessible, screenshot, signIn, user } from './helpers.ts';

test('an admin adds a webhook stream, is shown its secret once, and sees it deliver the trail up to date', async ({ page }, testInfo) => {
  // A receiver on this machine (the server under test allows private networks for it).
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
  try {
    await signIn(page, user('admin@demo-brokerage.example'));
    await page.getByRole('link', { name: 'Streams' }).click();
    await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
    await page.getByLabel('Stream name').fill('playwright siem');
    await page.getByLabel('Destination').selectOption('webhook');
    await page.getByLabel('Start with').selectOption('beginning');
    await page.getByLabel('Receiver URL (https://)').fill(`http://127.0.0.1:${port}/oms-audit`);
    await page.getByRole('button', { name: 'Add stream' }).click();

    const secret = await page.getByLabel('Webhook secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    const table = page.getByRole('table', { name: 'Log streams of this tenant' });
    await expect(table).toContainText('playwright siem');
    await expect(table).toContainText(`http://127.0.0.1:${port}/oms-audit`);
    await expect(page.getByTestId('stream-status-playwright siem')).toHaveText(/Up to date/, { timeout: 60_000 });
    await expect(page.getByTestId('stream-progress-playwright siem')).toHaveText(/through seq \d+ of \d+ sealed/);

    // What arrived is signed with the secret shown, and starts at seq 1.
    expect(received.length).toBeGreaterThan(0);
    const wh = new Webhook(secret);
    for (const r of received) expect(() => wh.verify(r.body, r.headers as Record<string, string>)).not.toThrow();
    expect(JSON.parse(received[0]!.body)).toMatchObject({ type: 'oms-audit.stream.batch', seq_from: 1 });

    // After a reload the secret is gone for good.
    await page.reload();
    await expect(page.getByLabel('Webhook secret')).toHaveCount(0);
    await expect(page.locator('body')).not.toContainText(secret);
    await expectAccessible(page, 'streams');
    await screenshot(page, testInfo, 'streams');

    await page.getByRole('button', { name: 'Pause stream playwright siem' }).click();
    await expect(page.getByTestId('stream-status-playwright siem')).toHaveText(/Paused/);
  } finally {
    await new Promise<void>((resolve) => {
      receiver.closeAllConnections();
      receiver.close(() => resolve());
    });
  }
});
