import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SchemaValidator, type ModelSignature } from '@opsbook/schema';
import { Store } from '../store/store';
import { ArtifactStore } from './artifacts';
import { ModelRegistry, parseModelRef, resolveModelRef } from './registry';
import { RunStore } from './run-store';

const validator = new SchemaValidator();
const SIGNATURE: ModelSignature = {
  inputs: [{ name: 'X', dtype: 'float32', shape: [null, 3] }],
  outputs: [{ name: 'label', dtype: 'int64', shape: [null] }],
  feature_names: ['a', 'b', 'c'],
};

describe('parseModelRef', () => {
  it('reads NAME, NAME:VERSION, NAME@ALIAS and .onnx paths', () => {
    expect(parseModelRef('churn')).toEqual({ kind: 'latest', name: 'churn' });
    expect(parseModelRef('churn:12')).toEqual({ kind: 'version', name: 'churn', version: 12 });
    expect(parseModelRef('churn@prod')).toEqual({ kind: 'alias', name: 'churn', alias: 'prod' });
    expect(parseModelRef('models/churn.onnx')).toEqual({ kind: 'path', path: 'models/churn.onnx' });
    expect(parseModelRef('churn.ONNX')).toEqual({ kind: 'path', path: 'churn.ONNX' });
  });

  it.each(['churn:0', 'churn:x', 'churn:', 'churn@', 'churn@1', 'churn@a b', ':3', '@prod', 'a:1@b', 'dir/model.pkl', 'bad name', '', 'x\u0000.onnx'])(
    'refuses %j naming the ref',
    (ref) => {
      expect(() => parseModelRef(ref)).toThrow(expect.objectContaining({ field: 'ref', value: ref }) as Error);
    },
  );
});

describe('ModelRegistry on a real store', () => {
  let workspace: string;
  let store: Store;
  let registry: ModelRegistry;
  let artifacts: ArtifactStore;
  let runId: string;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-registry-'));
    store = await Store.open(workspace);
    artifacts = new ArtifactStore(store);
    registry = new ModelRegistry(store, artifacts);
    runId = (await new RunStore(store).createRun({ experiment: 'registry' })).id;
    await artifacts.upload(runId, { name: 'models/churn/a.onnx', kind: 'model' }, Readable.from([Buffer.from('onnx-a')]));
    await artifacts.upload(runId, { name: 'models/churn/a.parity.svg', kind: 'figure' }, Readable.from([Buffer.from('<svg/>')]));
    await artifacts.upload(runId, { name: 'models/churn/b.onnx', kind: 'model' }, Readable.from([Buffer.from('onnx-b')]));
  });
  afterAll(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('numbers versions per name, atomically under concurrent registrations', async () => {
    const made = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        registry.register('churn', {
          run_id: runId,
          artifact: i % 2 === 0 ? 'models/churn/a.onnx' : 'models/churn/b.onnx',
          flavor: 'sklearn',
          signature: SIGNATURE,
          parity_max_abs_diff: 1e-7,
          data_fingerprint: { rows: 3, columns: [{ name: 'a', dtype: 'float64' }], hash: `sha256:${'0'.repeat(64)}`, library: 'pandas' },
        }),
      ),
    );
    expect(made.map((v) => v.version).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const version of made) expect(validator.check('model-version.schema.json', version)).toBeNull();
    const other = await registry.register('other', { run_id: runId, artifact: 'models/churn/b.onnx', flavor: 'onnx', signature: SIGNATURE });
    expect(other.version).toBe(1);
    const model = await registry.get('churn');
    expect(validator.check('model.schema.json', model)).toBeNull();
    expect(model.latest_version).toBe(6);
    expect(model.versions.map((v) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
    const first = await registry.getVersion('churn', 1);
    expect(first.parity_figure).toBe(first.artifact === 'models/churn/a.onnx' ? 'models/churn/a.parity.svg' : null);
    const list = await registry.list();
    expect(validator.check('model-list.schema.json', list)).toBeNull();
    expect(list.models.map((m) => m.name)).toEqual(['churn', 'other']);
  });

  it('resolves NAME, NAME:VERSION, NAME@ALIAS and paths to the absolute .onnx path', async () => {
    await registry.setAlias('churn', 'prod', 2);
    const byAlias = await resolveModelRef(registry, 'churn@prod');
    expect(validator.check('model-resolution.schema.json', byAlias)).toBeNull();
    expect(byAlias.version?.version).toBe(2);
    expect(byAlias.version?.aliases).toEqual(['prod']);
    expect(byAlias.path).toBe(join(store.artifactsDir, runId, byAlias.version!.artifact));
    expect((await registry.resolve('churn')).version?.version).toBe(6);
    expect((await registry.resolve('churn:3')).version?.version).toBe(3);
    await registry.setAlias('churn', 'prod', 4);
    expect((await registry.resolve('churn@prod')).version?.version).toBe(4);
    expect((await registry.get('churn')).aliases).toEqual({ prod: 4 });

    writeFileSync(join(workspace, 'plain.onnx'), 'x');
    expect(await registry.resolve('plain.onnx')).toEqual({ ref: 'plain.onnx', path: join(store.workspace, 'plain.onnx'), version: null });
  });

  it('answers unknown names, versions, aliases and files with a not-found naming the ref', async () => {
    await expect(registry.resolve('nobody')).rejects.toMatchObject({ name: 'NotFoundError', field: 'name' });
    await expect(registry.resolve('churn:99')).rejects.toMatchObject({ name: 'NotFoundError', field: 'ref', value: 'churn:99' });
    await expect(registry.resolve('churn@staging')).rejects.toMatchObject({ name: 'NotFoundError', field: 'ref', value: 'churn@staging' });
    await expect(registry.resolve('missing/model.onnx')).rejects.toMatchObject({ name: 'NotFoundError', field: 'ref' });
    await expect(registry.resolve('churn:zero')).rejects.toMatchObject({ name: 'BadInputError', field: 'ref' });
    await expect(registry.setAlias('churn', 'prod', 42)).rejects.toMatchObject({ name: 'NotFoundError', field: '/version' });
    await expect(registry.deleteAlias('churn', 'staging')).rejects.toMatchObject({ name: 'NotFoundError', field: 'alias' });
    await expect(registry.register('churn', { run_id: runId, artifact: 'models/none.onnx', flavor: 'onnx', signature: SIGNATURE })).rejects.toMatchObject({
      name: 'NotFoundError',
    });
    expect((await registry.get('churn')).latest_version).toBe(6);
  });

  it('removes an alias and answers what it pointed at', async () => {
    await registry.setAlias('churn', 'gone', 1);
    expect(await registry.deleteAlias('churn', 'gone')).toEqual({ name: 'churn', alias: 'gone', version: 1 });
    expect((await registry.get('churn')).aliases).toEqual({ prod: 4 });
  });
});
