import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import fc from 'fast-check';
import { NotFoundError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

describe('compareRuns', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-compare-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
  });
  afterAll(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('puts runs side by side with their params, metric summaries and the params that differ', async () => {
    const a = await runs.createRun({ experiment: 'cmp', name: 'a', params: { lr: '0.1', opt: 'adam', seed: '1' } });
    const b = await runs.createRun({ experiment: 'cmp', name: 'b', params: { lr: '0.1', opt: 'sgd' } });
    await runs.logMetrics(a.id, [
      { key: 'loss', value: 3, step: 0, timestamp: 0 },
      { key: 'loss', value: 1, step: 2, timestamp: 2 },
      { key: 'loss', value: 2, step: 1, timestamp: 1 },
    ]);
    await runs.logMetrics(b.id, [{ key: 'acc', value: 0.9, step: 0, timestamp: 0 }]);
    await runs.updateRun(b.id, { status: 'finished' });

    const comparison = await runs.compareRuns([b.id, a.id, b.id]);
    expect(validator.check('compare.schema.json', comparison)).toBeNull();
    expect(comparison.runs.map((run) => [run.name, run.status, run.experiment])).toEqual([
      ['b', 'finished', 'cmp'],
      ['a', 'running', 'cmp'],
    ]);
    expect(comparison.runs[1].params).toEqual({ lr: '0.1', opt: 'adam', seed: '1' });
    expect(comparison.runs[1].metrics).toEqual({ loss: { last: 1, min: 1, max: 3, count: 3 } });
    expect(comparison.runs[0].duration_ms).not.toBeNull();
    expect(comparison.param_keys).toEqual(['lr', 'opt', 'seed']);
    expect(comparison.metric_keys).toEqual(['acc', 'loss']);
    // seed is missing from b: missing counts as a value of its own.
    expect(comparison.differing_params).toEqual(['opt', 'seed']);
    expect((await runs.compareRuns([a.id])).differing_params).toEqual([]);
  });

  it('names the first id that is no run', async () => {
    const a = await runs.createRun({});
    const missing = randomUUID();
    await expect(runs.compareRuns([a.id, missing])).rejects.toEqual(expect.objectContaining({ field: '/run_ids', value: missing }));
    await expect(runs.compareRuns([missing])).rejects.toBeInstanceOf(NotFoundError);
  });

  it('reports a param as differing exactly when its values (missing included) are not all equal', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.dictionary(fc.constantFrom('lr', 'opt', 'depth'), fc.constantFrom('1', '2')), { minLength: 1, maxLength: 5 }),
        async (paramSets) => {
          const ids: string[] = [];
          for (const params of paramSets) ids.push((await runs.createRun({ params })).id);
          const { differing_params: differing } = await runs.compareRuns(ids);
          const keys = [...new Set(paramSets.flatMap((params) => Object.keys(params)))].sort();
          expect(differing).toEqual(keys.filter((key) => new Set(paramSets.map((params) => params[key] ?? '<missing>')).size > 1));
        },
      ),
      { numRuns: 25 },
    );
  });
});
