import { expect, test, type FrameLocator, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Opsbook in a real VS Code: code-server (CODE_SERVER_DIR, installed by `make`), the .vsix (OPSBOOK_VSIX)
 * installed with `code-server --install-extension`, a workspace opened in Debian's Chromium. The
 * notebook runs on the extension's "Opsbook: Python (ipykernel)" controller with the checkout's .venv
 * (ipykernel and the opsbook package). Screenshots go to each test's output folder, and to
 * OPSBOOK_SCREENSHOTS_DIR as vscode-*.png when that is set (make screenshots).
 */
const REPO = resolve(__dirname, '..', '..');
const CODE_SERVER_DIR = process.env.CODE_SERVER_DIR ?? join(REPO, '.code-server');
const VSIX = process.env.OPSBOOK_VSIX ?? '';
const PYTHON = join(REPO, '.venv', 'bin', 'python');
/** code-server and the Node 24 it runs on (make's .code-server/bin/node). */
const BIN = `${join(CODE_SERVER_DIR, 'bin')}:${join(CODE_SERVER_DIR, 'node_modules', '.bin')}`;

let root: string;
let workspace: string;
let env: NodeJS.ProcessEnv;
let server: ChildProcess | undefined;
let url: string;
/** The page's console errors (webview scripts' included), printed when a test fails. */
const consoleLines: string[] = [];

function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function codeServerArgs(...args: string[]): string[] {
  return ['--user-data-dir', join(root, 'user-data'), '--extensions-dir', join(root, 'extensions'), ...args];
}

function notebook(cells: { source: string; outputs?: unknown[] }[]): string {
  return JSON.stringify({
    cells: cells.map((cell) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: cell.outputs ?? [], source: cell.source })),
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

async function shot(page: Page, name: string): Promise<void> {
  const path = test.info().outputPath(`${name}.png`);
  await page.screenshot({ path });
  if (process.env.OPSBOOK_SCREENSHOTS_DIR) copyFileSync(path, join(process.env.OPSBOOK_SCREENSHOTS_DIR, `${name}.png`));
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input');
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().click();
}

/** Opens a workspace file through Quick Open. */
async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().click();
}

/** The frame of a webview panel's content (VS Code nests it in two iframes). */
function webviewFrame(page: Page, title: string): FrameLocator {
  // The outer iframe is VS Code's host of the panel's document (the panel's tab carries the title).
  void title;
  return page.locator('iframe.webview.ready:visible').last().contentFrame().frameLocator('iframe#active-frame');
}

test.describe.serial('Opsbook in VS Code (code-server)', () => {
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    test.setTimeout(240_000);
    expect(VSIX, 'OPSBOOK_VSIX names the .vsix to install (make test-vscode sets it)').not.toBe('');
    root = mkdtempSync(join(tmpdir(), 'opsbook-vscode-'));
    workspace = join(root, 'project');
    mkdirSync(join(root, 'user-data', 'User'), { recursive: true });
    mkdirSync(join(root, 'home'));
    mkdirSync(join(root, 'runtime'));
    mkdirSync(workspace);
    writeFileSync(
      join(root, 'user-data', 'User', 'settings.json'),
      JSON.stringify({
        'security.workspace.trust.enabled': false,
        'workbench.startupEditor': 'none',
        'workbench.colorTheme': 'Default Light Modern',
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'opsbook.python.path': PYTHON,
      }),
    );
    env = {
      ...process.env,
      PATH: `${BIN}:${process.env.PATH}`,
      HOME: join(root, 'home'),
      JUPYTER_RUNTIME_DIR: join(root, 'runtime'),
      OPSBOOK_WORKSPACE: workspace,
    };
    delete env.OPSBOOK_RUN_ID;

    // A stored %check output, made by the real magic (nbclient runs it on the same Python).
    writeFileSync(
      join(workspace, 'ages.yaml'),
      'suite: ages\nchecks:\n  - {check: row_count, min: 3}\n  - {check: between, column: age, min: 0, max: 120}\n',
    );
    writeFileSync(
      join(root, 'check-source.ipynb'),
      notebook([
        { source: '%load_ext opsbook' },
        { source: 'import pandas as pd\npeople = pd.DataFrame({"age": [12, 40, 250, 67]})' },
        { source: '%check people --suite ages.yaml' },
      ]),
    );
    execFileSync(
      PYTHON,
      ['-c', `import nbformat, nbclient, sys
nb = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])`, join(root, 'check-source.ipynb'), workspace, join(workspace, 'checked.ipynb')],
      { env, cwd: workspace, stdio: 'inherit' },
    );
    const checked = readFileSync(join(workspace, 'checked.ipynb'), 'utf8');
    expect(checked).toContain('application/vnd.opsbook.quality+json');

    writeFileSync(
      join(workspace, 'train.ipynb'),
      notebook([
        { source: '%load_ext opsbook' },
        {
          source: [
            '%%track --experiment vscode-e2e --name live-run',
            'import time, opsbook',
            'opsbook.log_params({"lr": 0.1})',
            'for step in range(40):',
            '    opsbook.log_metrics({"loss": 1 / (step + 1)}, step=step)',
            '    time.sleep(0.5)',
          ].join('\n'),
        },
      ]),
    );

    const install = execFileSync('code-server', codeServerArgs('--install-extension', VSIX), { env, encoding: 'utf8' });
    expect(install).toContain('was successfully installed');
    expect(install).not.toMatch(/warn|error/i);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn('code-server', codeServerArgs('--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', workspace), {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    server.stdout!.on('data', () => undefined);
    server.stderr!.on('data', () => undefined);
    await expect
      .poll(async () => fetch(`${url}/healthz`).then((r) => r.status).catch(() => 0), { timeout: 60_000 })
      .toBe(200);
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || /opsbook/i.test(message.text())) consoleLines.push(`${message.type()}: ${message.text()}`.slice(0, 500));
    });
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
    await expect(page.locator('.monaco-workbench')).toBeVisible({ timeout: 60_000 });
  });

  test.afterEach(async () => {
    const testInfo = test.info();
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('console', { body: consoleLines.join('\n'), contentType: 'text/plain' });
      console.log(consoleLines.slice(-30).join('\n'));
    }
  });

  test.afterAll(async () => {
    await page?.close();
    if (server?.pid) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    // The daemon the extension (or the notebook) started outlives code-server: stop it by its pid.
    for (const file of readdirSync(join(root, 'runtime')).filter((name) => name.startsWith('opsbook-'))) {
      try {
        const { pid } = JSON.parse(readFileSync(join(root, 'runtime', file), 'utf8')) as { pid?: number };
        if (pid) process.kill(pid, 'SIGTERM');
      } catch {
        // gone or unreadable
      }
    }
    await new Promise((done) => setTimeout(done, 1000));
    rmSync(root, { recursive: true, force: true });
  });

  test('the Opsbook container shows its five views', async () => {
    await page.locator('.activitybar [aria-label^="Opsbook"]').first().click();
    for (const name of ['Runs', 'Models', 'Data Quality', 'Endpoints', 'Deployments']) {
      await expect(page.locator('.pane-header', { hasText: name }).first()).toBeVisible();
    }
    // The trees have read the daemon (the extension started it): the suite file of the workspace is listed.
    await expect(page.locator('.pane', { hasText: 'Data Quality' }).getByText('ages.yaml')).toBeVisible();
    await expect(page.getByText('No runs in this workspace yet.')).toBeVisible();
    await shot(page, 'vscode-views');
  });

  test('a %%track cell run through the Opsbook controller appears in the Runs view while it runs', async () => {
    await openFile(page, 'train.ipynb');
    await expect(page.locator('.notebook-editor').first()).toBeVisible();
    // Run All; the kernel picker offers Opsbook's controller.
    await page.locator('.notebook-editor .monaco-toolbar [aria-label*="Run All"]').first().click();
    const picker = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Opsbook: Python (ipykernel)' });
    if (await picker.first().isVisible({ timeout: 5000 }).catch(() => false)) await picker.first().click();
    const runs = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Runs' }) }).first();
    await expect(runs.locator('.monaco-list-row', { hasText: 'live-run' })).toBeVisible({ timeout: 90_000 });
    await expect(runs.locator('.monaco-list-row', { hasText: 'live-run' })).toContainText('running');
    // Monaco draws a line as token spans ('%%', 'track', ...): match the line, in whichever notebook editor shows it.
    await expect(page.locator('.notebook-editor .view-line').filter({ hasText: '%%track' }).first()).toBeVisible();
    await shot(page, 'vscode-live-run');
    await expect(runs.locator('.monaco-list-row', { hasText: 'live-run' })).toContainText('finished', { timeout: 90_000 });
    // The cell's run card (application/vnd.opsbook.run+json) is drawn by the notebook renderer.
    const output = page.locator('iframe.webview.ready:visible').last().contentFrame().frameLocator('iframe#active-frame');
    await expect(output.getByText('live-run').first()).toBeVisible();
    await expect(output.getByText(/finished/i).first()).toBeVisible();
  });

  test('Show Experiments opens the runs webview with the run and its chart', async () => {
    await runCommand(page, 'Opsbook: Show Experiments');
    const frame = webviewFrame(page, 'Opsbook: Experiments');
    await expect(frame.getByText('live-run').first()).toBeVisible();
    await expect(frame.locator('.js-plotly-plot').first()).toBeVisible();
    await shot(page, 'vscode-experiments');
  });

  test('a stored %check output renders through the notebook renderer', async () => {
    await openFile(page, 'checked.ipynb');
    const output = page.locator('iframe.webview.ready:visible').last().contentFrame().frameLocator('iframe#active-frame');
    await expect(output.getByText('ages').first()).toBeVisible();
    await expect(output.getByText(/between/).first()).toBeVisible();
    await shot(page, 'vscode-renderer');
  });

  test('Deploy Model… opens the deploy panel, whose Preview shows the manifests of a registered model without a cluster', async () => {
    // A model registered as a notebook registers one (log_model, which checks parity), through the daemon the extension started.
    execFileSync(
      PYTHON,
      ['-c', `import numpy as np, opsbook
from sklearn.linear_model import LogisticRegression
X = np.random.default_rng(0).normal(size=(60, 3)).astype("float32")
y = (X[:, 0] > 0).astype(int)
print(opsbook.log_model(LogisticRegression().fit(X, y), "churn", X[:10])["version"])`],
      { env, cwd: workspace, stdio: 'inherit' },
    );
    await runCommand(page, 'View: Close All Editors');
    const deployments = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Deployments' }) }).first();
    await expect(deployments.getByText('Nothing deployed to Kubernetes yet.')).toBeVisible();
    await runCommand(page, 'Opsbook: Deploy Model…');
    const frame = webviewFrame(page, 'Opsbook: Deploy');
    const form = frame.getByRole('form', { name: 'Deploy a model' });
    // The registered model is offered and picked; the daemon's kubeconfig has no cluster (HOME is the test's own).
    await expect(form.getByLabel('Model', { exact: true })).toHaveValue('churn');
    await expect(form.getByText(/No kubeconfig found/)).toBeVisible();
    await expect(form.getByLabel('Name', { exact: true })).toHaveValue('churn');
    await form.getByLabel('Image', { exact: true }).fill(`registry.example/opsbook-runtime@sha256:${'0'.repeat(64)}`);
    await form.getByRole('button', { name: 'Preview' }).click();
    const plan = frame.getByRole('region', { name: 'Plan of churn' });
    await expect(plan.getByRole('status')).toContainText('Not compared with a cluster:');
    await expect(plan.getByLabel('Parity gate: Pass')).toBeVisible();
    for (const manifest of ['Deployment/churn', 'Service/churn', 'HorizontalPodAutoscaler/churn', 'PodDisruptionBudget/churn']) {
      await expect(plan.locator('.opsbook-Change-name', { hasText: manifest })).toBeVisible();
    }
    await plan.getByText('YAML of the 4 manifests').click();
    const yaml = plan.getByLabel('Manifests YAML');
    await expect(yaml).toContainText(`image: "registry.example/opsbook-runtime@sha256:${'0'.repeat(64)}"`);
    await expect(yaml).toContainText('runAsNonRoot: true');
    await shot(page, 'vscode-deploy');
    // A preview applies and records nothing, as --dry-run.
    await expect(deployments.getByText('Nothing deployed to Kubernetes yet.')).toBeVisible();
  });

  test('webviews follow a switch to the dark theme', async () => {
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Opsbook: Show Experiments');
    const frame = webviewFrame(page, 'Opsbook: Experiments');
    const run = frame.getByText('live-run').first();
    await expect(run).toBeVisible();
    // The colours a view is drawn with: VS Code's theme variables, which the shared views read.
    const colours = () =>
      run.evaluate((element) => ({
        background: getComputedStyle(element.ownerDocument.documentElement).getPropertyValue('--vscode-editor-background').trim(),
        text: getComputedStyle(element).color,
      }));
    const light = await colours();
    await runCommand(page, 'Preferences: Color Theme');
    await page.locator('.quick-input-widget input').fill('Dark Modern');
    await expect(page.locator('.quick-input-list .monaco-list-row.focused')).toContainText('Dark Modern');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await colours()).background).not.toBe(light.background);
    const dark = await colours();
    const brightness = (colour: string): number => (colour.match(/\d+/g) ?? []).slice(0, 3).map(Number).reduce((a, b) => a + b, 0);
    const hex = dark.background.replace('#', '');
    expect(parseInt(hex.slice(0, 2), 16) + parseInt(hex.slice(2, 4), 16) + parseInt(hex.slice(4, 6), 16)).toBeLessThan(200);
    expect(brightness(dark.text)).toBeGreaterThan(brightness(light.text));
    await shot(page, 'vscode-dark');
  });
});
