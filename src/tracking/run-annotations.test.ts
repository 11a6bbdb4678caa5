import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { NotFoundError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

describe('run annotations: star, notes, tags, soft delete', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;

  beforeEach(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-annotate-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
  });
  afterEach(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('stars, notes, re-tags and removes tags, also on an ended run, and answers the listed run', async () => {
    const run = await runs.createRun({ name: 'a', params: { lr: '0.1' }, tags: { team: 'ml', stage: 'dev' } });
    await runs.updateRun(run.id, { status: 'finished' });
    const updated = await runs.updateRun(run.id, { starred: true, notes: 'best so far', tags: { stage: null, owner: 'ana' } });
    expect(updated).toMatchObject({ starred: true, notes: 'best so far', tags: { team: 'ml', owner: 'ana' }, params: { lr: '0.1' }, deleted: false });
    expect(updated.tags).not.toHaveProperty('stage');
    expect(validator.check('run.schema.json', updated)).toBeNull();
    expect((await runs.getRun(run.id)).tags).toEqual({ owner: 'ana', team: 'ml' });
    const unstarred = await runs.updateRun(run.id, { starred: false, notes: '' });
    expect(unstarred).toMatchObject({ starred: false, notes: '' });
    const [listed] = (await runs.listRuns()).runs;
    expect(listed).toEqual(unstarred);
  });

  it('soft-deletes: hidden from the list, still answered by getRun, restored by deleted: false', async () => {
    const kept = await runs.createRun({ name: 'kept' });
    const gone = await runs.createRun({ name: 'gone' });
    expect(await runs.updateRun(gone.id, { deleted: true })).toMatchObject({ deleted: true });
    expect((await runs.listRuns()).runs.map((r) => r.id)).toEqual([kept.id]);
    expect((await runs.listRuns()).total).toBe(1);
    expect((await runs.listRuns({ deleted: 'only' })).runs.map((r) => r.id)).toEqual([gone.id]);
    expect((await runs.getRun(gone.id)).run.id).toBe(gone.id);
    const first = await store.read((db) => db.all('SELECT deleted_ms FROM runs WHERE id = $1', [gone.id]));
    await runs.updateRun(gone.id, { deleted: true });
    const again = await store.read((db) => db.all('SELECT deleted_ms FROM runs WHERE id = $1', [gone.id]));
    expect(again[0].deleted_ms).toBe(first[0].deleted_ms);
    expect(await runs.updateRun(gone.id, { deleted: false })).toMatchObject({ deleted: false });
    expect((await runs.listRuns()).runs.map((r) => r.id).sort()).toEqual([kept.id, gone.id].sort());
  });

  it('lists children of a parent with their count on the parent', async () => {
    const parent = await runs.createRun({ name: 'sweep' });
    const child = await runs.createRun({ name: 'trial', parent_run_id: parent.id });
    const { runs: children } = await runs.listRuns({ parent: parent.id });
    expect(children.map((r) => [r.id, r.parent_run_id])).toEqual([[child.id, parent.id]]);
    const all = (await runs.listRuns()).runs;
    expect(all.find((r) => r.id === parent.id)?.child_count).toBe(1);
  });

  it('refuses to annotate a run that does not exist', async () => {
    await expect(runs.updateRun('00000000-0000-4000-8000-000000000000', { starred: true })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('listRuns, updateRun and settings through the API', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-annotate-api-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-annotate-runtime-'));
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('filters, sorts and pages; a bad filter is a 400 naming filter and the position', async () => {
    for (const [model, acc] of [['rf', 0.7], ['rf', 0.4], ['svm', 0.9]] as const) {
      const run = await client.createRun({ params: { model } });
      await client.logMetrics(run.id, [{ key: 'acc', value: acc, step: 0, timestamp: Date.now() }]);
    }
    const found = await client.listRuns({ filter: 'metrics.acc > 0.5 and params.model = "rf"' });
    expect(found.runs.map((r) => r.metrics_latest?.acc)).toEqual([0.7]);
    const sorted = await client.listRuns({ sort: 'metrics.acc', order: 'asc', limit: 2, offset: 1 });
    expect(sorted.runs.map((r) => r.metrics_latest?.acc)).toEqual([0.7, 0.9]);
    expect(sorted.total).toBe(3);
    const error = await client.listRuns({ filter: 'metrics.acc >' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpsbookApiError);
    expect(error).toMatchObject({ status: 400, body: { error: { code: 'bad_request', field: 'filter', value: 'metrics.acc >' } } });
    expect((error as OpsbookApiError).message).toContain('position 14');
    await expect(client.listRuns({ sort: 'bogus' })).rejects.toMatchObject({ status: 400, body: { error: { field: 'sort' } } });
  });

  it('removes a tag with null and soft-deletes through PATCH', async () => {
    const run = await client.createRun({ tags: { a: '1', b: '2' } });
    const updated = await client.updateRun(run.id, { tags: { a: null }, starred: true, deleted: true });
    expect(updated).toMatchObject({ tags: { b: '2' }, starred: true, deleted: true });
    expect((await client.listRuns()).runs.map((r) => r.id)).not.toContain(run.id);
    expect((await client.getRun(run.id)).run.id).toBe(run.id);
  });

  it('keeps workspace settings: 404 unset, any JSON, key pattern and 64 KiB checked', async () => {
    await expect(client.getWorkspaceSetting('runs-table')).rejects.toMatchObject({ status: 404, body: { error: { field: 'key' } } });
    const state = { columns: ['name', 'metrics.acc'], sort: 'metrics.acc', order: 'desc', filter: 'starred = true' };
    const put = await client.putWorkspaceSetting('runs-table', state);
    expect(put).toMatchObject({ key: 'runs-table', value: state });
    expect(await client.getWorkspaceSetting('runs-table')).toEqual(put);
    expect((await client.putWorkspaceSetting('runs-table', [1, 'two', null])).value).toEqual([1, 'two', null]);
    expect((await client.getWorkspaceSetting('runs-table')).value).toEqual([1, 'two', null]);
    await expect(client.putWorkspaceSetting('Bad Key', 1)).rejects.toMatchObject({ status: 400, body: { error: { field: 'key' } } });
    await expect(client.putWorkspaceSetting('big', 'x'.repeat(64 * 1024))).rejects.toMatchObject({ status: 400, body: { error: { field: '/value' } } });
    expect((await client.putWorkspaceSetting('big', 'x'.repeat(64 * 1024 - 2))).key).toBe('big');
  });
});
