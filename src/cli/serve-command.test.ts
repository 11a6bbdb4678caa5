import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SchemaValidator, type Endpoint, type EndpointList, type EndpointLogs } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { linearModelBytes } from '../explain/testing';
import { BUILT_CLI, runBuiltCli as opsbook } from './testing';

const validator = new SchemaValidator();
const WEIGHTS = [1, -2, 0.5, 3];
const BIAS = 0.25;
const ROW = [1, 2, 3, 4];
const REQUEST = { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], data: ROW }] };
const PREDICTION = ROW.reduce((s, x, j) => s + x * WEIGHTS[j], BIAS);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `opsbook serve … --foreground` as a child process: its JSON log lines, its ready line, its exit code. */
function foreground(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', ...args, '--foreground'], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.event === 'ready') resolve(line);
    });
    void exited.then((code) => reject(new Error(`opsbook serve --foreground exited ${code} before ready: ${stderr}`)));
  });
  return { child, lines, ready, exited, stderr: () => stderr };
}

describe('opsbook serve and opsbook endpoints through the built CLI', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let env: NodeJS.ProcessEnv;
  let client: OpsbookClient;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-serve-cli-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-serve-cli-runtime-'));
    writeFileSync(join(workspace, 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    writeFileSync(join(workspace, 'notes.txt'), 'not a model\n');
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, cliEntry: BUILT_CLI });
    env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_WORKSPACE: workspace, OPSBOOK_SERVE_API_KEY: '' };
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const run = await client.createRun({ experiment: 'serve-cli' });
    await client.uploadArtifact(run.id, 'model/scorer.onnx', linearModelBytes(WEIGHTS, BIAS), { kind: 'model' });
    await client.registerModelVersion('scorer', {
      run_id: run.id,
      artifact: 'model/scorer.onnx',
      flavor: 'onnx',
      signature: { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 4] }], outputs: [], feature_names: null },
    });
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('refuses bad usage with exit 2 and one line, before any daemon starts', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'opsbook-serve-cli-fresh-'));
    const freshRuntime = mkdtempSync(join(tmpdir(), 'opsbook-serve-cli-fresh-runtime-'));
    writeFileSync(join(fresh, 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    const freshEnv = { ...process.env, JUPYTER_RUNTIME_DIR: freshRuntime, OPSBOOK_WORKSPACE: fresh, OPSBOOK_SERVE_API_KEY: '' };
    try {
      const cases: [string[], RegExp][] = [
        [['serve'], /needs a MODEL/],
        [['serve', 'linear.onnx', '--max-batch', '0'], /--max-batch/],
        [['serve', 'linear.onnx', '--max-batch', 'many'], /--max-batch must be an integer/],
        [['serve', 'linear.onnx', '--device', 'tpu'], /--device must be one of/],
        [['serve', 'linear.onnx', '--host', '0.0.0.0'], /--api-key/],
        [['serve', 'linear.onnx', '--api-key', 'short'], /--api-key must be at least 16 characters/],
        [['serve', 'missing.onnx'], /no such file/],
        [['serve', 'linear.onnx', 'b=linear.onnx', '--version', '2'], /--version applies to one model/],
        [['serve', 'linear.onnx', '--name', 'Not_A_Label'], /--name/],
      ];
      for (const [args, message] of cases) {
        const result = await opsbook(args, freshEnv, fresh);
        expect({ args, code: result.code }).toEqual({ args, code: 2 });
        expect(result.stderr).toMatch(message);
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
        expect(result.stderr).not.toContain('short');
      }
      const json = await opsbook(['serve', '--json'], freshEnv, fresh);
      expect(validator.check('error.schema.json', JSON.parse(json.stdout))).toBeNull();
      // Nothing was started: no daemon wrote its log or store.
      expect(existsSync(join(fresh, '.opsbook'))).toBe(false);
      // Listing endpoints needs no daemon either: with none running there are none.
      const listed = await opsbook(['endpoints', 'list', '--json'], freshEnv, fresh);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual({ endpoints: [] });
      expect((await opsbook(['endpoints', 'list'], freshEnv, fresh)).stdout).toBe('No endpoints.\n');
      const shown = await opsbook(['endpoints', 'show', 'nobody'], freshEnv, fresh);
      expect(shown.code).toBe(2);
      expect(existsSync(join(fresh, '.opsbook'))).toBe(false);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
      rmSync(freshRuntime, { recursive: true, force: true });
    }
  });

  it('starts an endpoint under the daemon, shows, lists, logs and stops it', async () => {
    const started = await opsbook(['serve', 'scorer', '--model', 'lin=linear.onnx', '--workers', '1', '--no-request-log', '--json'], env, workspace);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const endpoint = JSON.parse(started.stdout) as Endpoint;
    expect(validator.check('endpoint.schema.json', endpoint)).toBeNull();
    expect(endpoint).toMatchObject({ name: 'scorer', status: 'ready', device: 'cpu', request_log_dir: null });
    expect(endpoint.models.map((m) => [m.name, m.version, m.ready])).toEqual([
      ['scorer', '1', true],
      ['lin', '1', true],
    ]);
    const answer = await fetch(`${endpoint.url}/v2/models/lin/infer`, { method: 'POST', body: JSON.stringify(REQUEST) });
    const body = (await answer.json()) as { outputs: { data: number[] }[] };
    expect(body.outputs[0].data[0]).toBeCloseTo(PREDICTION, 5);

    const text = await opsbook(['endpoints', 'show', 'scorer'], env, workspace);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`endpoint scorer ready at ${endpoint.url} (cpu)`);
    expect(text.stdout).toMatch(/try it:\n {2}curl -s http:\/\/127\.0\.0\.1:\d+\/v2\/models\/scorer\/infer /);

    const list = await opsbook(['endpoints', 'list', '--json'], env, workspace);
    expect(validator.check('endpoint.schema.json#/$defs/EndpointList', JSON.parse(list.stdout))).toBeNull();
    expect((JSON.parse(list.stdout) as EndpointList).endpoints.map((e) => e.name)).toEqual(['scorer']);
    expect((await opsbook(['endpoints', 'list'], env, workspace)).stdout).toMatch(/^NAME\s+STATUS\s+URL\s+DEVICE\s+MODELS\s+REQ\/S\s+P99 MS\nscorer\s+ready\s+http/);

    const logs = await opsbook(['endpoints', 'logs', 'scorer', '--tail', '3', '--json'], env, workspace);
    expect(logs.code).toBe(0);
    expect((JSON.parse(logs.stdout) as EndpointLogs).lines).toHaveLength(3);
    const lines = (await opsbook(['endpoints', 'logs', 'scorer'], env, workspace)).stdout.trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { event?: string }).event)).toEqual(expect.arrayContaining(['listening', 'ready']));
    expect((await opsbook(['endpoints', 'logs', 'scorer', '--tail', '0'], env, workspace)).code).toBe(2);

    const again = await opsbook(['serve', 'linear.onnx', '--name', 'scorer'], env, workspace);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^opsbook: endpoint "scorer" is ready; stop it first/);

    const stopped = await opsbook(['endpoints', 'stop', 'scorer', '--json'], env, workspace);
    expect(stopped.code).toBe(0);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ name: 'scorer', status: 'stopped' });
    expect(alive(endpoint.pid!)).toBe(false);
    expect((await opsbook(['endpoints', 'stop', 'nobody'], env, workspace)).code).toBe(2);
  });

  it('takes a YAML --config, with the options given over it and its paths from its folder', async () => {
    mkdirSync(join(workspace, 'conf'), { recursive: true });
    writeFileSync(
      join(workspace, 'conf', 'serve.yaml'),
      ['name: from-file', 'models:', '  - model: ../linear.onnx', '    name: churn', '    version: "7"', 'max_batch: 8', 'request_log: false', ''].join('\n'),
    );
    const started = await opsbook(['serve', '--config', 'conf/serve.yaml', '--workers', '1', '--max-batch', '4', '--json'], env, workspace);
    expect(started.code).toBe(0);
    const endpoint = JSON.parse(started.stdout) as Endpoint;
    expect(endpoint).toMatchObject({ name: 'from-file', status: 'ready', config: { max_batch: 4, workers: 1, request_log: false } });
    expect(endpoint.models.map((m) => [m.name, m.version, m.path, m.ready])).toEqual([['churn', '7', join(workspace, 'linear.onnx'), true]]);
    expect((await client.stopEndpoint('from-file')).status).toBe('stopped');

    writeFileSync(join(workspace, 'conf', 'empty.yaml'), 'models: []\n');
    const empty = await opsbook(['serve', '--config', 'conf/empty.yaml'], env, workspace);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^opsbook: --config .*empty\.yaml: \/models /);
    const missing = await opsbook(['serve', '--config', 'conf/none.yaml'], env, workspace);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config/);
  });

  it('exits 3 when the port is taken, 2 when no model loads', async () => {
    const first = (await client.startEndpoint({ name: 'holder', models: [{ model: 'linear.onnx' }], workers: 1, request_log: false })) as Endpoint;
    try {
      const clash = await opsbook(['serve', 'linear.onnx', '--name', 'clash', '--port', String(first.port), '--workers', '1'], env, workspace);
      expect(clash.code).toBe(3);
      expect(clash.stderr).toMatch(/^opsbook: .*clash/);
    } finally {
      await client.stopEndpoint('holder');
    }
    writeFileSync(join(workspace, 'broken.onnx'), 'text, not a protobuf\n');
    const broken = await opsbook(['serve', 'broken.onnx', '--workers', '1'], env, workspace);
    expect(broken.code).toBe(2);
  });

  it('serves in the foreground, a file or a registry model, until SIGTERM, and exits 0 after draining', async () => {
    const server = foreground(['linear.onnx', 'scorer', '--workers', '1', '--no-request-log'], env, workspace);
    const ready = await server.ready;
    expect(ready.url).toEqual(expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/));
    const url = ready.url as string;
    for (const model of ['linear', 'scorer']) {
      const answer = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(REQUEST) });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { outputs: { data: number[] }[] }).outputs[0].data[0]).toBeCloseTo(PREDICTION, 5);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.lines.map((line) => line.event)).toEqual(expect.arrayContaining(['draining', 'stopped']));
  });

  it('gpu setup --check says whether CUDA loads: exit 0 with it, 3 without', async () => {
    const result = await opsbook(['gpu', 'setup', '--check', '--json'], env, workspace);
    expect([0, 3]).toContain(result.code);
    const status = JSON.parse(result.stdout) as { cuda: boolean; reason: string };
    expect(status.cuda).toBe(result.code === 0);
    expect(status.reason).toEqual(expect.any(String));
  });
});
