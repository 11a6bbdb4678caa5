import { SchemaValidator } from '@opsbook/schema';
import { parse } from 'yaml';
import { runSuite } from './run-suite';
import { suggestSuite, suiteName } from './suggest';
import { tempFolder, writeTable } from './testing';

const validator = new SchemaValidator();

/** Every kind of column a suggestion looks at, with a few nulls, a unique key and int64 beyond 2^53. */
const TABLE = `SELECT range AS id,
    9007199254740992::BIGINT + range * 3 AS big,
    CASE WHEN range % 20 = 0 THEN NULL ELSE (range % 97) / 4.0 END AS price,
    ((range % 7) / 10)::DECIMAL(10,2) AS fee,
    CASE WHEN range % 10 < 6 THEN 'DE' WHEN range % 10 < 9 THEN 'FR' ELSE 'US' END AS country,
    'user' || range || '@example.com' AS email,
    range % 3 = 0 AS flag,
    TIMESTAMP '2024-01-01' + to_minutes(range) AS created_at,
    NULL::VARCHAR AS nothing
  FROM range(2000)`;

describe('suggestSuite', () => {
  const folder = tempFolder('suggest');
  afterAll(() => folder.cleanup());

  it('suggests a schema-valid suite, with a comment per check, that passes on the data it came from', async () => {
    const data = await writeTable(folder.dir, 'orders', TABLE);
    const { suite, yaml } = await suggestSuite(data);
    expect(validator.check('check-suite.schema.json', suite)).toBeNull();
    expect(parse(yaml)).toEqual(suite);
    expect(suite.suite).toBe('orders');

    const lines = yaml.split('\n');
    const checkLines = lines.map((line, i) => [line, i] as const).filter(([line]) => /^\s+- \{ check:/.test(line));
    expect(checkLines).toHaveLength(suite.checks.length);
    for (const [, i] of checkLines) expect(lines[i - 1]).toMatch(/^\s+# \S/);

    const checks = suite.checks.map((c) => `${c.check}${'column' in c ? ` ${String(c.column)}` : ''}`);
    expect(checks).toEqual([
      'row_count',
      'columns',
      'not_null id',
      'unique id',
      'between id',
      'not_null big',
      'unique big',
      'between big',
      'null_fraction price',
      'between price',
      'not_null fee',
      'between fee',
      'not_null country',
      'in_set country',
      'not_null email',
      'unique email',
      'not_null flag',
      'not_null created_at',
      'unique created_at',
    ]);
    expect(suite.checks[0]).toEqual({ check: 'row_count', min: 1000, max: 4000 });
    // big runs from 2^53 to 2^53 + 5997: the max, odd, is no double; the bound is the next double up.
    expect(suite.checks[7]).toEqual({ check: 'between', column: 'big', min: 9007199254740992, max: 9007199254746990 });
    expect(suite.checks[11]).toEqual({ check: 'between', column: 'fee', min: 0, max: 0.6 });
    expect(suite.checks[8]).toEqual({ check: 'null_fraction', column: 'price', max: 0.075 });
    expect(suite.checks[13]).toEqual({ check: 'in_set', column: 'country', values: ['DE', 'FR', 'US'] });

    const result = await runSuite({ data, suite, suiteDir: folder.dir });
    expect(result.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(result.status).toBe('pass');
  });

  it('suggests for an empty table and names suites after the file', async () => {
    const empty = await writeTable(folder.dir, 'empty', `SELECT * FROM (${TABLE}) WHERE false`);
    const { suite } = await suggestSuite(empty, { name: 'nightly' });
    expect(suite.suite).toBe('nightly');
    expect(suite.checks.map((c) => c.check)).toEqual(['row_count', 'columns']);
    expect((await runSuite({ data: empty, suite, suiteDir: folder.dir })).status).toBe('pass');
    expect(suiteName('my orders.parquet')).toBe('my_orders');
    expect(suiteName('_df.parquet')).toBe('data_df');
  });
});
