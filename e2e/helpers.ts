import { spawnSync } from 'node:child_process';
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, type TestInfo } from '@playwright/test';

export const base = () => process.env.OMS_E2E_BASE_URL!;
export const auditor = () => ({ email: process.env.OMS_E2E_AUDITOR_EMAIL!, password: process.env.OMS_E2E_AUDITOR_PASSWORD! });
export const user = (email: string) => ({ email, password: process.env.OMS_E2E_PASSWORD! });

export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto(`${base()}/sign-in`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** Signs out and waits until the sign-out has reached the server and the sign-in page is shown. */
export async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/sign-in/);
  await expect(page.getByLabel('Email')).toBeVisible();
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function expectAccessible(page: Page, name: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), `accessibility of ${name}`).toEqual([]);
}

/** A full-page screenshot kept with the test's artefacts. */
export async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

/** Runs the oms-audit CLI with --json and returns its output; throws with its output when it fails. */
export function cli(args: string[], env: NodeJS.ProcessEnv = cliEnv()): Record<string, unknown> {
  const run = spawnSync(process.execPath, ['bin/oms-audit.mjs', ...args, '--json'], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`oms-audit ${args.join(' ')} failed: ${run.stdout}${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** The environment in which the CLI reaches the server's own data folder and PostgreSQL (set by the global setup). */
export function cliEnv(): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, OMS_AUDIT_DEMO: _demo, ...inherited } = process.env;
  return { ...inherited, OMS_AUDIT_DATA_DIR: process.env.OMS_E2E_DATA_DIR, OMS_AUDIT_PG_PORT: process.env.OMS_E2E_PG_PORT };
}

export { unzipTo } from '../test/unzip.ts';
