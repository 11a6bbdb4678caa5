import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { findDaemon, startDaemon, type RunningDaemon } from '../daemon/daemon';
import { discoveryPath, readDiscovery } from '../daemon/discovery';
import { StoreLockedError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from '../tracking/run-store';
import { runBuiltCli as opsbook, BUILT_CLI, type CliResult } from './testing';

const validator = new SchemaValidator();

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the daemon a BUILT_CLI call started for `workspace` (SIGTERM, then waits for its exit). */
async function stopStartedDaemon(workspace: string, runtime: string): Promise<void> {
  const discovery = readDiscovery(discoveryPath(workspace, runtime));
  if (!discovery || discovery.pid === process.pid) return;
  process.kill(discovery.pid, 'SIGTERM');
  while (alive(discovery.pid)) await sleep(50);
}

describe('opsbook BUILT_CLI', () => {
  let workspace: string;
  let runtime: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    if (spawnSync(process.execPath, [BUILT_CLI, '--help']).status !== 0) throw new Error(`${BUILT_CLI} does not run: build first with npx tsc -b src`);
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

  describe('without a daemon (starts one; never opens the store itself)', () => {
    beforeEach(async () => {
      const store = await Store.open(workspace);
      try {
        await seed(new RunStore(store));
      } finally {
        await store.close();
      }
    });
    afterEach(() => stopStartedDaemon(workspace, runtime));

    it('starts the workspace daemon, which holds the store after the BUILT_CLI has exited', async () => {
      const result = await opsbook(['runs', 'list', '--json', '--workspace', workspace], env);
      expect(result.code).toBe(0);
      const daemon = await findDaemon(workspace, runtime);
      expect(daemon).not.toBeNull();
      expect(alive(daemon!.info.pid)).toBe(true);
      const probe = Store.open(workspace);
      await expect(probe).rejects.toBeInstanceOf(StoreLockedError);
      await expect(probe).rejects.toThrow(`PID ${daemon!.info.pid}`);
      // The next command attaches to it instead of starting another.
      expect((await opsbook(['runs', 'show', 'a1b2', '--json', '--workspace', workspace], env)).code).toBe(0);
      expect((await findDaemon(workspace, runtime))!.info.pid).toBe(daemon!.info.pid);
    });

    it('waits while another process holds the store, and reads once the started daemon gets it', async () => {
      const holder = await Store.open(workspace);
      const pending = opsbook(['runs', 'list', '--json', '--workspace', workspace], env);
      let settled = false;
      void pending.then(() => (settled = true));
      // The started daemon logs that this process holds the store; a fixed wait could end before a
      // daemon started on a loaded machine got that far.
      const logFile = join(workspace, '.opsbook', 'daemon.log');
      const logged = (): boolean => {
        try {
          return readFileSync(logFile, 'utf8').includes(`PID ${process.pid}`);
        } catch {
          return false;
        }
      };
      for (const started = Date.now(); !logged() && !settled && Date.now() - started < 45_000; ) await sleep(100);
      // Had the BUILT_CLI opened the store itself, it would have failed on the lock by now.
      expect(settled).toBe(false);
      expect(logged()).toBe(true);
      await holder.close();
      const result = await pending;
      expect(result.code).toBe(0);
      expect((JSON.parse(result.stdout) as { runs: unknown[] }).runs).toHaveLength(2);
    });

    it('finds the workspace from a subfolder by its .opsbook folder', async () => {
      const deep = join(workspace, 'notebooks', 'deep');
      mkdirSync(deep, { recursive: true });
      const { OPSBOOK_WORKSPACE: _unset, ...inherited } = env;
      const result = await opsbook(['runs', 'list', '--json'], inherited, deep);
      expect(result.code).toBe(0);
      expect((JSON.parse(result.stdout) as { runs: { id: string }[] }).runs.map((r) => r.id)).toEqual([RUN_B, RUN_A]);
      expect(readDiscovery(discoveryPath(workspace, runtime))?.workspace).toBe(realpathSync(workspace));
      const elsewhere = mkdtempSync(join(tmpdir(), 'opsbook-elsewhere-'));
      try {
        const named = await opsbook(['runs', 'list', '--json'], { ...inherited, OPSBOOK_WORKSPACE: elsewhere }, deep);
        expect(named.code).toBe(0);
        expect(JSON.parse(named.stdout)).toEqual({ runs: [], total: 0 });
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
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
      expect(lines[0]).toMatch(/^ID\s+EXPERIMENT\s+NAME\s+STATUS\s+STARTED\s+DURATION\s+params\.lr\s+metrics\.loss$/);
      expect(lines).toHaveLength(3);
      expect(lines[2]).toContain('a1b2c3d4');
      expect(lines[2].slice(lines[0].indexOf('metrics.loss'))).toBe('0.4');
      expect(lines[1][lines[0].indexOf('params.lr')]).toBe('-');
      expect(lines[2]).toContain('1m05s');
      expect(lines[2].indexOf('finished')).toBe(lines[0].indexOf('STATUS'));
      const block = (await opsbook(['runs', 'show', RUN_A, '--workspace', workspace], env)).stdout;
      expect(block).toMatch(/^Run\s+a1b2c3d4-0000-4000-8000-000000000001$/m);
      expect(block).toMatch(/^ {2}lr\s+0\.1$/m);
      expect(block).toMatch(/^ {2}loss\s+2\s+0\.4\s+0\.4\s+0\.9\s+1$/m);
      expect(block).toMatch(/^ {2}team\s+ml$/m);
    });

    it('runs list filters, sorts and pages; a bad filter exits 2 with one line naming the position', async () => {
      const list = async (...args: string[]): Promise<{ runs: { id: string }[]; total: number }> => {
        const result = await opsbook(['runs', 'list', '--json', '--workspace', workspace, ...args], env);
        expect(result).toMatchObject({ code: 0, stderr: '' });
        return JSON.parse(result.stdout) as { runs: { id: string }[]; total: number };
      };
      expect((await list('--filter', 'metrics.loss < 0.5 and params.lr = 0.1')).runs.map((r) => r.id)).toEqual([RUN_A]);
      expect((await list('--filter', 'second')).runs.map((r) => r.id)).toEqual([RUN_B]);
      expect((await list('--sort', 'name', '--order', 'asc')).runs.map((r) => r.id)).toEqual([RUN_A, RUN_B]);
      expect(await list('--sort', 'name', '--order', 'asc', '--offset', '1', '--limit', '1')).toMatchObject({ runs: [{ id: RUN_B }], total: 2 });
      const table = await opsbook(['runs', 'list', '-f', 'params.lr >= 0.1', '--workspace', workspace], env);
      expect(table.stdout.split('\n')[0]).toMatch(/params\.lr\s+metrics\.loss$/);
      for (const args of [['--filter', 'metrics.loss >'], ['--json', '--filter', 'metrics.loss >']]) {
        const bad = await opsbook(['runs', 'list', ...args, '--workspace', workspace], env);
        expect(bad.code).toBe(2);
        expect(bad.stderr.trimEnd().split('\n')).toEqual(['opsbook: filter: expected a value after metrics.loss >, found end of filter (at position 15)']);
        if (args[0] === '--json') expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'bad_request', field: 'filter', value: 'metrics.loss >' } });
      }
      expect((await opsbook(['runs', 'list', '--sort', 'bogus', '--workspace', workspace], env)).code).toBe(2);
    }, 60_000);

    it('runs update stars, notes, tags and untags; delete hides a run from the list and restore brings it back', async () => {
      const updated = await opsbook(
        ['runs', 'update', 'a1b2', '--star', '--note', 'best so far', '--tag', 'stage=prod', '--tag', 'owner=ana', '--untag', 'team', '--json', '--workspace', workspace],
        env,
      );
      expect(updated.code).toBe(0);
      const run = JSON.parse(updated.stdout);
      expect(validator.check('run.schema.json', run)).toBeNull();
      expect(run).toMatchObject({ id: RUN_A, starred: true, notes: 'best so far', tags: { stage: 'prod', owner: 'ana' } });
      expect(run.tags).not.toHaveProperty('team');
      const renamed = await opsbook(['runs', 'update', RUN_A, '--unstar', '--name', 'renamed', '--workspace', workspace], env);
      expect(renamed.stdout).toBe(`${RUN_A}  renamed  finished  (tags: owner=ana stage=prod; notes: best so far)\n`);
      const deleted = await opsbook(['runs', 'delete', 'b1b2', '--workspace', workspace], env);
      expect(deleted.code).toBe(0);
      expect(deleted.stderr).toContain('opsbook runs restore b1b2c3d4');
      const listed = async (...args: string[]): Promise<string[]> =>
        (JSON.parse((await opsbook(['runs', 'list', '--json', '--workspace', workspace, ...args], env)).stdout) as { runs: { id: string }[] }).runs.map((r) => r.id);
      expect(await listed()).toEqual([RUN_A]);
      expect(await listed('--deleted', 'only')).toEqual([RUN_B]);
      expect((await opsbook(['runs', 'show', 'b1b2', '--json', '--workspace', workspace], env)).code).toBe(0);
      expect((await opsbook(['runs', 'restore', 'b1b2', '--workspace', workspace], env)).code).toBe(0);
      expect(await listed()).toEqual([RUN_B, RUN_A]);
      for (const args of [['a1b2'], ['a1b2', '--star', '--unstar'], ['a1b2', '--tag', 'novalue']]) {
        const bad = await opsbook(['runs', 'update', ...args, '--workspace', workspace], env);
        expect(bad.code).toBe(2);
        expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
      }
    }, 60_000);

    it('exits 2 naming an unknown or ambiguous run id', async () => {
      const unknown = await opsbook(['runs', 'show', 'ffff', '--workspace', workspace], env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('"ffff"');
      expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);
    });

    it('exits 3 naming the holder when the store stays locked by a process that is not a daemon', async () => {
      const holder = await Store.open(workspace);
      const impatient = { ...env, OPSBOOK_START_TIMEOUT_S: '1' };
      try {
        const result = await opsbook(['runs', 'list', '--workspace', workspace], impatient);
        expect(result.code).toBe(3);
        expect(result.stderr).toContain(`held by PID ${process.pid}`);
        expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
        const json = await opsbook(['runs', 'list', '--json', '--workspace', workspace], impatient);
        expect(json.code).toBe(3);
        expect(validator.check('error.schema.json', JSON.parse(json.stdout))).toBeNull();
        expect(JSON.parse(json.stdout).error.code).toBe('unavailable');
      } finally {
        await holder.close();
      }
      // The two daemons those calls started were still waiting for the lock: one now opens the
      // store and the other attaches to it and exits.
      const log = join(workspace, '.opsbook', 'daemon.log');
      while (!/"event":"ready"[\s\S]*"event":"attached"/.test(readFileSync(log, 'utf8'))) await sleep(50);
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

    it('prints the version of @opsbook/core for --version and exits 0', async () => {
      const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
      const result = await opsbook(['--version'], env);
      expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    });

    it('exits quietly when its reader has gone (`opsbook --help | head`)', async () => {
      const result = await new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, [BUILT_CLI, '--help'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        // The read end closes before the BUILT_CLI has started, so its first write meets EPIPE.
        child.stdout.destroy();
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.once('close', (code) => resolve({ code, stdout: '', stderr }));
      });
      expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
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
