import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

/** Widens the left sidebar to `width` px by dragging its edge, as a user reading a chart or table there would. */
export async function widenSidebar(page: IJupyterLabPageFixture, width: number): Promise<void> {
  const handle = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle').first();
  const box = await handle.boundingBox();
  if (!box) throw new Error('the left sidebar has no handle to drag');
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(width, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
}
