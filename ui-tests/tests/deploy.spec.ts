import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { widenSidebar } from './sidebar';

/**
 * The Deploy section against the fake Kubernetes API server that start-lab.mjs starts before
 * JupyterLab (no real API server can be installed on these machines): the daemon reads its
 * kubeconfig from KUBECONFIG, and pods of an image tagged `:broken` never start there.
 */

/** Where `make screenshots` wants the README's images copied (see opsbook.spec.ts). */
const SCREENSHOTS_DIR = process.env.OPSBOOK_SCREENSHOTS_DIR;
const IMAGE = 'registry.example/opsbook-runtime:1.0';
const IMAGE_NEXT = 'registry.example/opsbook-runtime:1.1';

function copyScreenshot(shot: string, name: string): void {
  if (!SCREENSHOTS_DIR) return;
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  copyFileSync(shot, path.join(SCREENSHOTS_DIR, name));
}

/** A notebook cell, run in the real kernel: a logistic regression fitted and registered as `name`. */
function registerCell(name: string): string {
  return [
    'import numpy as np, pandas as pd, opsbook',
    'from sklearn.linear_model import LogisticRegression',
    'rng = np.random.default_rng(0)',
    'X = pd.DataFrame({"age": rng.uniform(18, 80, 200), "income": rng.uniform(10, 200, 200), "tenure": rng.integers(0, 20, 200).astype(float)})',
    'y = (0.02 * X["income"] + 0.1 * X["tenure"] > 3).astype(int)',
    'model = LogisticRegression(max_iter=500).fit(X, y)',
    `version = opsbook.log_model(model, ${JSON.stringify(name)}, X.head(20))`,
    'print("registered", version["version"])',
  ].join('\n');
}

/** Registers a model in the workspace's registry through a notebook, then opens the Deploy section alone. */
async function openDeploySection(page: IJupyterLabPageFixture, model: string): Promise<Locator> {
  await page.notebook.createNew(`${model}.ipynb`);
  await page.notebook.setCell(0, 'code', registerCell(model));
  expect(await page.notebook.runCell(0)).toBe(true);
  await expect(page.locator('.jp-OutputArea-output').first()).toContainText('registered 1', { timeout: 120_000 });
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('opsbook:open-sidebar');
  });
  const panel = page.locator('#opsbook-sidebar #opsbook-deploy');
  for (const title of ['Experiments', 'Models', 'Serve']) {
    const header = page.locator('#opsbook-sidebar .jp-AccordionPanel-title', { hasText: title }).first();
    if ((await header.count()) > 0 && (await header.getAttribute('aria-expanded')) === 'true') await header.click();
  }
  const deployHeader = page.locator('#opsbook-sidebar .jp-AccordionPanel-title', { hasText: 'Deploy' }).first();
  if ((await deployHeader.getAttribute('aria-expanded')) !== 'true') await deployHeader.click();
  await expect(panel).toBeVisible();
  await panel.getByRole('button', { name: 'Refresh' }).click();
  return panel;
}

/** Fills the form for `ref` with the given image (the name follows the model). */
async function fillForm(panel: Locator, ref: string, image: string): Promise<Locator> {
  const form = panel.getByRole('form', { name: 'Deploy a model' });
  await expect(form.getByLabel('Model', { exact: true })).toContainText(ref, { timeout: 30_000 });
  await form.getByLabel('Model', { exact: true }).selectOption(ref);
  await form.getByLabel('Image', { exact: true }).fill(image);
  return form;
}

test.describe('Opsbook deploy', () => {
  test.use({ viewport: { width: 1400, height: 1100 } });

  test('previews, deploys, lists, rolls back, promotes a canary and deletes a model (fake Kubernetes API)', { tag: '@screenshots' }, async ({ page }, testInfo) => {
    // Two registrations in the kernel, three previews, three rollouts, a rollback and a promotion: more than the default 90 s on a busy machine.
    test.setTimeout(300_000);
    const model = `churn_${Date.now().toString(36)}`;
    const name = model.replace(/_/g, '-');
    const panel = await openDeploySection(page, model);
    // The kubeconfig start-lab.mjs wrote for the fake API, as the daemon read it.
    const form = await fillForm(panel, `${model}:1`, IMAGE);
    await expect(form.getByLabel('Context', { exact: true })).toContainText('fake (current)');
    await expect(form.getByLabel('Name', { exact: true })).toHaveValue(name);

    // Preview: nothing on the cluster yet, so every manifest is a create with its diff.
    await form.getByRole('button', { name: 'Preview' }).click();
    const plan = panel.getByRole('region', { name: `Plan of ${name}` });
    await expect(plan).toBeVisible({ timeout: 60_000 });
    await expect(panel.locator('.opsbook-DeployPanel-problem')).toHaveCount(0);
    await expect(plan).toContainText('Compared with the cluster of fake');
    const changes = plan.locator('details.opsbook-Change');
    await expect(changes.locator('.opsbook-Change-name')).toHaveText([`Deployment/${name}`, `Service/${name}`, `HorizontalPodAutoscaler/${name}`, `PodDisruptionBudget/${name}`]);
    await expect(changes.locator('.opsbook-badge')).toHaveText(['create', 'create', 'create', 'create']);
    const diff = plan.getByLabel(`Diff of Deployment/${name}`);
    await expect(diff.locator('.opsbook-Diff-add').first()).toBeVisible();
    await expect(diff).toContainText(IMAGE);
    await expect(diff.locator('.opsbook-Diff-remove')).toHaveCount(0);
    await plan.locator('details.opsbook-Yaml > summary').click();
    const yaml = plan.getByLabel('Manifests YAML', { exact: true });
    await expect(yaml).toContainText('kind: HorizontalPodAutoscaler');
    await expect(yaml).toContainText('runAsNonRoot: true');
    await expect(yaml).toContainText(`app.kubernetes.io/instance: ${name}`);

    // Deploy: applied, the rollout watched until available; the list shows it with its pods ready.
    // The answer is held until the progress the daemon sent as event: deploy for this job has shown.
    let progressSeen = '';
    await page.route('**/opsbook/api/v1/deploy', async (route) => {
      const response = await route.fetch();
      const progress = panel.locator('.opsbook-DeployProgress');
      await progress.waitFor({ timeout: 20_000 }).catch(() => undefined);
      progressSeen = (await progress.count()) > 0 ? await progress.innerText() : '';
      await route.fulfill({ response });
    });
    await form.getByRole('button', { name: 'Deploy', exact: true }).click();
    const result = panel.getByRole('region', { name: `Deploy result of ${name}` });
    await expect(result.locator('.opsbook-Rollout .opsbook-badge')).toHaveText('Available', { timeout: 90_000 });
    await expect(result).toContainText('Applied 4 manifests');
    await page.unroute('**/opsbook/api/v1/deploy');
    expect(progressSeen).toMatch(/^(Checking gates|Planning|Applying|Rolling out|Done)\b/);
    await expect(panel.locator('.opsbook-DeployProgress')).toHaveCount(0);
    const card = panel.getByRole('article', { name: `Deployment ${name}` });
    await expect(card.locator('.opsbook-DeployState')).toHaveText('Available', { timeout: 30_000 });
    await expect(card.locator('.opsbook-Deployment-ready')).toHaveText('2/2');
    await expect(card.locator('.opsbook-Deployment-facts').first()).toContainText(`${model}:1 · default @ fake · Deployment · revision 1`);

    // Previewing the same again: the cluster already has it.
    await form.getByRole('button', { name: 'Preview' }).click();
    await expect(plan.locator('details.opsbook-Change').first().locator('.opsbook-badge')).toHaveText('unchanged', { timeout: 60_000 });

    // A new image changes the pod template: the preview shows the update as a diff, and deploying
    // it makes revision 2; Rollback then returns to the first template as revision 3.
    await form.getByLabel('Image', { exact: true }).fill(IMAGE_NEXT);
    await form.getByLabel('Replicas', { exact: true }).fill('3');
    await form.getByRole('button', { name: 'Preview' }).click();
    const update = plan.locator('details.opsbook-Change').first();
    await expect(update.locator('.opsbook-badge')).toHaveText('update', { timeout: 60_000 });
    // Two lines each: the server container and the fetch-model init container run the same image.
    await expect(update.locator('.opsbook-Diff-remove', { hasText: IMAGE })).toHaveCount(2);
    await expect(update.locator('.opsbook-Diff-add', { hasText: IMAGE_NEXT })).toHaveCount(2);
    // Screenshots for the README: the form, the update's diff and the deployment, light and dark.
    await widenSidebar(page, 560);
    const shot = testInfo.outputPath('deploy-light.png');
    await page.locator('#opsbook-sidebar').screenshot({ path: shot });
    copyScreenshot(shot, 'deploy-light.png');
    const nameColour = (): Promise<string> => card.locator('.opsbook-Deployment-name').evaluate((el) => getComputedStyle(el).color);
    const light = await nameColour();
    await page.theme.setDarkTheme();
    await expect.poll(nameColour).not.toBe(light);
    const dark = testInfo.outputPath('deploy-dark.png');
    await page.locator('#opsbook-sidebar').screenshot({ path: dark });
    copyScreenshot(dark, 'deploy-dark.png');
    await page.theme.setLightTheme();

    await form.getByRole('button', { name: 'Deploy', exact: true }).click();
    await expect(result.locator('.opsbook-Rollout .opsbook-badge')).toHaveText('Available', { timeout: 90_000 });
    await expect(card.locator('.opsbook-Deployment-ready')).toHaveText('3/3', { timeout: 30_000 });
    await expect(card.locator('.opsbook-Deployment-facts').first()).toContainText('revision 2');
    await card.getByRole('button', { name: `Roll back ${name}` }).click();
    await expect(card.locator('[role="alert"]')).toHaveCount(0);
    await expect(card.locator('.opsbook-Deployment-facts').first()).toContainText('revision 3', { timeout: 60_000 });
    await expect(card.locator('.opsbook-DeployState')).toHaveText('Available', { timeout: 30_000 });

    // A second version of the model as a canary beside the first, then promoted to take all traffic.
    await page.notebook.addCell('code', `version = opsbook.log_model(model, ${JSON.stringify(model)}, X.head(20))\nprint("registered", version["version"])`);
    expect(await page.notebook.runCell((await page.notebook.getCellCount()) - 1)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output', { hasText: 'registered 2' })).toBeVisible({ timeout: 120_000 });
    await panel.getByRole('button', { name: 'Refresh' }).click();
    await expect(form.getByLabel('Model', { exact: true })).toContainText(`${model}:2`, { timeout: 30_000 });
    await form.getByLabel('Model', { exact: true }).selectOption(`${model}:2`);
    await expect(form.getByLabel('Name', { exact: true })).toHaveValue(name);
    await form.getByLabel('Canary %', { exact: true }).fill('25');
    await form.getByRole('button', { name: 'Deploy', exact: true }).click();
    await expect(result.locator('.opsbook-Rollout .opsbook-badge')).toHaveText('Available', { timeout: 90_000 });
    // 25% of 3 replicas: one canary pod of three, a third of the requests.
    await expect(card.locator('.opsbook-Deployment-canary')).toHaveText(`Canary 25% → ${model}:2 (1/1 ready, 33% of the pods)`, { timeout: 30_000 });
    await card.getByRole('button', { name: `Promote ${name}` }).click();
    await expect(card.locator('.opsbook-Deployment-canary')).toHaveCount(0, { timeout: 60_000 });
    await expect(card.locator('[role="alert"]')).toHaveCount(0);
    await expect(card.locator('.opsbook-Deployment-facts').first()).toContainText(`${model}:2 · default`);
    await expect(card.getByRole('button', { name: `Promote ${name}` })).toHaveCount(0);

    // Delete asks first; then the deployment leaves the list.
    await card.getByRole('button', { name: `Delete ${name}` }).click();
    const question = card.getByRole('group', { name: `Delete ${name} and everything Opsbook created for it in default?` });
    await expect(question).toBeVisible();
    await expect(question.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await question.getByRole('button', { name: 'Delete' }).click();
    await expect(card).toHaveCount(0, { timeout: 30_000 });
  });

  test('a refused gate deploys anyway after a confirm, and an image whose pods never start fails its rollout with the pod’s warning event (fake Kubernetes API)', async ({ page, tmpPath }) => {
    test.setTimeout(180_000);
    const model = `fraud_${Date.now().toString(36)}`;
    const name = model.replace(/_/g, '-');
    // A data-quality suite that was never checked on the model's training data: the gate fails.
    await page.contents.uploadContent('suite: fraud\nchecks:\n  - {check: not_null, column: age}\n', 'text', `${tmpPath}/fraud.yaml`);
    const panel = await openDeploySection(page, model);
    const form = await fillForm(panel, `${model}:1`, 'registry.example/opsbook-runtime:broken');
    await form.getByLabel('Replicas', { exact: true }).fill('1');
    await form.getByLabel('Gate suite', { exact: true }).fill(`${tmpPath}/fraud.yaml`);
    // Keyboard only: Tab from the last field to Deploy, and Enter.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(form.getByRole('button', { name: 'Deploy', exact: true })).toBeFocused();
    await page.keyboard.press('Enter');

    // Refused, naming the failing check; nothing applied, so nothing listed.
    const result = panel.getByRole('region', { name: `Deploy result of ${name}` });
    const refused = result.locator('.opsbook-Refused');
    await expect(refused.getByRole('alert')).toContainText('Refused: suite fraud has no result recorded on the training data', { timeout: 60_000 });
    await expect(refused.getByLabel('Failing checks')).toHaveText('no result on the training data');
    const card = panel.getByRole('article', { name: `Deployment ${name}` });
    await expect(card).toHaveCount(0);
    // Deploy anyway asks first (Cancel focused), then sends force.
    await refused.getByRole('button', { name: 'Deploy anyway' }).click();
    const confirm = refused.getByRole('group', { name: `Deploy ${name} although its gates failed? This is recorded.` });
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await confirm.getByRole('button', { name: 'Deploy with force' }).click();

    // Applied with force; the broken image never starts, and the rollout says why.
    await expect(result.locator('.opsbook-Rollout .opsbook-badge')).toHaveText(/^(Failed|Timed out)$/, { timeout: 110_000 });
    await expect(result).toContainText('with force (the failed gates are recorded)');
    const event = result.locator('.opsbook-PodEvent').first();
    await expect(event).toContainText(`Pod/${name}-`);
    await expect(event).toContainText('registry.example/opsbook-runtime:broken');
    await expect(card.locator('.opsbook-DeployState')).toHaveText('Failed', { timeout: 30_000 });
    await expect(card.locator('.opsbook-Deployment-ready')).toHaveText('0/1');
    await expect(card.locator('.opsbook-Deployment-forced')).toHaveText('Deployed with force over 1 failed gate.');
    await expect(card.locator('.opsbook-PodEvent').first()).toContainText('registry.example/opsbook-runtime:broken');
    await card.getByRole('button', { name: `Delete ${name}` }).click();
    await card.getByRole('group').getByRole('button', { name: 'Delete' }).click();
    await expect(card).toHaveCount(0, { timeout: 30_000 });
  });

  test('%deploy shows the plan, the rollout and the deployment in the notebook, which deletes it (fake Kubernetes API)', async ({ page }) => {
    test.setTimeout(180_000);
    const model = `lr_${Date.now().toString(36)}`;
    const name = model.replace(/_/g, '-');
    await page.notebook.createNew(`${model}.ipynb`);
    await page.notebook.setCell(0, 'code', `%load_ext opsbook\n${registerCell(model)}`);
    await page.notebook.addCell('code', `%deploy ${model}:1 --name ${name} --image ${IMAGE} --replicas 1 --dry-run`);
    await page.notebook.addCell('code', `%deploy ${model}:1 --name ${name} --image ${IMAGE} --replicas 1`);
    await page.notebook.addCell('code', `%opsbook deploy status ${name}`);
    expect(await page.notebook.runCell(0)).toBe(true);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('registered 1', { timeout: 120_000 });

    // The dry run: the plan, compared with the fake cluster, every manifest a create.
    expect(await page.notebook.runCell(1)).toBe(true);
    const plan = page.locator('.opsbook-DeployRenderer').getByRole('region', { name: `Plan of ${name}` });
    await expect(plan.locator('details.opsbook-Change .opsbook-badge')).toHaveText(['create', 'create', 'create', 'create'], { timeout: 60_000 });
    await expect(plan.getByLabel(`Diff of Service/${name}`)).toContainText(`+kind: Service`);

    // Applied, the rollout watched until available.
    expect(await page.notebook.runCell(2)).toBe(true);
    const result = page.locator('.opsbook-DeployRenderer').getByRole('region', { name: `Deploy result of ${name}` });
    await expect(result.locator('.opsbook-Rollout .opsbook-badge')).toHaveText('Available', { timeout: 90_000 });

    // deploy status: the deployment live; its Delete (asked first) removes it, and the output says so.
    expect(await page.notebook.runCell(3)).toBe(true);
    const card = page.locator('.opsbook-DeployRenderer').getByRole('article', { name: `Deployment ${name}` });
    await expect(card.locator('.opsbook-DeployState')).toHaveText('Available', { timeout: 60_000 });
    await expect(card.locator('.opsbook-Deployment-ready')).toHaveText('1/1');
    await card.getByRole('button', { name: `Delete ${name}` }).click();
    await card.getByRole('group').getByRole('button', { name: 'Delete' }).click();
    await expect(page.locator('.opsbook-DeployRenderer', { hasText: `${name} is deleted.` })).toBeVisible({ timeout: 30_000 });
  });
});
