import { expect, test } from '@jupyterlab/galata';
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { widenSidebar } from './sidebar';

/** Where `make screenshots` wants the README's images copied (see opsbook.spec.ts). */
const SCREENSHOTS_DIR = process.env.OPSBOOK_SCREENSHOTS_DIR;

/** A notebook cell, run in the real kernel: a logistic regression fitted on four named features. */
function modelCell(variable: string): string {
  return [
    'import numpy as np, pandas as pd',
    'from sklearn.linear_model import LogisticRegression',
    'rng = np.random.default_rng(0)',
    'X = pd.DataFrame({',
    '    "age": rng.uniform(18, 80, 200),',
    '    "income": rng.uniform(10, 200, 200),',
    '    "tenure": rng.integers(0, 20, 200).astype(float),',
    '    "visits": rng.poisson(3, 200).astype(float),',
    '})',
    'y = (0.02 * X["income"] + 0.1 * X["tenure"] > 3).astype(int)',
    `${variable} = LogisticRegression(max_iter=500).fit(X, y)`,
    'print("fitted", X.shape)',
  ].join('\n');
}

function copyScreenshot(shot: string, name: string): void {
  if (!SCREENSHOTS_DIR) return;
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  copyFileSync(shot, path.join(SCREENSHOTS_DIR, name));
}

test.describe('Opsbook serving', () => {
  test.use({ viewport: { width: 1400, height: 1100 } });

  test('the Serve section serves a kernel model in one click and answers its pre-filled test request', { tag: '@screenshots' }, async ({ page }, testInfo) => {
    const variable = `churn_${Date.now().toString(36)}`;
    await page.notebook.createNew('serve.ipynb');
    await page.notebook.setCell(0, 'code', modelCell(variable));
    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('fitted (200, 4)');

    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    const panel = page.locator('#opsbook-sidebar #opsbook-serve');
    await expect(panel).toBeVisible();
    // Room for the section: the experiments and models sections fold away.
    for (const title of ['Experiments', 'Models']) {
      const header = page.locator('#opsbook-sidebar .jp-AccordionPanel-title', { hasText: title }).first();
      if ((await header.count()) > 0 && (await header.getAttribute('aria-expanded')) === 'true') await header.click();
    }
    await panel.getByRole('button', { name: 'Refresh' }).click();

    // One click on the kernel's fitted model: log_model in the kernel, then the daemon serves it.
    const serve = panel.getByRole('button', { name: `Serve ${variable}` });
    await expect(serve).toBeVisible({ timeout: 60_000 });
    await serve.click();
    const card = panel.locator('article.opsbook-Endpoint').first();
    await expect(panel.locator('.opsbook-ServePanel-error')).toHaveCount(0);
    await expect(card.locator('.opsbook-ServeStatus')).toHaveText('Ready', { timeout: 120_000 });
    await expect(panel.locator('.opsbook-ServePanel-error')).toHaveCount(0);
    await expect(card.locator('.opsbook-Endpoint-name')).toHaveText(variable.replace(/_/g, '-'));
    await expect(panel.locator('.opsbook-ServePanel-headRow')).toContainText('1 running endpoint');
    await expect(card.locator('.opsbook-Endpoint-link')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(card.locator('.opsbook-Endpoint-device')).toHaveText(/^(CPU|CUDA)$/);
    await expect(card.locator('.opsbook-Endpoint-models')).toContainText(`${variable}:1 X FP32[-1,4]`);
    // The registry now holds the exported model.
    await expect(panel.getByRole('button', { name: `Serve ${variable}` })).toHaveCount(2);

    // The test form starts from the logged sample row: X's first row as FP32 [1, 4].
    await card.locator('summary', { hasText: 'Send test request' }).click();
    const body = card.getByRole('textbox');
    await expect(body).toBeVisible();
    const request = JSON.parse(await body.inputValue()) as { inputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
    expect(request.inputs.map((i) => [i.name, i.datatype, i.shape])).toEqual([['X', 'FP32', [1, 4]]]);
    expect(request.inputs[0].data).toHaveLength(4);
    await card.getByRole('button', { name: 'Send test request' }).click();
    const result = card.locator('.opsbook-ServeTest-result');
    await expect(result.locator('.opsbook-ServeTest-status')).toHaveText(/^HTTP 200 in [\d.]+ (µs|ms)$/, { timeout: 30_000 });
    await expect(result.locator('pre')).toContainText('label INT64[1]: [');
    await expect(result.locator('pre')).toContainText('probabilities FP32[1, 2]: [');

    // A malformed edit: the server's 400 names the problem.
    await body.fill('{"inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}');
    await body.press('Control+Enter');
    await expect(result.locator('.opsbook-ServeTest-status')).toHaveText(/^HTTP 400 /, { timeout: 30_000 });
    await expect(result.locator('.opsbook-ServeTest-error')).not.toBeEmpty();
    await card.getByRole('button', { name: 'Reset' }).click();
    await card.getByRole('button', { name: 'Send test request' }).click();
    await expect(result.locator('.opsbook-ServeTest-status')).toHaveText(/^HTTP 200 /, { timeout: 30_000 });

    // The traffic reaches the sparkline through event: serve (one stats line a second while busy).
    const sparkline = card.getByRole('img', { name: /^Latency over the last \d+ s: p50 [\d.]+ (µs|ms)/ });
    await expect(sparkline).toBeVisible({ timeout: 30_000 });
    // Keyboard reachable: the sparkline takes focus and keeps its text.
    await sparkline.focus();
    await expect(sparkline).toBeFocused();
    await sparkline.blur();

    // Wide enough to read the request and the answer, as a user trying it would make it.
    await widenSidebar(page, 520);
    await expect(sparkline).toBeVisible();
    const shot = testInfo.outputPath('serve.png');
    await page.screenshot({ path: shot });
    copyScreenshot(shot, 'serve.png');

    // Dark theme: the card's text follows the theme's colour.
    const nameColour = (): Promise<string> => card.locator('.opsbook-Endpoint-name').evaluate((el) => getComputedStyle(el).color);
    const light = await nameColour();
    await page.theme.setDarkTheme();
    await expect.poll(nameColour).not.toBe(light);
    await page.locator('#opsbook-sidebar').screenshot({ path: testInfo.outputPath('serve-dark.png') });
    await page.theme.setLightTheme();

    // Stop: the server drains and exits; the card says so and offers no test any more.
    await card.getByRole('button', { name: /^Stop endpoint / }).click();
    await expect(card.locator('.opsbook-ServeStatus')).toHaveText('Stopped', { timeout: 30_000 });
    await expect(card.locator('details')).toHaveCount(0);
    await expect(panel.locator('.opsbook-ServePanel-headRow')).toContainText('0 running endpoints');
  });

  test('%serve shows the endpoint in the notebook, tests it there; the palette stops it and serves the registered version', async ({ page }) => {
    const variable = `lr_${Date.now().toString(36)}`;
    await page.notebook.createNew('serve-magic.ipynb');
    await page.notebook.setCell(0, 'code', `%load_ext opsbook\n${modelCell(variable)}`);
    await page.notebook.addCell('code', `%serve ${variable} --max-batch 8`);
    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('fitted (200, 4)');
    expect(await page.notebook.runCell(1)).toBe(true);

    const card = page.locator('.opsbook-EndpointRenderer article.opsbook-Endpoint');
    await expect(card.locator('.opsbook-ServeStatus')).toHaveText('Ready', { timeout: 120_000 });
    await expect(card.locator('.opsbook-Endpoint-link')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The output opens with its test form, pre-filled from the sample row.
    await card.getByRole('button', { name: 'Send test request' }).click();
    await expect(card.locator('.opsbook-ServeTest-status')).toHaveText(/^HTTP 200 /, { timeout: 30_000 });

    // The palette's Stop Endpoint picks the running endpoint and stops it; the output follows.
    await page.evaluate(async () => {
      void window.jupyterapp.commands.execute('opsbook:stop-endpoint');
    });
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible({ timeout: 30_000 });
    await dialog.locator('select').selectOption(variable.replace(/_/g, '-'));
    await dialog.getByRole('button', { name: /ok/i }).click();
    await expect(card.locator('.opsbook-ServeStatus')).toHaveText('Stopped', { timeout: 30_000 });

    // The palette's Serve Model… serves the version %serve registered, from the registry this time.
    await page.evaluate(async () => {
      void window.jupyterapp.commands.execute('opsbook:serve-model');
    });
    await expect(dialog).toBeVisible({ timeout: 30_000 });
    await dialog.locator('select').selectOption(`${variable}:1`);
    await dialog.getByRole('button', { name: /ok/i }).click();
    const panel = page.locator('#opsbook-sidebar #opsbook-serve');
    const served = panel.locator('article.opsbook-Endpoint[data-status="ready"]');
    await expect(served.locator('.opsbook-Endpoint-models')).toContainText(`${variable}:1`, { timeout: 120_000 });
    await expect(panel.locator('.opsbook-ServePanel-error')).toHaveCount(0);
    await served.getByRole('button', { name: /^Stop endpoint / }).click();
    await expect(panel.locator('article.opsbook-Endpoint[data-status="ready"]')).toHaveCount(0, { timeout: 30_000 });
  });
});
