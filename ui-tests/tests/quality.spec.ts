import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { widenSidebar } from './sidebar';

/** The Opsbook API as the page reaches it: through the Jupyter server's proxy. */
const API = '/opsbook/api/v1';
/** Where `make screenshots` wants the README's images copied (see opsbook.spec.ts). */
const SCREENSHOTS_DIR = process.env.OPSBOOK_SCREENSHOTS_DIR;

/**
 * A notebook cell, run in the real kernel: eight orders with planted defects. `age` is null in the
 * rows of id 2 and 8 and out of [0, 120] in those of id 4 (150) and 6 (-3); `id` is unique.
 */
const FRAME_CELL = [
  'import pandas as pd',
  'orders = pd.DataFrame({',
  '    "id": pd.array([1, 2, 3, 4, 5, 6, 7, 8], dtype="Int64"),',
  '    "age": pd.array([34, None, 51, 150, 28, -3, 45, None], dtype="Int64"),',
  '    "email": ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io", "g@x.io", "h@x.io"],',
  '})',
  'print("rows", len(orders))',
].join('\n');

/** Code that keeps the kernel busy until the test creates the file `release-kernel` beside the notebook. */
const BLOCKING_CODE = [
  'import os, time',
  'while not os.path.exists("release-kernel"):',
  '    time.sleep(0.1)',
].join('\n');

const SUITE = [
  'suite: orders',
  'checks:',
  '  - {check: unique, column: id}',
  '  - {check: not_null, column: age}',
  '  - {check: between, column: age, min: 0, max: 120}',
].join('\n');

/** The cell texts of a failing-rows sample, row by row. */
async function sampleCells(detail: Locator): Promise<string[][]> {
  return detail.locator('.opsbook-SampleGrid tbody tr').evaluateAll((rows) =>
    rows.map((row) => Array.from(row.querySelectorAll('td'), (cell) => (cell.textContent ?? '').trim())),
  );
}

/** The sample's column names (each header cell also shows its type). */
async function sampleColumns(detail: Locator): Promise<string[]> {
  return detail.locator('.opsbook-SampleGrid thead th').evaluateAll((cells) => cells.map((cell) => cell.firstChild?.textContent?.trim() ?? ''));
}

/** Waits for a job's outcome: `shown`, or the one-line error the panel shows instead (which fails the test, naming it). */
async function expectOutcome(panel: Locator, shown: Locator): Promise<void> {
  const error = panel.locator('.opsbook-QualityPanel-error');
  await expect(shown.or(error).first()).toBeVisible({ timeout: 60_000 });
  expect(await error.allTextContents()).toEqual([]);
  await expect(shown).toBeVisible();
}

test.describe('Opsbook data quality', () => {
  test.use({ viewport: { width: 1400, height: 1000 } });

  test('a suite run from the sidebar on a kernel dataframe shows its failing rows and a histogram', { tag: '@screenshots' }, async ({
    page,
    request,
    tmpPath,
  }, testInfo) => {
    const health = await request.get(`${API}/health`);
    expect(health.ok()).toBe(true);
    const workspace = ((await health.json()) as { workspace: string }).workspace;
    const handoff = path.join(workspace, '.opsbook', 'handoff');
    const handedOff = (): string[] => (existsSync(handoff) ? readdirSync(handoff) : []);

    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', FRAME_CELL);
    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('rows 8');

    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-quality');
    });
    const panel = page.locator('#opsbook-quality');
    await expect(panel).toBeVisible();

    // The kernel's dataframes, from the bridge's inventory.
    const frames = panel.getByRole('combobox', { name: 'Dataframe' });
    await expect(frames.locator('option[value="orders"]')).toHaveText('orders (pandas, 8 × 3)');
    await frames.selectOption('orders');

    // A suite the schema refuses is named with its line before anything runs.
    const editor = panel.getByRole('textbox', { name: 'Suite', exact: true });
    const run = panel.getByRole('button', { name: 'Run checks' });
    await editor.fill('suite: orders\nchecks:\n  - {check: between, column: 5, min: 0}');
    await expect(panel.locator('.opsbook-QualityPanel-suiteError')).toHaveText('line 3: /checks/0/column must be string: 5');
    await expect(editor).toHaveAttribute('aria-invalid', 'true');
    await expect(run).toBeDisabled();

    // A suite file of the workspace loads into the editor; one that is not there says so.
    await page.contents.uploadContent(SUITE, 'text', `${tmpPath}/orders.yaml`);
    const suiteFile = panel.getByRole('textbox', { name: 'Suite file' });
    await suiteFile.fill(`${tmpPath}/missing.yaml`);
    await suiteFile.press('Enter');
    await expect(panel.locator('.opsbook-QualityPanel-error')).toContainText(`Cannot load ${tmpPath}/missing.yaml`);
    await suiteFile.fill(`${tmpPath}/orders.yaml`);
    await panel.getByRole('button', { name: 'Load', exact: true }).click();
    await expect(editor).toHaveValue(SUITE);
    await expect(panel.locator('.opsbook-QualityPanel-error')).toHaveCount(0);
    await expect(panel.locator('.opsbook-QualityPanel-suiteError')).toHaveCount(0);

    // While the kernel is busy the frame waits to be written: the job shows its phase, and Cancel
    // (from the keyboard) stops it before the daemon is asked; the written frame is removed.
    // Sent on the notebook's own kernel connection, so the kernel gets it before the panel's push_frame.
    await page.evaluate((code) => {
      const notebook = window.jupyterapp.shell.currentWidget as unknown as {
        sessionContext: { session: { kernel: { requestExecute(content: { code: string }): unknown } } };
      };
      notebook.sessionContext.session.kernel.requestExecute({ code });
    }, BLOCKING_CODE);
    await run.click();
    await expect(panel.getByRole('progressbar', { name: 'Checking progress' })).toBeVisible();
    await expect(panel.locator('.opsbook-QualityPanel-phase')).toHaveText('Checking: Writing the dataframe from the kernel');
    const cancel = panel.getByRole('button', { name: 'Cancel' });
    await cancel.focus();
    await page.keyboard.press('Enter');
    await expect(panel.locator('.opsbook-QualityPanel-phase')).toHaveText('Checking: Cancelling');
    writeFileSync(path.join(workspace, tmpPath, 'release-kernel'), '');
    await expect(panel.locator('.opsbook-QualityPanel-error')).toHaveText('Cancelled.');
    await expect(panel.getByRole('progressbar')).toHaveCount(0);
    await expect.poll(handedOff).toEqual([]);
    // Keyboard: from the editor, Tab reaches the buttons; Enter on "Run checks" runs the suite.
    await editor.focus();
    await page.keyboard.press('Tab');
    await expect(run).toBeFocused();
    await page.keyboard.press('Enter');

    const result = panel.locator('.opsbook-CheckResultView');
    await expectOutcome(panel, result);
    await expect(result.locator('h2')).toContainText('orders');
    await expect(result.locator('.opsbook-CheckResultView-counts')).toHaveText('1 passed, 2 failed, 0 errors');
    const checks = result.locator('tr.opsbook-CheckResultView-check');
    await expect(checks).toHaveCount(3);
    await expect(checks.nth(0)).toHaveClass(/opsbook-CheckResultView-pass/);
    await expect(checks.nth(1).locator('.opsbook-CheckResultView-failing')).toHaveText('2');
    await expect(checks.nth(2).locator('.opsbook-CheckResultView-failing')).toHaveText('2');

    // not_null on age: the rows of id 2 and 8.
    await checks.nth(1).click();
    const notNull = result.locator('tr.opsbook-CheckResultView-detail').first();
    await expect(notNull.locator('.opsbook-SampleGrid caption')).toHaveText('2 failing rows');
    expect(await sampleColumns(notNull)).toEqual(['id', 'age', 'email']);
    expect(await sampleCells(notNull)).toEqual([
      ['2', 'null', 'b@x.io'],
      ['8', 'null', 'h@x.io'],
    ]);
    await checks.nth(1).click();

    // between on age: the rows of id 4 and 6, and the column's histogram.
    await checks.nth(2).focus();
    await page.keyboard.press('Enter');
    const between = result.locator('tr.opsbook-CheckResultView-detail');
    await expect(between).toHaveCount(1);
    expect(await sampleCells(between)).toEqual([
      ['4', '150', 'd@x.io'],
      ['6', '-3', 'f@x.io'],
    ]);
    await expect(between.locator('.js-plotly-plot svg.main-svg').first()).toBeVisible();

    // The daemon removed the frame the kernel handed off.
    await expect.poll(handedOff).toEqual([]);

    // The picture for the README: without the test's temp folder in the suite file box.
    await suiteFile.fill('');
    await widenSidebar(page, 720);
    await expect(between.locator('.js-plotly-plot svg.main-svg').first()).toBeVisible();
    const shot = testInfo.outputPath('quality.png');
    await page.screenshot({ path: shot });

    // The profile of the same frame, pushed again (the first hand-off was used up).
    await panel.getByRole('button', { name: 'Profile' }).click();
    const profile = panel.locator('.opsbook-ProfileView');
    await expectOutcome(panel, profile);
    await expect(profile.locator('h2')).toHaveText('Profile of orders');
    await expect.poll(handedOff).toEqual([]);

    // A suggested suite replaces the editor's text, and is one the schema takes.
    await panel.getByRole('button', { name: 'Suggest' }).click();
    await expect(editor).toHaveValue(/^suite: orders$/m);
    await expect(editor).toHaveValue(/check: not_null/);
    await expect(panel.locator('.opsbook-QualityPanel-suiteError')).toHaveCount(0);
    await expect(run).toBeEnabled();
    await expect.poll(handedOff).toEqual([]);

    if (SCREENSHOTS_DIR) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      copyFileSync(shot, path.join(SCREENSHOTS_DIR, 'quality.png'));
    }
  });

  test('%%check in a notebook draws its result with the quality renderer: failing rows by keyboard, a histogram', async ({ page, request }) => {
    const health = await request.get(`${API}/health`);
    const workspace = ((await health.json()) as { workspace: string }).workspace;
    const handoff = path.join(workspace, '.opsbook', 'handoff');

    await page.notebook.createNew('check.ipynb');
    await page.notebook.setCell(0, 'code', `%load_ext opsbook\n${FRAME_CELL}`);
    await page.notebook.addCell('code', `%%check orders\n${SUITE}`);
    expect(await page.notebook.runCell(0)).toBe(true);
    expect(await page.notebook.runCell(1)).toBe(true);

    const view = page.locator('.opsbook-QualityRenderer .opsbook-CheckResultView');
    await expect(view).toBeVisible({ timeout: 60_000 });
    await expect(view).toContainText('1 passed, 2 failed, 0 errors');
    const between = view.locator('tr[data-check-index="2"]');
    await between.focus();
    await page.keyboard.press('Enter');
    await expect(between).toHaveAttribute('aria-expanded', 'true');
    const detail = view.locator('tr.opsbook-CheckResultView-detail').last();
    expect(await sampleCells(detail)).toEqual([
      ['4', '150', 'd@x.io'],
      ['6', '-3', 'f@x.io'],
    ]);
    await expect(detail.locator('.js-plotly-plot svg').first()).toBeVisible({ timeout: 30_000 });
    expect(existsSync(handoff) ? readdirSync(handoff) : []).toEqual([]);
  });
});
