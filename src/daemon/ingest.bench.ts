/**
 * Measures metric ingestion once and prints the numbers (timings live here, never in tests):
 * 10,000 points appended straight into the RunStore, and 100,000 points sent to a real daemon as
 * 10 POSTs of 10,000. Run after building: node src/dist/daemon/ingest.bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricPoint } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { Store } from '../store/store';
import { RunStore } from '../tracking/run-store';
import { startDaemon } from './daemon';

function points(offset: number, n: number): MetricPoint[] {
  return Array.from({ length: n }, (_, i) => ({ key: `m${i % 4}`, value: Math.sin(offset + i), step: offset + i, timestamp: Date.now() }));
}

async function direct(): Promise<number> {
  const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-'));
  const store = await Store.open(workspace);
  try {
    const runs = new RunStore(store);
    const run = await runs.createRun({});
    const batch = points(0, 10_000);
    const started = performance.now();
    await runs.logMetrics(run.id, batch);
    return performance.now() - started;
  } finally {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  }
}

async function overHttp(): Promise<{ total: number; perPost: number[] }> {
  const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-'));
  const runtime = mkdtempSync(join(tmpdir(), 'opsbook-bench-runtime-'));
  const daemon = await startDaemon({ workspace, runtimeDir: runtime });
  try {
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const run = await client.createRun({});
    const batches = Array.from({ length: 10 }, (_, i) => points(i * 10_000, 10_000));
    const perPost: number[] = [];
    const started = performance.now();
    for (const batch of batches) {
      const t = performance.now();
      await client.logMetrics(run.id, batch);
      perPost.push(performance.now() - t);
    }
    const total = performance.now() - started;
    const detail = await client.getRun(run.id);
    const stored = detail.metrics.reduce((sum, m) => sum + m.count, 0);
    if (stored !== 100_000) throw new Error(`stored ${stored} points, expected 100000`);
    return { total, perPost };
  } finally {
    await daemon.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const appendMs = await direct();
  const http = await overHttp();
  const sorted = [...http.perPost].sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      append_10k_points_ms: Number(appendMs.toFixed(1)),
      http_100k_points_10_posts_ms: Number(http.total.toFixed(1)),
      http_points_per_second: Math.round(100_000 / (http.total / 1000)),
      http_post_10k_median_ms: Number(sorted[Math.floor(sorted.length / 2)].toFixed(1)),
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
