import { statSync, writeFileSync } from 'node:fs';
import { SchemaValidator, type CheckOutcome, type CheckResult, type CheckSuite } from '@opsbook/schema';
import { BadInputError, ConflictError } from '../store/errors';
import type { ProgressStep } from './hooks';
import { runSuite } from './run-suite';
import type { ResolvedSource } from './source';
import { quoteIdent } from './sql';
import { parseSuiteText } from './suite';
import { ISSUE_SUITE as SUITE, readRows, tempFolder, writeTable } from './testing';

const N = 5000;
const WEIRD = 'we"ird; --col';

/**
 * The test table: every column carries planted defects at known positions, and 30 rows are exact
 * copies of earlier ones. Defects follow i (the row number) so that TypeScript can count them
 * independently over the rows read back.
 */
const GENERATED = `
  WITH base AS (
    SELECT
      range AS i,
      CASE WHEN range % 1000 = 3 THEN NULL WHEN range % 500 = 7 THEN range - 1 ELSE range END AS id,
      CASE WHEN range % 97 = 0 THEN NULL ELSE (range % 130 - 5)::INTEGER END AS age,
      CASE range % 50 WHEN 0 THEN 'not an email' WHEN 1 THEN NULL ELSE 'u' || range || '@example.org' END AS email,
      ['DE', 'FR', 'US', 'UK', NULL][range % 5 + 1] AS country,
      CASE WHEN range % 11 = 0 THEN NULL ELSE (range % 40) + 0.5 END AS price,
      (now() AT TIME ZONE 'UTC') - to_minutes(range) AS created_at,
      (range % 3)::VARCHAR AS ${quoteIdent(WEIRD)}
    FROM range(${N})
  )
  SELECT * EXCLUDE (i) FROM (SELECT * FROM base UNION ALL SELECT * FROM base WHERE i < 30) ORDER BY i`;

type Row = Record<string, unknown>;

/** The failing rows of each check, counted in plain TypeScript over the rows. */
function independentCounts(rows: Row[]) {
  const nonNull = (column: string) => rows.filter((r) => r[column] !== null);
  const tally = new Map<unknown, number>();
  for (const r of nonNull('id')) tally.set(r.id, (tally.get(r.id) ?? 0) + 1);
  const distinctRows = new Set(rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))));
  const ages = nonNull('age').map((r) => r.age as number);
  const prices = nonNull('price').map((r) => r.price as number);
  return {
    notNullId: rows.filter((r) => r.id === null).length,
    uniqueId: nonNull('id').filter((r) => tally.get(r.id)! > 1).length,
    betweenAge: ages.filter((a) => a < 0 || a > 120).length,
    nullAge: rows.filter((r) => r.age === null).length,
    badEmail: nonNull('email').filter((r) => !/^[^@ ]+@[^@ ]+$/.test(r.email as string)).length,
    badCountry: nonNull('country').filter((r) => !['DE', 'FR', 'US'].includes(r.country as string)).length,
    duplicates: rows.length - distinctRows.size,
    meanPrice: prices.reduce((s, p) => s + p, 0) / prices.length,
    negativePrices: prices.filter((p) => p < 0).length,
    weirdTwos: rows.filter((r) => r[WEIRD] === '2').length,
  };
}


const validator = new SchemaValidator();

function outcome(result: CheckResult, index: number): CheckOutcome {
  const found = result.checks.find((c) => c.index === index);
  if (!found) throw new Error(`no outcome for check ${index}`);
  return found;
}

describe('runSuite', () => {
  const folder = tempFolder('suite');
  let data: ResolvedSource;
  let rows: Row[];
  let expected: ReturnType<typeof independentCounts>;

  beforeAll(async () => {
    data = await writeTable(folder.dir, 'orders', GENERATED);
    await writeTable(folder.dir, 'ref', `SELECT (range % 130 - 5)::INTEGER AS age, (range % 7)::VARCHAR AS country FROM range(${N})`);
    await writeTable(folder.dir, 'shifted', `SELECT (range % 130 + 60)::INTEGER AS age, 'DE' AS country FROM range(${N})`);
    rows = await readRows(`SELECT * FROM read_parquet('${data.path}')`);
    expected = independentCounts(rows);
  });
  afterAll(() => folder.cleanup());

  it('runs the issue\'s 13 checks with exact failing_rows, in suite order, valid against the schema', async () => {
    const steps: ProgressStep[] = [];
    const result = await runSuite(
      { data, suite: parseSuiteText(SUITE, 'suite.yaml'), suiteDir: folder.dir },
      { onProgress: (step) => steps.push(step) },
    );
    expect(validator.check('check-result.schema.json', result)).toBeNull();
    expect(result.rows).toBe(N + 30);
    expect(result.checks.map((c) => c.check)).toEqual([
      'row_count', 'columns', 'not_null', 'unique', 'between', 'null_fraction', 'matches',
      'in_set', 'duplicate_rows', 'mean_between', 'freshness', 'sql', 'drift',
    ]);
    expect(result.checks.map((c) => c.index)).toEqual([...Array(13).keys()]);
    expect(result.checks.map((c) => c.status)).toEqual([
      'pass', 'pass', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'pass', 'pass', 'pass', 'pass',
    ]);
    expect(outcome(result, 0).observed).toBe(N + 30);
    expect(outcome(result, 2).failing_rows).toBe(expected.notNullId);
    expect(outcome(result, 3).failing_rows).toBe(expected.uniqueId);
    expect(outcome(result, 4).failing_rows).toBe(expected.betweenAge);
    expect(outcome(result, 4).observed).toEqual({ min: -5, max: 124 });
    expect(outcome(result, 5).observed).toBeCloseTo(expected.nullAge / (N + 30), 12);
    expect(outcome(result, 6).failing_rows).toBe(expected.badEmail);
    expect(outcome(result, 7).failing_rows).toBe(expected.badCountry);
    expect(outcome(result, 8).failing_rows).toBe(expected.duplicates);
    expect(outcome(result, 9).observed).toBeCloseTo(expected.meanPrice, 9);
    expect(outcome(result, 9).status).toBe(expected.meanPrice >= 10 && expected.meanPrice <= 50 ? 'pass' : 'fail');
    expect(outcome(result, 11).observed).toBe(expected.negativePrices);
    expect(outcome(result, 12).method).toBe('psi');
    // Every planted defect is there to be found.
    expect([expected.notNullId, expected.uniqueId, expected.betweenAge, expected.badEmail, expected.badCountry, expected.duplicates]).not.toContain(0);
    expect(result).toMatchObject({ suite: 'orders', status: 'fail', passed: 6, failed: 7, errors: 0 });
    expect(result.data).toMatchObject({ label: 'orders.parquet', format: 'parquet', rows: N + 30 });
    expect(steps.map((s) => s.phase)).toEqual(expect.arrayContaining(['load', 'scan', 'samples', 'sql', 'drift', 'done']));
  });

  it('runs every aggregate check in one scan, and fetches samples only for failed checks', async () => {
    const aggregateOnly: CheckSuite = {
      suite: 'one-scan',
      checks: [
        { check: 'row_count', min: 1 },
        { check: 'not_null', column: 'email' },
        { check: 'between', column: 'age', min: -100, max: 1000 },
        { check: 'null_fraction', column: 'age', max: 0.5 },
        { check: 'matches', column: 'country', pattern: '^[A-Z]{2}$' },
        { check: 'in_set', column: 'country', values: ['DE', 'FR', 'US', 'UK'] },
        { check: 'mean_between', column: 'price', max: 1000 },
        { check: 'freshness', column: 'created_at', max_age: '1w' },
        { check: 'unique', column: 'email' },
        { check: 'duplicate_rows', columns: ['id', 'email'] },
      ],
    };
    const result = await runSuite({ data, suite: aggregateOnly, suiteDir: folder.dir });
    const failing = result.checks.filter((c) => c.status === 'fail');
    expect(failing.map((c) => c.check)).toEqual(['not_null', 'unique', 'duplicate_rows']);
    // The grouping by email and the count of rows whose email repeats (duplicate_rows' candidates:
    // few, so the scan collects them); the one scan, unpacking its candidates, reading its row with
    // the duplicate count; then one sample query per failed check.
    expect(result.queries).toBe(2 + 3 + failing.length);
    expect(outcome(result, 9).failing_rows).toBe(30);
  });

  it.each(['csv', 'json'] as const)('gives the same failing_rows on the same rows read from %s', async (format) => {
    const text = await writeTable(folder.dir, `orders-${format}`, GENERATED, format);
    const suite = parseSuiteText(SUITE, 'suite.yaml');
    const checks = suite.checks.filter((c) => !['columns', 'drift', 'freshness'].includes(c.check));
    const fromText = await runSuite({ data: text, suite: { ...suite, checks: [checks[0], ...checks.slice(1)] }, suiteDir: folder.dir, samples: 1 });
    const fromParquet = await runSuite({ data, suite: { ...suite, checks: [checks[0], ...checks.slice(1)] }, suiteDir: folder.dir, samples: 1 });
    expect(fromText.data).toMatchObject({ format, rows: N + 30 });
    expect(fromText.checks.map((c) => [c.check, c.status, c.failing_rows])).toEqual(fromParquet.checks.map((c) => [c.check, c.status, c.failing_rows]));
  });

  it('counts duplicate rows exactly whether a unique check\'s grouping or a row hash keys them', async () => {
    const suite: CheckSuite = {
      suite: 'dups',
      checks: [
        { check: 'duplicate_rows' },
        { check: 'duplicate_rows', columns: ['country'] },
        { check: 'duplicate_rows', columns: ['country', 'age'] },
        { check: 'unique', column: 'age' },
      ],
    };
    const result = await runSuite({ data, suite, suiteDir: folder.dir, samples: 0 });
    const distinct = (columns: string[]) => new Set(rows.map((r) => JSON.stringify(columns.map((c) => r[c])))).size;
    expect(result.checks.map((c) => c.failing_rows)).toEqual([
      expected.duplicates,
      rows.length - distinct(['country']),
      rows.length - distinct(['country', 'age']),
      rows.filter((r) => r.age !== null && rows.filter((o) => o.age === r.age).length > 1).length,
    ]);
  });

  it('attaches failing-row samples and a histogram with the check\'s bounds', async () => {
    const suite: CheckSuite = {
      suite: 's',
      checks: [
        { check: 'between', column: 'age', min: 0, max: 120 },
        { check: 'unique', column: 'id' },
        { check: 'not_null', column: 'country' },
      ],
    };
    const result = await runSuite({ data, suite, suiteDir: folder.dir, samples: 5 });
    expect(validator.check('check-result.schema.json', result)).toBeNull();
    const between = outcome(result, 0);
    expect(between.sample!.rows).toHaveLength(5);
    const ageAt = between.sample!.columns.findIndex((c) => c.name === 'age');
    expect(between.sample!.columns[ageAt].type).toBe('INTEGER');
    for (const row of between.sample!.rows as unknown[][]) expect((row[ageAt] as number) < 0 || (row[ageAt] as number) > 120).toBe(true);
    expect(between.sample!.arrow).toEqual(expect.any(String));
    const histogram = between.histogram!;
    expect(histogram.bounds).toEqual({ min: 0, max: 120 });
    expect(histogram.edges).toHaveLength(21);
    expect(histogram.edges![0]).toBe(-5);
    expect(histogram.edges![20]).toBeCloseTo(124, 9);
    expect(histogram.counts.reduce((s, c) => s + c, 0)).toBe(rows.filter((r) => r.age !== null).length);
    expect(histogram.nulls).toBe(expected.nullAge);
    const unique = outcome(result, 1).sample!;
    const idAt = unique.columns.findIndex((c) => c.name === 'id');
    const ids = (unique.rows as unknown[][]).map((r) => r[idAt]);
    expect(ids[0]).toBe(ids[1]);
    expect(outcome(result, 2).sample!.rows.every((r) => (r as unknown[])[unique.columns.findIndex((c) => c.name === 'country')] === null)).toBe(true);
  });

  it('makes a check that cannot run an error of that check alone', async () => {
    const suite: CheckSuite = {
      suite: 'errors',
      checks: [
        { check: 'not_null', column: 'no_such_column' },
        { check: 'mean_between', column: 'email', min: 0 },
        { check: 'freshness', column: 'age', max_age: '1d' },
        { check: 'matches', column: 'email', pattern: '(unclosed' },
        { check: 'between', column: 'created_at', min: 'not a date' },
        { check: 'between', column: 'age', min: 'ten' },
        { check: 'in_set', column: 'age', values: ['x'] },
        { check: 'sql', query: 'select no_such_column from data', expect: 1 },
        { check: 'sql', query: 'select id from data', expect: 1 },
        { check: 'drift', column: 'age' },
        { check: 'not_null', column: 'email' },
        { check: 'between', column: 'created_at', min: '2000-01-01', max: '2999-12-31T23:59:59' },
        { check: 'in_set', column: WEIRD, values: ['0', '1'] },
      ],
    };
    const result = await runSuite({ data, suite, suiteDir: folder.dir });
    expect(validator.check('check-result.schema.json', result)).toBeNull();
    expect(result.checks.slice(0, 10).map((c) => c.status)).toEqual(Array(10).fill('error'));
    expect(outcome(result, 0).message).toMatch(/column "no_such_column" is not in the data/);
    expect(outcome(result, 3).message).toMatch(/pattern "\(unclosed" is not a regular expression/);
    expect(outcome(result, 4).message).toMatch(/not a date or timestamp/);
    expect(outcome(result, 8).message).toMatch(/one value; it returned 5030 rows/);
    expect(outcome(result, 9).message).toMatch(/no reference/);
    expect(outcome(result, 10)).toMatchObject({ status: 'fail', failing_rows: rows.filter((r) => r.email === null).length });
    expect(outcome(result, 11).status).toBe('pass');
    expect(outcome(result, 12)).toMatchObject({ status: 'fail', failing_rows: expected.weirdTwos, column: WEIRD });
    expect(result).toMatchObject({ errors: 10, failed: 2, passed: 1, status: 'fail' });
  });

  it('flags a shifted column by drift and passes an unshifted one, reading the run\'s reference', async () => {
    const shifted = { path: `${folder.dir}/shifted.parquet`, format: 'parquet' as const, label: 'shifted.parquet' };
    const suite: CheckSuite = { suite: 'd', checks: [{ check: 'drift', column: 'age' }, { check: 'drift', column: 'age', method: 'ks' }] };
    const same = await runSuite({ data, suite: { ...suite, checks: [{ check: 'drift', column: 'age', reference: 'ref.parquet' }] }, suiteDir: folder.dir });
    expect(same.checks[0]).toMatchObject({ status: 'pass', method: 'psi' });
    const moved = await runSuite({ data, suite, reference: shifted, suiteDir: folder.dir });
    expect(moved.checks.map((c) => [c.status, c.method])).toEqual([['fail', 'psi'], ['fail', 'ks']]);
    expect(moved.reference).toMatchObject({ label: 'shifted.parquet' });
    expect(moved.checks[1].p_value).toBeLessThan(0.01);
  });

  it('refuses a missing reference file and a sql check that is not one SELECT before running anything', async () => {
    const missing = runSuite({ data, suite: { suite: 'm', checks: [{ check: 'drift', column: 'age', reference: 'nope.parquet' }] }, suiteDir: folder.dir });
    await expect(missing).rejects.toThrow(BadInputError);
    await expect(missing).rejects.toThrow(/\/checks\/0\/reference\.path: no such file: nope\.parquet/);
  });

  describe('injection corpus', () => {
    const canary = 'canary-content-4412';
    const hostile = [
      `x"; DROP VIEW data; --`,
      `a'b`,
      `"`,
      `; SELECT * FROM read_csv('/etc/passwd') --`,
      `read_csv('/etc/passwd')`,
      `ATTACH '/tmp/evil.duckdb' AS evil`,
      `INSTALL httpfs`,
      `SET enable_external_access=true`,
      `COPY data TO '/tmp/opsbook-evil.csv'`,
      `id) FROM data; SELECT (1`,
    ];

    it.each(hostile)('quotes the column name %s: the check reports a missing column', async (name) => {
      const result = await runSuite({
        data,
        suite: {
          suite: 'inj',
          checks: [
            { check: 'not_null', column: name },
            { check: 'unique', column: name },
            { check: 'between', column: name, min: 0 },
            { check: 'duplicate_rows', columns: [name] },
            { check: 'row_count', min: 1 },
          ],
        },
        suiteDir: folder.dir,
      });
      expect(result.checks.slice(0, 4).every((c) => c.status === 'error' && /is not in the data/.test(c.message ?? ''))).toBe(true);
      expect(result.checks[4]).toMatchObject({ status: 'pass', observed: N + 30 });
    });

    it('quotes hostile values in patterns and sets', async () => {
      const result = await runSuite({
        data,
        suite: {
          suite: 'inj',
          checks: [
            { check: 'in_set', column: 'country', values: [`DE') OR 1=1 --`, `'; COPY data TO '/tmp/x.csv'; --`] },
            { check: 'matches', column: 'email', pattern: `'; SELECT * FROM read_text('/etc/passwd'); --` },
            { check: 'matches', column: 'email', pattern: `'); SELECT (1` },
          ],
        },
        suiteDir: folder.dir,
        samples: 0,
      });
      expect(result.checks[0].failing_rows).toBe(rows.filter((r) => r.country !== null).length);
      expect(result.checks[1].failing_rows).toBe(rows.filter((r) => r.email !== null).length);
      expect(result.checks[2]).toMatchObject({ status: 'error', message: expect.stringMatching(/is not a regular expression/) });
    });

    it.each([
      ['select 1; select 2'],
      [`select count(*) from data; COPY data TO '${'/tmp'}/opsbook-evil.csv'`],
      [`COPY data TO '/tmp/opsbook-evil.csv'`],
      [`ATTACH '/tmp/evil.duckdb' AS evil`],
      ['INSTALL httpfs'],
      ['SET enable_external_access=true'],
      ['select 1; drop view data'],
      ['drop view data'],
    ])('refuses the sql %s with a BadInputError naming the check', async (query) => {
      const run = runSuite({ data, suite: { suite: 'inj', checks: [{ check: 'sql', query, expect: 0 }] }, suiteDir: folder.dir });
      await expect(run).rejects.toThrow(BadInputError);
      await expect(run).rejects.toMatchObject({ field: '/checks/0/query' });
    });

    it('never reads a canary outside the allowed paths', async () => {
      const path = `${folder.dir}/canary.csv`;
      writeFileSync(path, `secret\n${canary}\n`);
      const before = statSync(path).atimeMs;
      const result = await runSuite({
        data,
        suite: {
          suite: 'canary',
          checks: [
            { check: 'sql', query: `select secret from read_csv('${path}')`, expect: canary },
            { check: 'sql', query: `select content from read_text('${path}')`, expect: canary },
            { check: 'sql', query: `select count(*) from read_csv('/etc/passwd')`, expect: 0 },
            { check: 'sql', query: `select count(*) from glob('${folder.dir}/*')`, expect: 0 },
          ],
        },
        suiteDir: folder.dir,
      });
      expect(result.checks.map((c) => c.status)).toEqual(['error', 'error', 'error', 'error']);
      expect(result.checks[2].message).toContain(`Permission Error: Cannot access file "/etc/passwd"`);
      expect(result.checks.filter((c) => c.message?.includes('\n'))).toEqual([]); // one line each
      expect(JSON.stringify(result)).not.toContain(canary);
      expect(statSync(path).atimeMs).toBe(before);
    });
  });

  it('stops mid-scan when cancelled, with a ConflictError on job_id', async () => {
    const big = await writeTable(
      folder.dir,
      'big',
      `SELECT range AS a, range % 1000003 AS b, md5(range::VARCHAR) AS c, range * 2 AS d FROM range(4000000)`,
    );
    const controller = new AbortController();
    const phases: string[] = [];
    const run = runSuite(
      {
        data: big,
        suite: { suite: 'big', checks: [{ check: 'duplicate_rows' }, { check: 'unique', column: 'c' }, { check: 'matches', column: 'c', pattern: '^[0-9a-f]+$' }] },
        suiteDir: folder.dir,
      },
      {
        signal: controller.signal,
        jobId: 'job-7',
        onProgress: (step) => {
          phases.push(`${step.phase}:${step.done}`);
          if (step.phase === 'scan' && step.done === 0) setTimeout(() => controller.abort(), 50);
        },
      },
    );
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ field: 'job_id', value: 'job-7' });
    expect(phases).toContain('scan:0');
    expect(phases).not.toContain('scan:1');
  });
});
