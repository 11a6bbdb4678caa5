import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { formatComparison } from './compare-command';
import { runBuiltCli as opsbook } from './testing';

const validator = new SchemaValidator();

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const C = 'cccccccc-0000-4000-8000-000000000003';

// Each BUILT_CLI call starts node and loads the core: seconds on a busy machine.
jest.setTimeout(30_000);

describe('opsbook runs compare', () => {
  let workspace: string;
  let runtime: string;
  let env: NodeJS.ProcessEnv;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-compare-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-runtime-'));
    env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
    daemon = await startDaemon({ workspace, runtimeDir: runtime });
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const runs: [string, string, Record<string, string>, number[]][] = [
      [A, 'sgd', { lr: '0.1', epochs: '10' }, [0.9, 0.5, 0.3]],
      [B, 'adam', { lr: '0.01', epochs: '10' }, [0.8, 0.2, 0.25]],
      [C, 'rms', { lr: '0.001', epochs: '10', momentum: '0.9' }, [1.0, 0.6, 0.4]],
    ];
    for (const [id, name, params, losses] of runs) {
      await client.createRun({ id, experiment: 'cmp', name, params });
      await client.logMetrics(
        id,
        losses.map((value, step) => ({ key: 'val_loss', value, step, timestamp: 1000 + step })),
      );
    }
  });

  afterAll(async () => {
    await daemon.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('--json prints one compare.schema.json document, in the order asked, prefixes resolved', async () => {
    const result = await opsbook(['runs', 'compare', 'cccc', A, 'bbbbbbbb', '--json', '--workspace', workspace], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(validator.check('compare.schema.json', document)).toBeNull();
    expect(document.runs.map((run: { id: string }) => run.id)).toEqual([C, A, B]);
    expect(document.differing_params).toEqual(['lr', 'momentum']);
    expect(document.runs[1].metrics.val_loss).toEqual({ last: 0.3, min: 0.3, max: 0.9, count: 3 });
  });

  it('prints runs as columns, differing params starred and the best loss marked', async () => {
    const result = await opsbook(['runs', 'compare', A, B, C, '--only-differences', '--workspace', workspace], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s+/).filter(Boolean)).toEqual(['sgd', 'adam', 'rms']);
    expect(lines.find((line) => line.startsWith('PARAMS'))).toBe('PARAMS (2 of 3 differ)');
    expect(lines.some((line) => line.includes('epochs'))).toBe(false);
    expect(lines.find((line) => line.includes('* lr'))?.split(/\s+/).filter(Boolean)).toEqual(['*', 'lr', '0.1', '0.01', '0.001']);
    const last = lines.find((line) => line.includes('val_loss (lower is better) last'))!;
    expect(last.split(/\s+/).slice(-3)).toEqual(['0.3', '0.25*', '0.4']);
  });

  it('exits 2 naming an unknown run, and with --json prints the error document', async () => {
    const result = await opsbook(['runs', 'compare', A, 'dddd', '--json', '--workspace', workspace], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"dddd"');
    expect(validator.check('error.schema.json', JSON.parse(result.stdout))).toBeNull();
    const none = await opsbook(['runs', 'compare', '--workspace', workspace], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('RUN_IDS');
  });

  it('formats a comparison without a daemon too (the text the magic shows)', () => {
    const text = formatComparison({
      runs: [
        { id: A, name: 'a', experiment: 'e', status: 'finished', start_time: '2025-01-01T00:00:00Z', duration_ms: 1, params: { x: '1' }, metrics: { acc: { last: 0.5, min: 0.1, max: 0.5, count: 2 } } },
        { id: B, name: 'b', experiment: 'e', status: 'finished', start_time: '2025-01-01T00:00:00Z', duration_ms: 1, params: { x: '2' }, metrics: { acc: { last: 0.7, min: 0.2, max: 0.9, count: 2 } } },
      ],
      param_keys: ['x'],
      metric_keys: ['acc'],
      differing_params: ['x'],
    });
    expect(text.split('\n').find((line) => line.includes('acc (higher is better) last'))?.trim().split(/\s+/).slice(-2)).toEqual(['0.5', '0.7*']);
    expect(text.split('\n').find((line) => line.trim().startsWith('max'))?.trim().split(/\s+/)).toEqual(['max', '0.5', '0.9*']);
  });
});
