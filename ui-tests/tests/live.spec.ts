import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext, Page } from '@playwright/test';

/** The Opsbook API as the page reaches it: through the Jupyter server's proxy. */
const API = '/opsbook/api/v1';
/** Longer than any debounce of the views, and than the old 1 s poll three times over. */
const QUIET_MS = 4000;
/** Time for the reads a change set off (views, the list's spaced re-read) to be over. */
const SETTLE_MS = 1500;

/** One API request the page made: `METHOD /path?query`. */
type Call = string;

/** Records the page's API requests, and how many event streams it holds open. */
function recordCalls(page: Page): { calls: Call[]; since: (mark: number) => Call[]; openStreams: () => number } {
  const calls: Call[] = [];
  let open = 0;
  const isStream = (url: string): boolean => new URL(url).pathname === `${API}/events`;
  page.on('request', (sent) => {
    const url = new URL(sent.url());
    if (!url.pathname.startsWith(`${API}/`)) return;
    calls.push(`${sent.method()} ${url.pathname}${url.search}`);
    if (isStream(sent.url())) open += 1;
  });
  const ended = (sent: { url(): string }): void => {
    if (isStream(sent.url())) open -= 1;
  };
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
  return { calls, since: (mark) => calls.slice(mark), openStreams: () => open };
}

async function createRun(request: APIRequestContext, name: string): Promise<string> {
  const response = await request.post(`${API}/runs`, { data: { experiment: 'live', name } });
  expect(response.status()).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function logLoss(request: APIRequestContext, runId: string, from: number, count: number): Promise<void> {
  const metrics = Array.from({ length: count }, (_, i) => ({ key: 'loss', value: 1 / (from + i + 1), step: from + i, timestamp: Date.now() }));
  const response = await request.post(`${API}/runs/${runId}/metrics`, { data: { metrics } });
  expect(response.status()).toBe(200);
}

async function endRun(request: APIRequestContext, runId: string): Promise<void> {
  const response = await request.patch(`${API}/runs/${runId}`, { data: { status: 'finished' } });
  expect(response.status()).toBe(200);
}

async function openRun(page: IJupyterLabPageFixture, runId?: string): Promise<void> {
  await page.evaluate(async (id) => {
    await window.jupyterapp.commands.execute('opsbook:open-run', id === undefined ? {} : { runId: id });
  }, runId);
}

/** How many points the chart of `metric` draws, as its accessible label says ("loss by step, 12 points"). */
async function drawnPoints(page: IJupyterLabPageFixture, metric: string): Promise<number> {
  const plot = page.locator(`.jp-MainAreaWidget:visible .opsbook-MetricChart[data-metric="${metric}"] .opsbook-MetricChart-plot`);
  if ((await plot.count()) === 0) return 0;
  const label = (await plot.first().getAttribute('aria-label')) ?? '';
  return Number(/(\d+) points/.exec(label)?.[1] ?? 0);
}

/** Reads of one run: the run itself and its metric series. */
const ofRun =
  (runId: string) =>
  (call: Call): boolean =>
    call.startsWith(`GET ${API}/runs/${runId}`);

test.describe('Opsbook live updates', () => {
  test.use({ viewport: { width: 1280, height: 900 } });

  test('one event stream per page, views that follow it, and no request while nothing changes', async ({ page, request }) => {
    const { calls, since, openStreams } = recordCalls(page);
    const live = await createRun(request, 'follows-the-stream');

    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    await openRun(page, live);
    const view = page.locator(`.jp-MainAreaWidget:visible .opsbook-RunDetail[data-run-id="${live}"]`);
    await expect(view.locator('h2')).toContainText('Running');
    await expect.poll(openStreams).toBe(1);
    await page.waitForTimeout(SETTLE_MS);

    // Nothing changes: the sidebar and the run view ask for nothing (the stream's keep-alive is all).
    let mark = calls.length;
    await page.waitForTimeout(QUIET_MS);
    expect(since(mark)).toEqual([]);
    expect(openStreams()).toBe(1);

    // Points arrive: the run's chart grows from the stream's events, with a few reads of that run.
    await logLoss(request, live, 0, 5);
    await expect.poll(() => drawnPoints(page, 'loss')).toBe(5);
    await logLoss(request, live, 5, 7);
    await expect.poll(() => drawnPoints(page, 'loss')).toBe(12);
    const sidebarRow = page.locator('#opsbook-sidebar button.opsbook-RunList-run', { hasText: 'follows-the-stream' });
    await expect(sidebarRow).toContainText('loss');
    // Two batches: a handful of reads of the run (spaced out by the view), not one per point or per second.
    expect(since(mark).filter(ofRun(live)).length).toBeLessThanOrEqual(12);
    expect(since(mark).filter((call) => call === `GET ${API}/events`)).toEqual([]);

    // It ends: the view says so, and then nothing is read again.
    await endRun(request, live);
    await expect(view.locator('h2')).toContainText('Finished');
    await expect(sidebarRow.locator('.opsbook-badge-finished')).toBeVisible();
    await page.waitForTimeout(SETTLE_MS);
    mark = calls.length;
    await page.waitForTimeout(QUIET_MS);
    expect(since(mark)).toEqual([]);

    // Nothing Opsbook shows is visible: the stream closes.
    await page.sidebar.close('left');
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('launcher:create');
    });
    await expect(page.locator('.jp-MainAreaWidget:visible .jp-Launcher')).toBeVisible();
    await expect.poll(openStreams).toBe(0);
    await page.waitForTimeout(SETTLE_MS);
    const hiddenRun = await createRun(request, 'made-while-hidden');
    mark = calls.length;
    await page.waitForTimeout(QUIET_MS);
    expect(since(mark)).toEqual([]);

    // Shown again: one stream, the list read once, and what changed meanwhile is there.
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    await expect(page.locator('#opsbook-sidebar button.opsbook-RunList-run', { hasText: 'made-while-hidden' })).toBeVisible();
    await expect.poll(openStreams).toBe(1);
    expect(since(mark).filter((call) => call === `GET ${API}/events`)).toHaveLength(1);
    await endRun(request, hiddenRun);
  });

  test('a chart of a %%track cell grows while the cell runs', async ({ page }) => {
    await page.notebook.createNew('grow.ipynb');
    await page.notebook.setCell(0, 'code', '%load_ext opsbook');
    await page.notebook.addCell(
      'code',
      [
        '%%track --experiment live --name grows-in-the-notebook',
        'import time',
        'import opsbook',
        'for step in range(60):',
        '    opsbook.log_metrics({"loss": 1 / (step + 1)}, step=step)',
        '    time.sleep(0.25)',
      ].join('\n'),
    );
    expect(await page.notebook.runCell(0)).toBe(true);
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    const running = page.notebook.runCell(1);
    const row = page.locator('#opsbook-sidebar button.opsbook-RunList-run', { hasText: 'grows-in-the-notebook' });
    await expect(row.locator('.opsbook-badge-running')).toBeVisible({ timeout: 60_000 });
    await row.click();
    const view = page.locator('.jp-MainAreaWidget:visible .opsbook-RunDetail');
    await expect(view.locator('h2')).toContainText('Running');

    // While the cell still runs, the chart draws more points each time the kernel sends some.
    await expect.poll(() => drawnPoints(page, 'loss'), { timeout: 30_000 }).toBeGreaterThan(0);
    const first = await drawnPoints(page, 'loss');
    await expect.poll(() => drawnPoints(page, 'loss'), { timeout: 30_000 }).toBeGreaterThan(first + 4);
    await expect(view.locator('h2')).toContainText('Running');

    await expect(view.locator('h2')).toContainText('Finished', { timeout: 60_000 });
    await expect.poll(() => drawnPoints(page, 'loss')).toBe(60);
    // Galata sees a cell finish in the notebook's status bar: the notebook in front again.
    await page.notebook.activate('grow.ipynb');
    expect(await running).toBe(true);
  });
});
