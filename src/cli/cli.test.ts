import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { Store } from '../store/store';
import { RunStore } from '../tracking/run-store';

/** The built CLI (build first: npx tsc -b src). */
const CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');
const validator = new SchemaValidator();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously, so an in-process daemon of this test can answer it. */
function opsbook(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const RUN_A = 'a1b2c3d4-0000-4000-8000-000000000001';
const RUN_B = 'b1b2c3d4-0000-4000-8000-000000000002';

async function seed(runs: RunStore): Promise<void> {
  await runs.createRun({ id: RUN_A, experiment: 'cli', name: 'first', params: { lr: '0.1' }, start_time: '2024-01-01T00:00:00Z', tags: { team: 'ml' } });
  await runs.logMetrics(RUN_A, [
    { key: 'loss', value: 0.9, step: 0, timestamp: 1 },
    { key: 'loss', value: 0.4, step: 1, timestamp: 2 },
  ]);
  await runs.updateRun(RUN_A, { status: 'finished', end_time: '2024-01-01T00:01:05Z' });
  await runs.createRun({ id: RUN_B, experiment: 'other', name: 'second', start_time: '2024-01-02T00:00:00Z' });
}

describe('opsbook CLI', () => {
  let workspace: string;
  let runtime: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    if (spawnSync(process.execPath, [CLI, '--help']).status !== 0) throw new Error(`${CLI} does not run: build first with npx tsc -b src`);
  });
  beforeEach(() => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-cli-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-runtime-'));
    env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
  });
  afterEach(() => {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  describe('without a daemon (opens the store itself)', () => {
    beforeEach(async () => {
      const store = await Store.open(workspace);
      try {
        await seed(new RunStore(store));
      } finally {
        await store.close();
      }
    });

    it('runs list --json prints one document valid against run-list.schema.json', async () => {
      const result = await opsbook(['runs', 'list', '--json', '--workspace', workspace], env);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const list = JSON.parse(result.stdout) as { runs: { id: string; metrics_latest: unknown }[] };
      expect(validator.check('run-list.schema.json', list)).toBeNull();
      expect(list.runs.map((r) => r.id)).toEqual([RUN_B, RUN_A]);
      expect(list.runs[1].metrics_latest).toEqual({ loss: 0.4 });
      const filtered = JSON.parse((await opsbook(['runs', 'list', '--json', '-e', 'cli', '--workspace', workspace], env)).stdout);
      expect(filtered.runs.map((r: { id: string }) => r.id)).toEqual([RUN_A]);
    });

    it('runs show --json accepts a unique prefix and prints a run-detail document', async () => {
      const result = await opsbook(['runs', 'show', 'a1b2', '--json', '--workspace', workspace], env);
      expect(result.code).toBe(0);
      const detail = JSON.parse(result.stdout);
      expect(validator.check('run-detail.schema.json', detail)).toBeNull();
      expect(detail.run.id).toBe(RUN_A);
      expect(detail.metrics).toEqual([{ key: 'loss', count: 2, last: 0.4, min: 0.4, max: 0.9, last_step: 1 }]);
    });

    it('prints an aligned table and a readable block', async () => {
      const table = await opsbook(['runs', 'list', '--workspace', workspace], env);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID\s+EXPERIMENT\s+NAME\s+STATUS\s+STARTED\s+DURATION\s+METRICS$/);
      expect(lines).toHaveLength(3);
      expect(lines[2]).toContain('a1b2c3d4');
      expect(lines[2]).toContain('loss=0.4');
      expect(lines[2]).toContain('1m05s');
      expect(lines[2].indexOf('finished')).toBe(lines[0].indexOf('STATUS'));
      const block = (await opsbook(['runs', 'show', RUN_A, '--workspace', workspace], env)).stdout;
      expect(block).toMatch(/^Run\s+a1b2c3d4-0000-4000-8000-000000000001$/m);
      expect(block).toMatch(/^ {2}lr\s+0\.1$/m);
      expect(block).toMatch(/^ {2}loss\s+2\s+0\.4\s+0\.4\s+0\.9\s+1$/m);
      expect(block).toMatch(/^ {2}team\s+ml$/m);
    });

    it('exits 2 naming an unknown or ambiguous run id', async () => {
      const unknown = await opsbook(['runs', 'show', 'ffff', '--workspace', workspace], env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('"ffff"');
      expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);
    });

    it('exits 3 when the store is locked by a process that is not a daemon', async () => {
      const holder = await Store.open(workspace);
      try {
        const result = await opsbook(['runs', 'list', '--workspace', workspace], env);
        expect(result.code).toBe(3);
        expect(result.stderr).toMatch(/locked/);
        const json = await opsbook(['runs', 'list', '--json', '--workspace', workspace], env);
        expect(json.code).toBe(3);
        expect(validator.check('error.schema.json', JSON.parse(json.stdout))).toBeNull();
        expect(JSON.parse(json.stdout).error.code).toBe('unavailable');
      } finally {
        await holder.close();
      }
    });

    it.each([
      [['runs', 'show', 'ffff', '--json'], 'not_found', 'run_id'],
      [['runs', 'list', '--status', 'done', '--json'], 'bad_request', undefined],
    ])('with --json, %j prints one error.schema.json document (%s) as well as the stderr line', async (args, code, field) => {
      const result = await opsbook([...args, '--workspace', workspace], env);
      expect(result.code).toBe(2);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      const body = JSON.parse(result.stdout) as { error: { code: string; field?: string } };
      expect(validator.check('error.schema.json', body)).toBeNull();
      expect(body.error.code).toBe(code);
      expect(body.error.field).toBe(field);
    });
  });

  describe('with a live daemon', () => {
    let daemon: RunningDaemon;
    beforeEach(async () => {
      daemon = await startDaemon({ workspace, runtimeDir: runtime });
    });
    afterEach(async () => {
      await daemon.close();
    });

    it('reads through the daemon while it holds the store', async () => {
      const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
      await client.createRun({ id: RUN_A, name: 'live', params: { a: '1' } });
      await client.logMetrics(RUN_A, [{ key: 'acc', value: 0.75, step: 3, timestamp: 5 }]);
      const list = await opsbook(['runs', 'list', '--json', '--workspace', workspace], env);
      expect(list.code).toBe(0);
      const parsed = JSON.parse(list.stdout);
      expect(validator.check('run-list.schema.json', parsed)).toBeNull();
      expect(parsed.runs).toHaveLength(1);
      expect(parsed.runs[0].metrics_latest).toEqual({ acc: 0.75 });
      const show = await opsbook(['runs', 'show', 'a1b2c', '--json', '--workspace', workspace], env);
      expect(show.code).toBe(0);
      const detail = JSON.parse(show.stdout);
      expect(validator.check('run-detail.schema.json', detail)).toBeNull();
      expect(detail.params).toEqual([{ key: 'a', value: '1' }]);
      const missing = await opsbook(['runs', 'show', RUN_B, '--workspace', workspace], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(RUN_B);
    });
  });

  describe('usage', () => {
    it('is on the PATH of npm scripts as `opsbook` (what `npx opsbook` runs)', () => {
      const bin = join(__dirname, '..', '..', 'node_modules', '.bin', 'opsbook');
      const result = spawnSync(bin, ['--help'], { encoding: 'utf8' });
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('Usage: opsbook <command> [options]');
    });

    it('prints usage from the command table', async () => {
      const top = await opsbook(['--help'], env);
      expect(top.code).toBe(0);
      expect(top.stdout).toMatch(/runs list\s+List runs, newest first\./);
      expect(top.stdout).not.toMatch(/\btrack\b/);
      const list = await opsbook(['runs', 'list', '--help'], env);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain('Usage: opsbook runs list [options]');
      expect(list.stdout).toMatch(/-e, --experiment <value>\s+Only runs of this experiment\./);
      expect(list.stdout).toContain('--status {running|finished|failed|killed}');
    });

    it.each([
      [['runs', 'list', '--bogus'], '--bogus'],
      [['runs', 'list', '--limit', 'ten'], '"ten"'],
      [['runs', 'list', '--status', 'done'], '"done"'],
      [['runs', 'list', '--limit', '0'], 'limit'],
      [['runs', 'list', '--limit', '20000'], 'limit'],
      [['runs', 'show'], 'RUN_ID'],
      [['runs', 'frobnicate'], 'runs frobnicate'],
      [['runs'], 'runs list'],
      [['daemon', '--workspace', '/no/such/folder'], '/no/such/folder'],
      [[], 'Usage'],
    ])('exits 2 for %j with a message naming %s', async (args, named) => {
      const result = await opsbook([...args, ...(args.includes('--workspace') || args.length === 0 ? [] : ['--workspace', workspace])], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(named);
      expect(result.stdout).toBe('');
    });
  });
});
