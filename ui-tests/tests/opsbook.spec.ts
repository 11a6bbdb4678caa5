import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The quickstart notebook. Each test gets its own copy in a folder of the server's workspace (a
 * temp copy of examples/ with OPSBOOK_WORKSPACE pointing at it), so all runs land in one fresh store.
 */
const NOTEBOOK = 'quickstart.ipynb';
const NOTEBOOK_SOURCE = path.resolve(__dirname, '..', '..', 'examples', NOTEBOOK);
/** Index of the `%%track` cell in the quickstart notebook. */
const TRACK_CELL = 6;
const RUN_NAME = 'sgd-logistic';
/**
 * Where `make screenshots` wants the README's images copied. Unset, screenshots stay in the test's
 * output folder (with its other results), so an ordinary run of the suite leaves docs/ alone.
 */
const SCREENSHOTS_DIR = process.env.OPSBOOK_SCREENSHOTS_DIR;

/** Perceived brightness (0-255) of a CSS colour such as `rgb(34, 34, 34)` or `rgba(255, 255, 255, 0.87)`. */
function brightness(cssColour: string): number {
  const [r, g, b] = (cssColour.match(/[\d.]+/g) ?? ['0', '0', '0']).map(Number);
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

async function openQuickstart(page: IJupyterLabPageFixture, tmpPath: string): Promise<void> {
  await page.contents.uploadFile(NOTEBOOK_SOURCE, `${tmpPath}/${NOTEBOOK}`);
  expect(await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`)).toBe(true);
  await page.notebook.activate(NOTEBOOK);
  expect(await page.notebook.getCellTextInput(TRACK_CELL)).toContain('%%track --experiment quickstart');
}

test.describe('Opsbook in JupyterLab', () => {
  test.use({ viewport: { width: 1280, height: 900 } });

  test('runs appear live in the sidebar and open with params and charts', { tag: '@screenshots' }, async ({ page, tmpPath }, testInfo) => {
    const screenshots: string[] = [];
    const screenshot = async (name: string): Promise<void> => {
      screenshots.push(testInfo.outputPath(name));
      await page.screenshot({ path: testInfo.outputPath(name) });
    };
    const opsbookErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && /opsbook/i.test(message.text())) opsbookErrors.push(message.text());
    });
    await openQuickstart(page, tmpPath);

    // The sidebar's keyboard shortcut (Accel Shift O) opens it.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+O');
    const sidebar = page.locator('#opsbook-sidebar');
    await expect(sidebar).toBeVisible();
    // Loaded: empty, or the groups of runs other tests of this server made.
    await expect(sidebar.locator('.opsbook-ExperimentsPanel')).toContainText(/No runs yet|\d+ runs?/);

    const running = page.notebook.run();
    const row = sidebar.locator('button.opsbook-RunList-run', { hasText: RUN_NAME }).first();
    // While the %%track cell is still training, the run is listed as running.
    await expect(row.locator('.opsbook-badge-running')).toBeVisible({ timeout: 60_000 });
    expect(await running).toBe(true);

    await expect(row.locator('.opsbook-badge-finished')).toHaveText('Finished');
    await expect(sidebar.locator('.opsbook-RunList-groupTitle', { hasText: 'quickstart' })).toBeVisible();
    await expect(row).toContainText('val_accuracy');

    // Rows are buttons: Tab-focusable, Enter opens.
    await row.focus();
    await page.keyboard.press('Enter');
    await expect(page.locator('.lm-TabBar-tab', { hasText: `Run ${RUN_NAME}` })).toBeVisible();
    const view = page.locator('.jp-MainAreaWidget:visible .opsbook-RunDetail');
    await expect(view.locator('h2')).toContainText('Finished');
    const params = view.locator('.opsbook-RunDetail-params');
    await expect(params).toContainText('alpha');
    await expect(params).toContainText('log_loss');
    await expect(view.locator('.js-plotly-plot')).toHaveCount(4);
    await expect(view.locator('.opsbook-MetricChart[data-metric="val_accuracy"] .js-plotly-plot')).toBeVisible();
    await expect(view.getByRole('region', { name: 'Source (cell)' }).locator('pre code')).toContainText('opsbook.log_metrics');

    await screenshot('sidebar.png');

    // Plotly draws with explicit colours; the charts re-read them from CSS when the theme changes.
    const tickLabel = view.locator('.opsbook-MetricChart[data-metric="val_accuracy"] .xtick text').first();
    const tickFill = (): Promise<string> => tickLabel.evaluate((el) => getComputedStyle(el).fill);
    expect(brightness(await tickFill())).toBeLessThan(128);
    await page.theme.setDarkTheme();
    await expect.poll(async () => brightness(await tickFill())).toBeGreaterThan(128);
    await screenshot('run-dark.png');
    expect(opsbookErrors).toEqual([]);

    // Only once everything above held: the README shows what the test saw pass.
    if (SCREENSHOTS_DIR) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      for (const file of screenshots) copyFileSync(file, path.join(SCREENSHOTS_DIR, path.basename(file)));
    }
  });

  test('the %%track cell shows a run card that opens its run', async ({ page, tmpPath }) => {
    await openQuickstart(page, tmpPath);
    expect(await page.notebook.run()).toBe(true);

    const output = await page.notebook.getCellOutputLocator(TRACK_CELL);
    expect(output).not.toBeNull();
    const card = output!.locator('.opsbook-RunCard');
    await expect(card).toBeVisible();
    await expect(card).toContainText(RUN_NAME);
    await expect(card.locator('.opsbook-badge-finished')).toHaveText('Finished');
    await expect(card).toContainText('val_accuracy');

    await card.getByRole('button', { name: 'Open run' }).click();
    const runId = await card.getAttribute('data-run-id');
    const view = page.locator(`.jp-MainAreaWidget:visible .opsbook-RunDetail[data-run-id="${runId}"]`);
    await expect(view.locator('.opsbook-RunDetail-name')).toHaveText(RUN_NAME);
    await expect(page.locator('#opsbook-sidebar')).toBeVisible();
  });
});

test.describe('Opsbook sidebar states', () => {
  /** The run list request; intercepted to stand in for a daemon that cannot be reached. */
  const RUN_LIST = /\/opsbook\/api\/v1\/runs(\?|$)/;

  test('shows why runs cannot be read (daemon answer intercepted) and recovers', async ({ page }) => {
    const message = 'opsbook daemon unavailable for /workspace: connection refused';
    await page.route(RUN_LIST, (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'internal', message } }) }),
    );
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    const panel = page.locator('#opsbook-sidebar .opsbook-ExperimentsPanel');
    await expect(panel.getByRole('alert')).toContainText(message);

    await page.unroute(RUN_LIST);
    await panel.getByRole('button', { name: 'Retry' }).click();
    await expect(panel.getByRole('alert')).toHaveCount(0);
    await expect(panel).toContainText(/No runs yet|quickstart/);
  });
});
