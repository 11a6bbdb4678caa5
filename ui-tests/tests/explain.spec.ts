import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { widenSidebar } from './sidebar';

/** The Opsbook API as the page reaches it: through the Jupyter server's proxy. */
const API = '/opsbook/api/v1';
/** Where `make screenshots` wants the README's images copied (see opsbook.spec.ts). */
const SCREENSHOTS_DIR = process.env.OPSBOOK_SCREENSHOTS_DIR;

/**
 * A notebook cell, run in the real kernel: a gradient-boosted regressor fitted on 60 rows of four
 * features, where y depends mostly on `income`, then on `age`, and not on `noise`.
 */
const MODEL_CELL = [
  'import numpy as np, pandas as pd',
  'from sklearn.ensemble import GradientBoostingRegressor',
  'rng = np.random.default_rng(0)',
  'X = pd.DataFrame({',
  '    "age": rng.uniform(18, 80, 60),',
  '    "income": rng.uniform(10, 200, 60),',
  '    "tenure": rng.integers(0, 20, 60).astype(float),',
  '    "noise": rng.normal(size=60),',
  '})',
  'y = 0.05 * X["income"] + 0.02 * X["age"] + 0.1 * X["tenure"]',
  'model = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y)',
  'print("fitted", X.shape)',
].join('\n');

/** How many markers a plotly scatter chart drew (SVG points of its scatter layer). */
async function markerCount(chart: Locator): Promise<number> {
  return chart.locator('.scatterlayer .point').count();
}

/** Waits for an explanation in the panel, or fails naming the one-line error the panel shows instead. */
async function expectExplanation(panel: Locator): Promise<Locator> {
  const view = panel.locator('.opsbook-ExplanationView');
  const error = panel.locator('.opsbook-ExplainPanel-error');
  await expect(view.or(error).first()).toBeVisible({ timeout: 90_000 });
  expect(await error.allTextContents()).toEqual([]);
  return view;
}

test.describe('Opsbook explanations', () => {
  test.use({ viewport: { width: 1400, height: 1000 } });

  test('%explain on a fitted scikit-learn model draws a beeswarm of its rows', { tag: '@screenshots' }, async ({ page, request }, testInfo) => {
    const health = await request.get(`${API}/health`);
    expect(health.ok()).toBe(true);
    const workspace = ((await health.json()) as { workspace: string }).workspace;
    const handoff = path.join(workspace, '.opsbook', 'handoff');

    await page.notebook.createNew('explain.ipynb');
    await page.notebook.setCell(0, 'code', `%load_ext opsbook\n${MODEL_CELL}`);
    await page.notebook.addCell('code', '%explain model X --rows 0:20');
    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('fitted (60, 4)');
    expect(await page.notebook.runCell(1)).toBe(true);

    const view = page.locator('.opsbook-ExplainRenderer .opsbook-ExplanationView');
    await expect(view).toBeVisible({ timeout: 90_000 });
    await expect(view.locator('.opsbook-ExplanationView-facts')).toContainText('20 rows × 4 features');
    // Many rows open on the beeswarm: its accessible name, its sentence, and a marker per row and feature.
    await expect(view.getByRole('tab', { name: 'Beeswarm' })).toHaveAttribute('aria-selected', 'true');
    const beeswarm = view.locator('[data-chart="beeswarm"]');
    const plot = beeswarm.getByRole('img', { name: /^Beeswarm of SHAP values/ });
    await expect(plot).toBeVisible();
    await expect(plot.locator('.main-svg').first()).toBeVisible({ timeout: 30_000 });
    await expect.poll(() => markerCount(beeswarm)).toBe(20 * 4);
    // income drives y most: the summary names it first; every feature has its line.
    await expect(beeswarm.locator('figcaption')).toHaveText(/^20 rows × 4 features\. Strongest: income /);
    expect((await plot.locator('.ytick text').allTextContents()).sort()).toEqual(['age', 'income', 'noise', 'tenure']);

    // The tabs answer the arrow keys: the mean |SHAP| bars are one step right.
    await view.getByRole('tab', { name: 'Beeswarm' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect(view.getByRole('tab', { name: 'Mean |value|' })).toHaveAttribute('aria-selected', 'true');
    await expect(view.locator('[data-chart="bar"] .main-svg').first()).toBeVisible();
    await page.keyboard.press('ArrowLeft');
    await expect(plot).toBeVisible();

    await plot.locator('.main-svg').first().waitFor();
    const shot = testInfo.outputPath('explain-beeswarm.png');
    await view.screenshot({ path: shot });
    if (SCREENSHOTS_DIR) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      copyFileSync(shot, path.join(SCREENSHOTS_DIR, 'explain-beeswarm.png'));
    }

    // The dark theme redraws the chart in its colours: the axis labels follow the theme's text colour.
    const tickFill = (): Promise<string> => plot.locator('.xtick text').first().evaluate((text) => getComputedStyle(text).fill);
    const lightFill = await tickFill();
    await page.theme.setDarkTheme();
    await expect.poll(tickFill).not.toBe(lightFill);
    await expect.poll(() => markerCount(beeswarm)).toBe(20 * 4);
    await view.screenshot({ path: testInfo.outputPath('explain-beeswarm-dark.png') });
    await page.theme.setLightTheme();
    // The magic handed its frame off and the daemon removed it.
    await expect.poll(() => (existsSync(handoff) ? readdirSync(handoff) : [])).toEqual([]);
  });

  test('the Explain panel explains a kernel model on a kernel dataframe and shows the waterfall of the picked row', { tag: '@screenshots' }, async ({
    page,
    request,
  }, testInfo) => {
    const health = await request.get(`${API}/health`);
    const workspace = ((await health.json()) as { workspace: string }).workspace;
    const handoff = path.join(workspace, '.opsbook', 'handoff');

    await page.notebook.createNew('explain-panel.ipynb');
    await page.notebook.setCell(0, 'code', MODEL_CELL);
    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('fitted (60, 4)');

    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-explain');
    });
    const panel = page.locator('#opsbook-explain');
    await expect(panel).toBeVisible();
    await expect(panel.getByRole('status').first()).toContainText('1 fitted model, 1 dataframe in explain-panel.ipynb');

    // A model file that is not there: the server's message, inline, and nothing left behind.
    await panel.getByRole('radio', { name: 'ONNX file' }).check();
    await panel.getByRole('textbox', { name: 'Model file' }).fill('no/such/model.onnx');
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(panel.locator('.opsbook-ExplainPanel-error')).toContainText('no/such/model.onnx', { timeout: 60_000 });
    await expect(panel.getByRole('progressbar')).toHaveCount(0);
    await expect.poll(() => (existsSync(handoff) ? readdirSync(handoff) : [])).toEqual([]);

    // The model: a fitted variable of the kernel; the rows: a dataframe of it.
    await panel.getByRole('radio', { name: 'Kernel variable' }).check();
    await panel.getByRole('combobox', { name: 'Model variable' }).selectOption('model');
    await panel.getByRole('combobox', { name: 'Dataframe' }).selectOption('X');
    await panel.getByRole('combobox', { name: 'Method' }).selectOption('tree');
    // A rows value the API would refuse is caught in the field.
    const rows = panel.getByRole('textbox', { name: 'Rows' });
    await rows.fill('a:b');
    await expect(rows).toHaveAttribute('aria-invalid', 'true');
    await expect(panel.getByRole('button', { name: 'Run', exact: true })).toBeDisabled();
    await rows.fill('0:20');
    await panel.getByRole('button', { name: 'Run', exact: true }).click();

    const view = await expectExplanation(panel);
    await expect(view.locator('h2')).toContainText('TreeSHAP');
    await expect(view.locator('.opsbook-ExplanationView-facts')).toContainText('20 rows × 4 features');

    // The waterfall of row 3: picked in the row picker, drawn with its accessible name.
    await view.getByRole('tab', { name: 'Waterfall' }).click();
    const picker = view.getByRole('combobox', { name: 'Row' });
    await picker.selectOption({ label: 'row 3' });
    const waterfall = view.locator('[data-chart="waterfall"]');
    const plot = waterfall.getByRole('img', { name: /^Waterfall of row 3:/ });
    await expect(plot).toBeVisible();
    await expect(plot.locator('.waterfalllayer path').first()).toBeVisible({ timeout: 30_000 });
    // Base value, four features and the prediction: six labelled steps.
    await expect(plot.locator('.ytick text')).toHaveCount(6);
    await expect(plot.locator('.ytick text').first()).toHaveText('base value');
    await expect(plot.locator('.ytick text').last()).toHaveText('prediction');
    await expect(waterfall.locator('figcaption')).toHaveText(/^From the base value -?[\d.]+ to the prediction -?[\d.]+\. Largest contributions: (age|income|tenure|noise) = /);
    // The arrow keys step through the rows.
    await picker.focus();
    await page.keyboard.press('ArrowDown');
    await expect(waterfall.getByRole('img', { name: /^Waterfall of row 4:/ })).toBeVisible();
    await page.keyboard.press('ArrowUp');
    await expect(plot).toBeVisible();

    await widenSidebar(page, 640);
    await expect(plot.locator('.waterfalllayer path').first()).toBeVisible();
    const shot = testInfo.outputPath('explain-waterfall.png');
    await page.screenshot({ path: shot });
    if (SCREENSHOTS_DIR) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      copyFileSync(shot, path.join(SCREENSHOTS_DIR, 'explain-waterfall.png'));
    }
    // Neither the handed-off frame nor the exported model stays behind.
    await expect.poll(() => (existsSync(handoff) ? readdirSync(handoff) : [])).toEqual([]);
  });
});
