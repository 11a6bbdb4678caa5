import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext, Locator, Request } from '@playwright/test';
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

/** The Opsbook API as the page reaches it: through the Jupyter server's proxy. */
const API = '/opsbook/api/v1';
/** Long enough for a poll of the list, if there were one, to show itself. */
const QUIET_MS = 3500;
/** Where `make screenshots` wants the README's images copied (see opsbook.spec.ts). */
const SCREENSHOTS_DIR = process.env.OPSBOOK_SCREENSHOTS_DIR;

interface ApiRun {
  id: string;
  name: string;
  starred?: boolean;
  deleted?: boolean;
}

/** A finished run with one param and a last `loss`, made through the API as a script would. */
async function createRun(request: APIRequestContext, experiment: string, name: string, lr: string, loss: number): Promise<string> {
  const created = await request.post(`${API}/runs`, { data: { experiment, name } });
  expect(created.status()).toBe(201);
  const id = ((await created.json()) as { id: string }).id;
  expect((await request.post(`${API}/runs/${id}/params`, { data: { params: { lr } } })).ok()).toBe(true);
  const points = [0, 1].map((step) => ({ key: 'loss', value: loss + (1 - step), step, timestamp: Date.now() }));
  expect((await request.post(`${API}/runs/${id}/metrics`, { data: { metrics: points } })).ok()).toBe(true);
  expect((await request.patch(`${API}/runs/${id}`, { data: { status: 'finished' } })).ok()).toBe(true);
  return id;
}

/** A run as listed (with its annotations), deleted or not. */
async function readRun(request: APIRequestContext, experiment: string, runId: string): Promise<ApiRun | undefined> {
  const response = await request.get(`${API}/runs`, { params: { experiment, deleted: 'include' } });
  expect(response.status()).toBe(200);
  return ((await response.json()) as { runs: ApiRun[] }).runs.find((run) => run.id === runId);
}

/**
 * Reloads the page without waiting for a launcher tab (galata's readiness check), which a restored
 * layout need not have. galata's reload takes `waitForIsReady`; the fixture's type shows Playwright's.
 */
async function reloadWithoutLauncher(page: IJupyterLabPageFixture): Promise<void> {
  const reload = page.reload as (options: { waitForIsReady: boolean }) => Promise<unknown>;
  await reload.call(page, { waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => window.jupyterapp?.commands.hasCommand('opsbook:open-runs-table'));
}

async function openTable(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('opsbook:open-runs-table');
  });
  const table = page.locator('.jp-MainAreaWidget:visible .opsbook-RunsTable');
  await expect(table).toBeVisible();
  return table;
}

/** The names of the rows shown, top to bottom. */
async function rowNames(table: Locator): Promise<string[]> {
  return table.locator('.opsbook-RunsTable-rows [role="row"] .opsbook-RunsTable-nameText').allTextContents();
}

test.describe('Opsbook runs table', () => {
  test.use({ viewport: { width: 1400, height: 900 } });

  test('sorts, filters and chooses columns that survive a reload; stars, deletes and restores runs', { tag: '@screenshots' }, async ({
    page,
    request,
  }, testInfo) => {
    // A fresh experiment name, so runs of other tests in the same store do not match the filter.
    const experiment = `table-${Date.now().toString(36)}`;
    const ids = {
      high: await createRun(request, experiment, 'lr-high', '0.5', 0.9),
      mid: await createRun(request, experiment, 'lr-mid', '0.1', 0.4),
      low: await createRun(request, experiment, 'lr-low', '0.01', 0.2),
    };
    const table = await openTable(page);

    // A filter with a syntax error is shown under the box and not sent.
    const filter = table.getByRole('searchbox', { name: 'Filter runs' });
    await filter.fill('experiment =');
    await expect(table.locator('.opsbook-RunsTable-filterError')).toBeVisible();
    await expect(filter).toHaveAttribute('aria-invalid', 'true');
    await filter.fill(`experiment = "${experiment}"`);
    await filter.press('Enter');
    await expect(table.locator('.opsbook-RunsTable-filterError')).toHaveCount(0);
    await expect.poll(() => rowNames(table)).toEqual(['lr-low', 'lr-mid', 'lr-high']);

    // The column chooser lists the keys the runs have; choose the param and the metric.
    await table.getByRole('button', { name: 'Columns' }).click();
    const chooser = table.getByRole('dialog', { name: 'Choose columns' });
    await expect(chooser.getByRole('searchbox')).toBeFocused();
    await chooser.getByRole('searchbox').fill('lr');
    await chooser.getByRole('checkbox', { name: 'params.lr' }).check();
    await chooser.getByRole('searchbox').fill('loss');
    await chooser.getByRole('checkbox', { name: 'metrics.loss' }).check();
    await page.keyboard.press('Escape');
    await expect(chooser).toHaveCount(0);

    // Sort by the metric: the first click sorts largest first, the second smallest first.
    const lossHeader = table.locator('[role="columnheader"][data-column="metrics.loss"]');
    await lossHeader.getByRole('button').click();
    await expect(lossHeader).toHaveAttribute('aria-sort', 'descending');
    await expect.poll(() => rowNames(table)).toEqual(['lr-high', 'lr-mid', 'lr-low']);
    await lossHeader.getByRole('button').click();
    await expect(lossHeader).toHaveAttribute('aria-sort', 'ascending');
    await expect.poll(() => rowNames(table)).toEqual(['lr-low', 'lr-mid', 'lr-high']);
    await expect(table.locator(`[role="row"][data-run-id="${ids.high}"] [data-column="params.lr"]`)).toHaveText('0.5');

    // The state is kept in the workspace (saved after a short pause); a reload brings it back.
    await expect
      .poll(async () => ((await (await request.get(`${API}/settings/runs-table`)).json()) as { value?: { sort?: string } }).value?.sort)
      .toBe('metrics.loss');
    // Closed first, so the table opened again has only the workspace setting to start from.
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('application:close-all');
    });
    await reloadWithoutLauncher(page);
    const reloaded = await openTable(page);
    await expect(reloaded.getByRole('searchbox', { name: 'Filter runs' })).toHaveValue(`experiment = "${experiment}"`);
    await expect(reloaded.locator('[role="columnheader"][data-column="metrics.loss"]')).toHaveAttribute('aria-sort', 'ascending');
    await expect(reloaded.locator('[role="columnheader"][data-column="params.lr"]')).toBeVisible();
    await expect.poll(() => rowNames(reloaded)).toEqual(['lr-low', 'lr-mid', 'lr-high']);
    await expect(reloaded.locator(`[role="row"][data-run-id="${ids.mid}"] [data-column="params.lr"]`)).toHaveText('0.1');

    // While nothing changes nothing is read: the table follows the daemon's pushes, with no timer of its own.
    const reads: string[] = [];
    const onRequest = (sent: Request): void => {
      const url = new URL(sent.url());
      if (url.pathname === `${API}/runs`) reads.push(url.search);
    };
    page.on('request', onRequest);
    await page.waitForTimeout(QUIET_MS);
    page.off('request', onRequest);
    expect(reads).toEqual([]);

    // Star a run from its row.
    const midRow = reloaded.locator(`[role="row"][data-run-id="${ids.mid}"]`);
    await midRow.getByRole('button', { name: 'Star run lr-mid' }).click();
    await expect.poll(async () => (await readRun(request, experiment, ids.mid))?.starred).toBe(true);
    await expect(midRow.getByRole('button', { name: 'Star run lr-mid' })).toHaveAttribute('aria-pressed', 'true');

    // The screenshot shows the details pane of the focused run too.
    await midRow.click();
    await expect(reloaded.locator(`.opsbook-RunDetailsPane[data-run-id="${ids.mid}"]`)).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('runs-table.png') });

    // Soft-delete a run from the details pane: it leaves the list, and comes back with "Show deleted".
    const highRow = reloaded.locator(`[role="row"][data-run-id="${ids.high}"]`);
    await highRow.click();
    const details = reloaded.locator(`.opsbook-RunDetailsPane[data-run-id="${ids.high}"]`);
    await details.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => rowNames(reloaded)).toEqual(['lr-low', 'lr-mid']);
    await expect.poll(async () => (await readRun(request, experiment, ids.high))?.deleted).toBe(true);

    await reloaded.getByRole('checkbox', { name: 'Show deleted' }).check();
    await expect.poll(() => rowNames(reloaded)).toEqual(['lr-low', 'lr-mid', 'lr-high']);
    await expect(highRow).toHaveClass(/opsbook-RunsTable-deleted/);
    await highRow.click();
    await details.getByRole('button', { name: 'Restore' }).click();
    await expect.poll(async () => (await readRun(request, experiment, ids.high))?.deleted).toBe(false);
    await expect(highRow).not.toHaveClass(/opsbook-RunsTable-deleted/);

    if (SCREENSHOTS_DIR) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      copyFileSync(testInfo.outputPath('runs-table.png'), path.join(SCREENSHOTS_DIR, 'runs-table.png'));
    }
  });

  test('%opsbook runs list and runs show render the runs table and the run view in a notebook', async ({ page, request }) => {
    const experiment = `magic-${Date.now().toString(36)}`;
    const first = await createRun(request, experiment, 'b-run', '0.3', 0.5);
    await createRun(request, experiment, 'a-run', '0.7', 0.1);
    await page.notebook.createNew('runs-table.ipynb');
    await page.notebook.setCell(0, 'code', `%load_ext opsbook\n%opsbook runs list --experiment ${experiment}`);
    expect(await page.notebook.runCell(0)).toBe(true);
    const table = page.locator('.jp-OutputArea-output .opsbook-RunsTable');
    await expect(table).toBeVisible({ timeout: 60_000 });
    // Newest first, as `runs list` lists them; the output sorts and picks columns in the page.
    await expect.poll(() => rowNames(table)).toEqual(['a-run', 'b-run']);
    const nameHeader = table.locator('[role="columnheader"][data-column="name"]');
    await nameHeader.getByRole('button').click();
    await expect(nameHeader).toHaveAttribute('aria-sort', 'ascending');
    await nameHeader.getByRole('button').click();
    await expect(nameHeader).toHaveAttribute('aria-sort', 'descending');
    await expect.poll(() => rowNames(table)).toEqual(['b-run', 'a-run']);
    await table.getByRole('button', { name: 'Columns' }).click();
    await table.getByRole('checkbox', { name: 'params.lr' }).check();
    await expect(table.locator(`[role="row"][data-run-id="${first}"] [data-column="params.lr"]`)).toHaveText('0.3');
    // Read-only: no stars to press, no deleting from an output.
    await expect(table.getByRole('button', { name: /^Star run/ })).toHaveCount(0);

    // Running a cell may leave an empty one below; the new cell is the last.
    await page.notebook.addCell('code', `%opsbook runs show ${first}`);
    expect(await page.notebook.runCell((await page.notebook.getCellCount()) - 1)).toBe(true);
    const detail = page.locator(`.jp-OutputArea-output .opsbook-RunDetail[data-run-id="${first}"]`);
    await expect(detail).toBeVisible({ timeout: 60_000 });
    await expect(detail.locator('.opsbook-RunDetail-name')).toHaveText('b-run');
    await expect(detail.locator('.opsbook-RunDetail-params')).toContainText('0.3');
    await expect(detail.locator('.opsbook-RunDetail-metrics')).toContainText('loss');
  });
});
