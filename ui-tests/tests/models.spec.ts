import { expect, test } from '@jupyterlab/galata';

/** A notebook cell, run in the real kernel: train a small sklearn model and register it as ONNX. */
function logModelCell(name: string): string {
  return [
    'import numpy as np, pandas as pd, opsbook',
    'from sklearn.linear_model import LogisticRegression',
    'rng = np.random.default_rng(0)',
    'X = pd.DataFrame({"age": rng.normal(40, 10, 80), "income": rng.normal(3, 1, 80)})',
    'y = (X["income"] > 3).astype(int)',
    'model = LogisticRegression().fit(X, y)',
    `version = opsbook.log_model(model, "${name}", sample=X.head(20))`,
    'print("registered", version["name"], version["version"], version["parity_max_abs_diff"] <= 1e-4)',
  ].join('\n');
}

test.describe('Opsbook models', () => {
  test.use({ viewport: { width: 1280, height: 900 } });

  test('a model logged from a notebook shows in the Models section with its version and parity figure', async ({ page }, testInfo) => {
    // A fresh name, so models of other tests in the same store do not match.
    const name = `galata-${Date.now().toString(36)}`;
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', logModelCell(name));

    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    const models = page.locator('#opsbook-sidebar .opsbook-ModelsPanel');
    await expect(models).toBeVisible();

    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText(`registered ${name} 1 True`, { timeout: 120_000 });

    // The section re-reads the registry when the run list changes (the run log_model made ended).
    const card = models.locator(`section[data-model="${name}"]`);
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expect(card.locator('.opsbook-ModelsList-latest')).toHaveText('v1');
    await expect(card.locator('.opsbook-ModelsList-parity')).toContainText(/max \|diff\| \d\.\d\de-?\d+ \(predict_proba\)/);
    await expect(card).toContainText('age, income');
    const figure = card.locator('img.opsbook-ModelsList-figure');
    await expect(figure).toBeVisible();
    await expect.poll(() => figure.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    await card.screenshot({ path: testInfo.outputPath('models-section.png') });

    // The version links to its run, whose view lists the ONNX file and the parity figure.
    await card.locator('.opsbook-ModelsList-facts button.opsbook-link').click();
    const artifacts = page.locator('.jp-MainAreaWidget:visible .opsbook-RunArtifacts');
    await expect(artifacts.locator('tr[data-artifact$=".onnx"]')).toHaveCount(1);
    await expect(artifacts.locator('tr[data-artifact$=".parity.svg"]')).toHaveCount(1);
    await artifacts.locator('tr[data-artifact$=".parity.svg"] button.opsbook-link').click();
    await expect(artifacts.locator('[data-preview="image"] img')).toBeVisible();
  });
});
