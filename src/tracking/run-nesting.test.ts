import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type Provenance } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { BadInputError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

const provenance: Provenance = {
  notebook: 'experiments/churn.ipynb',
  cell_id: '3f2a9c1e-7b0d-4e55-9a61-0c3b5e8d2f47',
  cell_source: '%%track --experiment churn\nmodel.fit(X, y)',
  python_version: '3.11.7',
  packages: { opsbook: '0.1.0', numpy: '2.4.6', 'scikit-learn': '1.9.1' },
  git: { commit: 'a'.repeat(40), dirty: true, branch: 'main' },
  host: 'workbench-1',
};

describe('nested runs and provenance in the run store', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;

  beforeEach(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-nesting-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
  });
  afterEach(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('nests runs under a parent and counts its direct children', async () => {
    const sweep = await runs.createRun({ experiment: 'tuning', name: 'sweep' });
    const trials = [];
    for (let i = 0; i < 3; i += 1) trials.push(await runs.createRun({ experiment: 'tuning', name: `trial-${i}`, parent_run_id: sweep.id }));
    await runs.createRun({ experiment: 'tuning', name: 'fold', parent_run_id: trials[0].id });

    const parent = await runs.getRun(sweep.id);
    expect(parent).toMatchObject({ parent_run_id: null, child_count: 3 });
    expect(parent.provenance).toBeUndefined();
    const trial = await runs.getRun(trials[0].id);
    expect(trial).toMatchObject({ parent_run_id: sweep.id, child_count: 1 });
    expect(validator.check('run-detail.schema.json', parent)).toBeNull();
    expect(validator.check('run-detail.schema.json', trial)).toBeNull();
  });

  it('refuses a parent that does not exist, naming parent_run_id, and writes nothing', async () => {
    const missing = randomUUID();
    const attempt = runs.createRun({ name: 'orphan', parent_run_id: missing });
    await expect(attempt).rejects.toBeInstanceOf(BadInputError);
    await expect(attempt).rejects.toMatchObject({ field: '/parent_run_id', value: missing });
    expect((await runs.listRuns()).runs).toEqual([]);
    expect((await runs.listExperiments()).experiments).toEqual([]);
  });

  it('keeps provenance as given and returns it with the run', async () => {
    const run = await runs.createRun({ name: 'with provenance', provenance });
    const detail = await runs.getRun(run.id);
    expect(detail.provenance).toEqual(provenance);
    expect(validator.check('run-detail.schema.json', detail)).toBeNull();
    const partial = await runs.createRun({ provenance: { python_version: '3.12.1' } });
    expect((await runs.getRun(partial.id)).provenance).toEqual({ python_version: '3.12.1' });
  });
});

describe('nested runs and provenance over HTTP', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-nesting-api-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-nesting-runtime-'));
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true, log: () => undefined });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('creates a child with provenance and shows parent, child count and provenance', async () => {
    const parent = await client.createRun({ name: 'study' });
    const child = await client.createRun({ name: 'trial-0', parent_run_id: parent.id, provenance });
    const detail = await client.getRun(child.id);
    expect(detail).toMatchObject({ parent_run_id: parent.id, child_count: 0, provenance });
    expect(await client.getRun(parent.id)).toMatchObject({ parent_run_id: null, child_count: 1 });
  });

  it('answers 400 naming parent_run_id for an unknown parent and for one that is not a uuid', async () => {
    const missing = randomUUID();
    const unknown = await client.createRun({ name: 'orphan', parent_run_id: missing }).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(OpsbookApiError);
    expect((unknown as OpsbookApiError).status).toBe(400);
    expect((unknown as OpsbookApiError).body.error).toMatchObject({ code: 'bad_request', field: '/parent_run_id', value: missing });
    const malformed = await client.createRun({ name: 'orphan', parent_run_id: 'not-a-run' }).catch((error: unknown) => error);
    expect((malformed as OpsbookApiError).status).toBe(400);
    expect((malformed as OpsbookApiError).body.error.message).toContain('parent_run_id');
  });

  it('refuses provenance fields the schema does not know', async () => {
    const extra = { ...provenance, shell: 'zsh' } as unknown as Provenance;
    const refused = await client.createRun({ name: 'odd', provenance: extra }).catch((error: unknown) => error);
    expect((refused as OpsbookApiError).status).toBe(400);
    expect((refused as OpsbookApiError).body.error.message).toContain('provenance');
  });
});
