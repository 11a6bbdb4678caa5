/**
 * End to end: a real ipykernel, driven over the ZeroMQ bridge, tracks a run with `%%track`; the
 * daemon the kernel started records it; the `opsbook` CLI reads it back.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SchemaValidator, type RunDetail, type TrackOutput } from '@opsbook/schema';
import { REPO, isAlive, startTestKernel, type TestKernel } from './testing/kernels';

jest.setTimeout(60_000);

const CLI = join(REPO, 'src/dist/cli/main.js');
const RUN_MIMETYPE = 'application/vnd.opsbook.run+json';
const validator = new SchemaValidator();
const run = promisify(execFile);

const TRACK_CELL = `%%track --experiment it --name bridge-run
import opsbook
opsbook.log_params({"alpha": "0.5", "n": 3})
for step in range(250):
    opsbook.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
for step in range(100):
    opsbook.log_metrics({"acc": step / 100}, step=step)
`;

/** SIGTERMs the daemons whose discovery files are in `runtimeDir` and waits until they are gone. */
async function stopDaemons(runtimeDir: string): Promise<void> {
  const names = existsSync(runtimeDir) ? (await readdir(runtimeDir)).filter((name) => /^opsbook-.*\.json$/.test(name)) : [];
  for (const name of names) {
    const { pid } = JSON.parse(await readFile(join(runtimeDir, name), 'utf8')) as { pid: number };
    if (!isAlive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

describe('%%track over the kernel bridge, read back with `opsbook runs show` (needs src/dist/cli/main.js)', () => {
  let test: TestKernel | undefined;

  beforeAll(() => {
    // A missing build is a failure to see, not a reason to pass quietly.
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run make build (or npx tsc -b) first`);
  });

  afterAll(async () => {
    if (!test) return;
    await test.kernel.shutdown({ transport: test.transport });
    await stopDaemons(test.runtimeDir);
    await test.stop();
  });

  it('records exact params, 250 loss and 100 acc points, and a finished run', async () => {
    test = await startTestKernel({ env: { OPSBOOK_CLI: CLI, OPSBOOK_NODE: process.execPath } });

    const loaded = await test.transport.execute('%load_ext opsbook');
    expect(loaded).toMatchObject({ status: 'ok', outputs: [] });
    const tracked = await test.transport.execute(TRACK_CELL, { timeoutMs: 45_000 });
    expect(tracked.error).toBeUndefined();
    expect(tracked.status).toBe('ok');

    const cards = tracked.outputs.filter((output) => output.output_type === 'display_data' && RUN_MIMETYPE in output.data);
    expect(cards).toHaveLength(1);
    const card = cards[0].output_type === 'display_data' ? cards[0].data[RUN_MIMETYPE] : undefined;
    const output = validator.assert<TrackOutput>('track-output.schema.json', card);
    expect(output).toMatchObject({ experiment: 'it', name: 'bridge-run', status: 'finished' });

    // %%track waits a bounded time for the daemon; on a loaded machine the rest drains after it.
    const flushed = await test.transport.execute('print(opsbook.flush(30))', { timeoutMs: 35_000 });
    expect(flushed.outputs.filter((o) => o.output_type === 'stream' && o.name === 'stdout')).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'True\n' },
    ]);

    const shown = await run(process.execPath, [CLI, 'runs', 'show', output.run_id, '--json', '--workspace', test.workspace], {
      env: test.env,
      cwd: test.workspace,
      timeout: 30_000,
    });
    const detail = validator.assert<RunDetail>('run-detail.schema.json', JSON.parse(shown.stdout));

    expect(detail.run).toMatchObject({ id: output.run_id, experiment: 'it', name: 'bridge-run', status: 'finished', source_type: 'cell' });
    expect([...detail.params].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'alpha', value: '0.5' },
      { key: 'n', value: '3' },
    ]);
    const metrics = Object.fromEntries(detail.metrics.map((metric) => [metric.key, metric]));
    expect(Object.keys(metrics).sort()).toEqual(['acc', 'loss']);
    expect(metrics.loss).toMatchObject({ count: 250, last_step: 249, last: 1 / 250, min: 1 / 250, max: 1 });
    expect(metrics.acc).toMatchObject({ count: 100, last_step: 99, last: 0.99, min: 0, max: 0.99 });
    expect(detail.source.type).toBe('cell');
    const discovery = (await readdir(test.runtimeDir)).filter((name) => /^opsbook-.*\.json$/.test(name));
    expect(discovery).toHaveLength(1); // the kernel started the workspace daemon; afterAll stops it
  });
});
