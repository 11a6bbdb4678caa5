import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type QualityProgress } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { followEvents } from '../client/events';
import { findDaemon, startDaemon, type RunningDaemon } from '../daemon/daemon';
import { until } from '../daemon/testing';
import { parseSuiteText } from '../quality';
import { HANDOFF_SIDECAR_SUFFIX } from '../quality/source';
import { writeTable } from '../quality/testing';
import { BUILT_CLI, runBuiltCli as opsbook } from './testing';

const validator = new SchemaValidator();

/** 1,000 rows: ids 0..999 with 10 nulls, scores around 50 (or 80 when shifted), three countries. */
const table = (shift: number): string => `
  SELECT CASE WHEN i % 100 = 7 THEN NULL ELSE i END AS id,
         50 + ${shift} + (i % 21) - 10 AS score,
         ['DE', 'FR', 'US'][i % 3 + 1] AS country
  FROM range(1000) t(i)`;

const PASSING = `suite: orders
checks:
  - {check: row_count, min: 1000}
  - {check: in_set, column: country, values: [DE, FR, US]}
`;
const FAILING = `suite: orders
checks:
  - {check: row_count, min: 1000}
  - {check: not_null, column: id}
  - {check: between, column: score, min: 45, max: 55}
`;
/** Line 5 gives a number where a column name belongs. */
const MALFORMED = `suite: orders
checks:
  - check: row_count
    min: 1
  - {check: not_null, column: 7}
`;

describe('opsbook check, profile and drift through the built CLI', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;
  let env: NodeJS.ProcessEnv;
  let data: string;
  let shifted: string;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-quality-cli-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-quality-cli-runtime-'));
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const { OPSBOOK_RUN_ID: _inherited, ...rest } = process.env;
    env = { ...rest, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_WORKSPACE: workspace };
    data = (await writeTable(workspace, 'orders', table(0))).path;
    shifted = (await writeTable(workspace, 'shifted', table(30))).path;
    writeFileSync(join(workspace, 'passing.yaml'), PASSING);
    writeFileSync(join(workspace, 'failing.yaml'), FAILING);
    writeFileSync(join(workspace, 'malformed.yaml'), MALFORMED);
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('exits 0 when every check passes, with a ✓ line per check and a summary', async () => {
    const text = await opsbook(['check', 'orders.parquet', '--suite', 'passing.yaml'], env, workspace);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^✓ row_count/m);
    expect(text.stdout).toMatch(/^✓ in_set\s+country/m);
    expect(text.stdout).toMatch(/orders: PASS — 2 passed, 0 failed; 1000 rows in \d+\.\d\d s\n$/);
    const json = await opsbook(['check', data, '--suite', join(workspace, 'passing.yaml'), '--json'], env);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as { status: string; checks: unknown[] };
    expect(validator.check('check-result.schema.json', result)).toBeNull();
    expect(result.status).toBe('pass');
  });

  it('exits 1 when a check fails, naming failing rows and showing sample rows', async () => {
    const text = await opsbook(['check', data, '--suite', join(workspace, 'failing.yaml'), '--samples', '3'], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^✗ not_null\s+id\s+.*10 failing rows$/m);
    expect(text.stdout).toContain('failing rows of not_null id:');
    expect(text.stdout).toContain('… 7 more');
    expect(text.stdout).toMatch(/orders: FAIL — 1 passed, 2 failed; 1000 rows/);
    const json = await opsbook(['check', data, '--suite', join(workspace, 'failing.yaml'), '--json', '--samples', '2'], env);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout) as { checks: { failing_rows?: number; sample?: { rows: unknown[] } }[] };
    expect(validator.check('check-result.schema.json', result)).toBeNull();
    expect(result.checks[1].failing_rows).toBe(10);
    expect(result.checks[1].sample?.rows).toHaveLength(2);
  });

  it('takes a file in the hand-off folder as a hand-off: named and fingerprinted by its sidecar, removed with it after use', async () => {
    const folder = join(workspace, '.opsbook', 'handoff');
    mkdirSync(folder, { recursive: true });
    const frame = (await writeTable(folder, 'df-0123456789abcdef', table(0))).path;
    const fingerprint = { rows: 1000, columns: [{ name: 'id', dtype: 'int64' }], hash: `sha256:${'0'.repeat(64)}`, library: 'pandas' };
    writeFileSync(`${frame}${HANDOFF_SIDECAR_SUFFIX}`, JSON.stringify({ label: 'df', fingerprint }));
    const run = await opsbook(['check', frame, '--suite', join(workspace, 'passing.yaml'), '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).data).toMatchObject({ label: 'df', fingerprint });
    expect(readdirSync(folder)).toEqual([]);
  });

  it('records against --run, else $OPSBOOK_RUN_ID: metrics and the report artifact', async () => {
    const run = await client.createRun({ experiment: 'quality-cli' });
    const given = await opsbook(['check', data, '--suite', join(workspace, 'failing.yaml'), '--run', run.id, '--json'], env);
    expect(given.code).toBe(1);
    expect(JSON.parse(given.stdout)).toMatchObject({ run_id: run.id, artifact: 'quality/orders.json' });
    const fromEnv = await opsbook(['check', data, '--suite', join(workspace, 'passing.yaml')], { ...env, OPSBOOK_RUN_ID: run.id });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain(`recorded on run ${run.id} as quality/orders.json`);
    const detail = await client.getRun(run.id);
    const metrics = Object.fromEntries(detail.metrics.map((m) => [m.key, [m.count, m.last, m.last_step]]));
    expect(metrics).toEqual({ 'quality.orders.passed': [2, 2, 1], 'quality.orders.failed': [2, 0, 1] });
    expect((await client.listArtifacts(run.id)).artifacts.map((a) => a.name)).toEqual(['quality/orders.json']);
    const unknown = await opsbook(['check', data, '--suite', join(workspace, 'passing.yaml'), '--run', '00000000-0000-4000-8000-000000000000'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('00000000-0000-4000-8000-000000000000');
    // A unique prefix names the run, as it does for every other command.
    const prefixed = await opsbook(['check', data, '--suite', join(workspace, 'passing.yaml'), '--run', run.id.slice(0, 8), '--json'], env);
    expect([prefixed.code, prefixed.stderr]).toEqual([0, '']);
    expect(JSON.parse(prefixed.stdout)).toMatchObject({ run_id: run.id });
  });

  it('exits 2 with one line for a file DuckDB cannot read', async () => {
    writeFileSync(join(workspace, 'broken.parquet'), 'not parquet at all');
    const broken = await opsbook(['check', join(workspace, 'broken.parquet'), '--suite', join(workspace, 'passing.yaml')], env);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^opsbook: data\.path: cannot read broken\.parquet as parquet: .+\n$/);
  });

  it('prints a suggested suite that parses back (YAML; JSON with --json)', async () => {
    const yaml = await opsbook(['check', data, '--suggest'], env);
    expect(yaml.code).toBe(0);
    const suite = parseSuiteText(yaml.stdout, 'suggested.yaml');
    expect(suite.checks.length).toBeGreaterThan(0);
    const json = await opsbook(['check', data, '--suggest', '--json'], env);
    expect(json.code).toBe(0);
    expect(validator.check('quality-request.schema.json#/$defs/SuggestResult', JSON.parse(json.stdout))).toBeNull();
  });

  it('profiles a table: a column table, or one JSON document', async () => {
    const text = await opsbook(['profile', data], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^orders\.parquet: 1000 rows, 3 columns/);
    expect(text.stdout).toMatch(/^score\s+\S+\s+0 \(0\.0%\)/m);
    const json = await opsbook(['profile', data, '--json', '--bins', '5'], env);
    expect(json.code).toBe(0);
    const profile = JSON.parse(json.stdout) as { rows: number; columns: { name: string }[] };
    expect(validator.check('data-profile.schema.json', profile)).toBeNull();
    expect(profile.columns.map((c) => c.name)).toEqual(['id', 'score', 'country']);
  });

  it('drift exits 1 when a column drifted, ranked first, and 0 for the same table', async () => {
    const moved = await opsbook(['drift', shifted, data], env);
    expect(moved.code).toBe(1);
    expect(moved.stdout.split('\n')[0]).toMatch(/^✗ score\s+numeric/);
    expect(moved.stdout).toMatch(/shifted\.parquet vs orders\.parquet: \d of 3 columns drifted/);
    const same = await opsbook(['drift', data, data, '--json', '--column', 'score', '--column', 'country'], env);
    expect(same.code).toBe(0);
    const report = JSON.parse(same.stdout) as { columns: { column: string; drifted: boolean }[] };
    expect(validator.check('drift-report.schema.json', report)).toBeNull();
    expect(report.columns.map((c) => [c.column, c.drifted]).sort()).toEqual([['country', false], ['score', false]]);
  });

  it('replaces every drift reference with --reference, and reads relative ones from the suite file\'s folder', async () => {
    writeFileSync(join(workspace, 'drift.yaml'), 'suite: drifting\nchecks:\n  - {check: drift, column: score, reference: orders.parquet, method: psi, max: 0.2}\n');
    const elsewhere = tmpdir();
    const own = await opsbook(['check', data, '--suite', join(workspace, 'drift.yaml')], env, elsewhere);
    expect(own.code).toBe(0);
    const replaced = await opsbook(['check', data, '--suite', join(workspace, 'drift.yaml'), '--reference', shifted], env, elsewhere);
    expect(replaced.code).toBe(1);
    expect(replaced.stdout).toMatch(/^✗ drift\s+score/m);
  });

  it('cancels its job in the daemon on Ctrl-C and exits 130', async () => {
    const big = (await writeTable(workspace, 'big', 'SELECT i AS id, md5(i::VARCHAR) AS email FROM range(3000000) t(i)')).path;
    writeFileSync(join(workspace, 'big.yaml'), 'suite: big\nchecks:\n  - {check: unique, column: email}\n  - {check: matches, column: email, pattern: "^[0-9a-f]+@x$"}\n  - {check: duplicate_rows}\n');
    const seen: QualityProgress[] = [];
    let followed: ReturnType<typeof followEvents> | undefined;
    await new Promise<void>((resolve) => {
      followed = followEvents(client, { onEvent: () => undefined, onQuality: (event) => seen.push(event.data), onOpen: resolve });
    });
    try {
      const child = spawn(process.execPath, [BUILT_CLI, 'check', big, '--suite', join(workspace, 'big.yaml')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
      await until(() => seen.some((p) => p.job_id.startsWith('cli-')));
      child.kill('SIGINT');
      expect(await closed).toBe(130);
      expect(stderr).toMatch(/^opsbook: interrupted: quality job cli-\S+ was cancelled\n$/);
      await until(() => seen.some((p) => p.phase === 'cancelled'));
    } finally {
      followed?.close();
      await followed?.closed;
    }
  });

  describe('bad input, in a workspace with no daemon', () => {
    let fresh: string;
    let freshEnv: NodeJS.ProcessEnv;
    beforeAll(() => {
      fresh = mkdtempSync(join(tmpdir(), 'opsbook-quality-cli-fresh-'));
      freshEnv = { ...env, OPSBOOK_WORKSPACE: fresh };
    });
    afterAll(async () => {
      const started = await findDaemon(fresh, runtime);
      if (started) process.kill(started.info.pid, 'SIGTERM');
      rmSync(fresh, { recursive: true, force: true });
    });
    afterEach(async () => {
      // Nothing started a daemon, so nothing can have written a store.
      expect(await findDaemon(fresh, runtime)).toBeNull();
      expect(existsSync(join(fresh, '.opsbook'))).toBe(false);
    });

    it('exits 2 for a malformed suite, naming the field and the line', async () => {
      const text = await opsbook(['check', data, '--suite', join(workspace, 'malformed.yaml')], freshEnv);
      expect(text.code).toBe(2);
      expect(text.stderr).toMatch(/^opsbook: malformed\.yaml line 5: \/checks\/1\/column: /);
      const json = await opsbook(['check', data, '--suite', join(workspace, 'malformed.yaml'), '--json'], freshEnv);
      expect(json.code).toBe(2);
      const error = JSON.parse(json.stdout) as unknown;
      expect(validator.check('error.schema.json', error)).toBeNull();
      expect(error).toMatchObject({ error: { code: 'bad_request', field: '/checks/1/column' } });
    });

    it('exits 2 for unreadable or missing data, a missing suite file, or no --suite', async () => {
      const missing = await opsbook(['check', join(fresh, 'nope.parquet'), '--suite', join(workspace, 'passing.yaml')], freshEnv);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('data.path');
      expect(missing.stderr).toContain('nope.parquet');
      const unknownFormat = await opsbook(['profile', join(workspace, 'passing.yaml')], freshEnv);
      expect(unknownFormat.code).toBe(2);
      expect(unknownFormat.stderr).toContain('data.format');
      const noSuite = await opsbook(['check', data, '--suite', join(fresh, 'none.yaml')], freshEnv);
      expect(noSuite.code).toBe(2);
      expect(noSuite.stderr).toContain('none.yaml');
      const noOption = await opsbook(['check', data], freshEnv);
      expect(noOption.code).toBe(2);
      expect(noOption.stderr).toContain('--suite');
      const missingReference = await opsbook(['drift', data, join(fresh, 'ref.csv')], freshEnv);
      expect(missingReference.code).toBe(2);
      expect(missingReference.stderr).toContain('reference.path');
    });
  });
});

