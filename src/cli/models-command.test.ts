import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { runBuiltCli as opsbook } from './testing';

const validator = new SchemaValidator();
jest.setTimeout(60_000);

const SIGNATURE = { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 2] }], outputs: [], feature_names: ['a', 'b'] };

describe('opsbook models list|show|alias against a real daemon', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-models-cli-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-models-cli-runtime-'));
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime });
    env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_WORKSPACE: workspace };
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const run = await client.createRun({ experiment: 'cli' });
    await client.uploadArtifact(run.id, 'models/churn/a.onnx', new Uint8Array([1]), { kind: 'model' });
    for (let i = 0; i < 2; i += 1) {
      await client.registerModelVersion('churn', { run_id: run.id, artifact: 'models/churn/a.onnx', flavor: 'sklearn', signature: SIGNATURE, parity_max_abs_diff: 2e-7 });
    }
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('lists models, as a table and as one JSON document', async () => {
    const json = await opsbook(['models', 'list', '--json'], env);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { models: { name: string; latest_version: number }[] };
    expect(validator.check('model-list.schema.json', list)).toBeNull();
    expect(list.models.map((m) => [m.name, m.latest_version])).toEqual([['churn', 2]]);
    const text = await opsbook(['models', 'list'], env);
    expect(text.stdout).toMatch(/^NAME\s+LATEST\s+VERSIONS\s+ALIASES\s+FLAVOR\nchurn\s+2\s+2\s+sklearn\n$/);
  });

  it('sets an alias, then shows the version it names', async () => {
    const set = await opsbook(['models', 'alias', 'churn:1', 'prod', '--json'], env);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ name: 'churn', alias: 'prod', version: 1 });
    const shown = await opsbook(['models', 'show', 'churn@prod', '--json'], env);
    expect(shown.code).toBe(0);
    const version = JSON.parse(shown.stdout) as { version: number; aliases: string[] };
    expect(validator.check('model-version.schema.json', version)).toBeNull();
    expect(version).toMatchObject({ version: 1, aliases: ['prod'] });
    const model = JSON.parse((await opsbook(['models', 'show', 'churn', '--json'], env)).stdout) as { aliases: Record<string, number> };
    expect(validator.check('model.schema.json', model)).toBeNull();
    expect(model.aliases).toEqual({ prod: 1 });
    const text = await opsbook(['models', 'show', 'churn:2'], env);
    expect(text.stdout).toContain('features   a, b');
    expect(text.stdout).toContain(join(workspace, '.opsbook', 'artifacts'));
  });

  it('exits 2 naming the ref for a bad or unknown one', async () => {
    const bad = await opsbook(['models', 'show', 'churn:zero'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^opsbook: model reference "churn:zero" has a version that is not a positive integer/);
    const unknown = await opsbook(['models', 'show', 'churn@staging', '--json'], env);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'not_found', field: 'ref', value: 'churn@staging' } });
    const noVersion = await opsbook(['models', 'alias', 'churn', 'prod'], env);
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toContain('models alias needs NAME:VERSION, got "churn"');
    const missing = await opsbook(['models', 'alias', 'churn:9', 'prod'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('has no version 9');
  });
});
