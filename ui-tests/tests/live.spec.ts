import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

/** The Opsbook API as the page reaches it: through the Jupyter server's proxy. */
const API = '/opsbook/api/v1';
/** About three refresh intervals (the default setting, 1 s): long enough for a poll to show itself. */
const QUIET_MS = 3500;

/** One API request the page made: `METHOD /path?query`. */
type Call = string;

async function createRun(request: APIRequestContext, name: string): Promise<string> {
  const response = await request.post(`${API}/runs`, { data: { experiment: 'polling', name } });
  expect(response.status()).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function endRun(request: APIRequestContext, runId: string): Promise<void> {
  const response = await request.patch(`${API}/runs/${runId}`, { data: { status: 'finished' } });
  expect(response.status()).toBe(200);
}

async function openRun(page: IJupyterLabPageFixture, runId: string): Promise<void> {
  await page.evaluate(async (id) => {
    await window.jupyterapp.commands.execute('opsbook:open-run', { runId: id });
  }, runId);
}

/** Reads of one run: the run itself and its metric series. */
const ofRun =
  (runId: string) =>
  (call: Call): boolean =>
    call.startsWith(`GET ${API}/runs/${runId}`);
/** Reads of the sidebar's run list. */
const ofList = (call: Call): boolean => /^GET \/opsbook\/api\/v1\/runs(\?|$)/.test(call);

test.describe('Opsbook polling', () => {
  test.use({ viewport: { width: 1280, height: 900 } });

  test('reads an ended run no more after its final read, and nothing while the sidebar and run views are hidden', async ({
    page,
    request,
  }) => {
    const calls: Call[] = [];
    page.on('request', (sent) => {
      const url = new URL(sent.url());
      if (url.pathname.startsWith(`${API}/`)) calls.push(`${sent.method()} ${url.pathname}${url.search}`);
    });
    const since = (mark: number): Call[] => calls.slice(mark);
    const ended = await createRun(request, 'ends');
    const live = await createRun(request, 'keeps-running');

    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    await openRun(page, ended);
    const endedView = page.locator(`.jp-MainAreaWidget:visible .opsbook-RunDetail[data-run-id="${ended}"]`);
    await expect(endedView.locator('h2')).toContainText('Running');
    // Shown and running, the run is read again and again.
    await expect.poll(() => calls.filter(ofRun(ended)).length).toBeGreaterThanOrEqual(4);

    await endRun(request, ended);
    await expect(endedView.locator('h2')).toContainText('Finished');
    const finalRead = calls.filter(ofRun(ended)).length;
    await page.waitForTimeout(QUIET_MS);
    expect(calls.filter(ofRun(ended)).length).toBe(finalRead);

    // Opened again while the API fails (answered 503 in the daemon's place), the view reads once,
    // shows why it failed, and does not keep asking about a run it saw end.
    const runRoutes = `**${API}/runs/${ended}**`;
    await page.route(runRoutes, (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'unavailable', message: 'opsbook daemon unavailable' } }),
      }),
    );
    await openRun(page, ended);
    await expect(page.locator('.jp-MainAreaWidget:visible .opsbook-RunPanel-error')).toContainText('opsbook daemon unavailable');
    const failedRead = calls.filter(ofRun(ended)).length;
    expect(failedRead).toBeGreaterThan(finalRead);
    await page.waitForTimeout(QUIET_MS);
    expect(calls.filter(ofRun(ended)).length).toBe(failedRead);
    await page.unroute(runRoutes);

    await openRun(page, live);
    const liveView = page.locator(`.jp-MainAreaWidget:visible .opsbook-RunDetail[data-run-id="${live}"]`);
    await expect(liveView.locator('h2')).toContainText('Running');
    let mark = calls.length;
    await expect.poll(() => since(mark).filter(ofList).length).toBeGreaterThanOrEqual(2);
    await expect.poll(() => since(mark).filter(ofRun(live)).length).toBeGreaterThanOrEqual(4);

    // The sidebar hidden: its list is not read; the run still shown still is.
    await page.sidebar.close('left');
    mark = calls.length;
    await page.waitForTimeout(QUIET_MS);
    expect(since(mark).filter(ofList)).toEqual([]);
    expect(since(mark).filter(ofRun(live)).length).toBeGreaterThanOrEqual(2);

    // The run view behind another tab as well: nothing at all.
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('launcher:create');
    });
    await expect(page.locator('.jp-MainAreaWidget:visible .jp-Launcher')).toBeVisible();
    await expect(liveView).toHaveCount(0);
    mark = calls.length;
    await page.waitForTimeout(QUIET_MS);
    expect(since(mark)).toEqual([]);
    expect(calls.filter(ofRun(ended)).length).toBe(failedRead);

    // Shown again, both read at once and keep going.
    mark = calls.length;
    await page.evaluate((id) => window.jupyterapp.shell.activateById(`opsbook-run-${id}`), live);
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('opsbook:open-sidebar');
    });
    await expect(liveView.locator('h2')).toContainText('Running');
    await expect.poll(() => since(mark).filter(ofList).length).toBeGreaterThanOrEqual(2);
    await expect.poll(() => since(mark).filter(ofRun(live)).length).toBeGreaterThanOrEqual(4);
    await endRun(request, live);
    await expect(liveView.locator('h2')).toContainText('Finished');
  });
});
