import { SchemaValidator, type ColumnProfile, type DataProfile } from '@opsbook/schema';
import { ConflictError } from '../store/errors';
import { profileTable } from './profile';
import { tempFolder, writeTable } from './testing';

const validator = new SchemaValidator();

const ROWS = 1000;
/*
 * Generated rows whose every statistic follows from i = 0..999 by hand:
 *   id      BIGINT: 2^53 + i (beyond what a JSON number holds exactly)
 *   amount  DECIMAL(18,2): i / 4, null when i % 10 = 0 (100 nulls)
 *   score   DOUBLE: i % 50 (50 distinct, each 20 times)
 *   country VARCHAR: DE for i % 10 < 6, FR for 6-8, US for 9
 *   flag    BOOLEAN: i % 4 = 0
 *   seen    TIMESTAMP: 2024-01-01 + i hours
 *   nothing INTEGER: always null
 *   tags    BIGINT[]: other
 */
const TABLE = `SELECT 9007199254740992::BIGINT + range AS id,
    CASE WHEN range % 10 = 0 THEN NULL ELSE (range / 4)::DECIMAL(18,2) END AS amount,
    (range % 50)::DOUBLE AS score,
    CASE WHEN range % 10 < 6 THEN 'DE' WHEN range % 10 < 9 THEN 'FR' ELSE 'US' END AS country,
    range % 4 = 0 AS flag,
    TIMESTAMP '2024-01-01' + to_hours(range) AS seen,
    NULL::INTEGER AS nothing,
    [range, range + 1] AS tags
  FROM range(${ROWS})`;

describe('profileTable', () => {
  const folder = tempFolder('profile');
  let profile: DataProfile;
  const column = (name: string): ColumnProfile => profile.columns.find((c) => c.name === name)!;

  beforeAll(async () => {
    const data = await writeTable(folder.dir, 'data', TABLE);
    profile = await profileTable(data, { bins: 10, top: 3 });
  });
  afterAll(() => folder.cleanup());

  it('validates against data-profile.schema.json and counts exactly below a million rows', () => {
    expect(validator.check('data-profile.schema.json', profile)).toBeNull();
    expect(profile.rows).toBe(ROWS);
    expect(profile.distinct_exact).toBe(true);
    expect(profile.data.rows).toBe(ROWS);
    expect(profile.columns.map((c) => [c.name, c.type, c.kind])).toEqual([
      ['id', 'BIGINT', 'numeric'],
      ['amount', 'DECIMAL(18,2)', 'numeric'],
      ['score', 'DOUBLE', 'numeric'],
      ['country', 'VARCHAR', 'categorical'],
      ['flag', 'BOOLEAN', 'boolean'],
      ['seen', 'TIMESTAMP', 'temporal'],
      ['nothing', 'INTEGER', 'numeric'],
      ['tags', 'BIGINT[]', 'other'],
    ]);
  });

  it('keeps int64 values beyond 2^53 exact, as strings', () => {
    const id = column('id');
    expect(id.min).toBe('9007199254740992');
    expect(id.max).toBe('9007199254741991');
    expect(id.quantiles!.p50).toBe('9007199254741491');
    expect(id.distinct).toBe(ROWS);
    expect(id.top).toEqual([]);
  });

  it('counts nulls, distinct values, range, mean and stddev of numbers', () => {
    const amount = column('amount');
    expect(amount.nulls).toBe(100);
    expect(amount.null_fraction).toBe(0.1);
    expect(amount.min).toBe('0.25');
    expect(amount.max).toBe('249.75');
    const values = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 10 !== 0).map((i) => i / 4);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(amount.mean).toBeCloseTo(mean, 10);
    expect(amount.distinct).toBe(900);
    const score = column('score');
    expect(score.distinct).toBe(50);
    expect([score.min, score.max, score.quantiles!.p50, score.quantiles!.p99]).toEqual([0, 49, 24, 49]);
    const scores = Array.from({ length: ROWS }, (_, i) => i % 50);
    const variance = scores.reduce((s, v) => s + (v - 24.5) ** 2, 0) / (ROWS - 1);
    expect(score.stddev).toBeCloseTo(Math.sqrt(variance), 10);
    expect(score.histogram!.edges).toEqual([0, 4.9, 9.8, 14.700000000000001, 19.6, 24.5, 29.400000000000002, 34.300000000000004, 39.2, 44.1, 49]);
    expect(score.histogram!.counts).toEqual([100, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(score.top).toEqual([
      { value: 0, count: 20 },
      { value: 1, count: 20 },
      { value: 2, count: 20 },
    ]);
  });

  it('lists the top values of text and booleans and draws them with the rest as (other)', () => {
    const country = column('country');
    expect(country.top).toEqual([
      { value: 'DE', count: 600 },
      { value: 'FR', count: 300 },
      { value: 'US', count: 100 },
    ]);
    expect([country.min, country.max, country.distinct]).toEqual(['DE', 'US', 3]);
    expect(country.histogram).toEqual({ categories: ['DE', 'FR', 'US'], counts: [600, 300, 100], nulls: 0 });
    const flag = column('flag');
    expect(flag.top).toEqual([
      { value: false, count: 750 },
      { value: true, count: 250 },
    ]);
    expect(flag.histogram).toEqual({ categories: ['false', 'true'], counts: [750, 250], nulls: 0 });
  });

  it('gives timestamps as ISO 8601 text and their histogram in epoch seconds', () => {
    const seen = column('seen');
    expect(seen.min).toBe('2024-01-01T00:00:00');
    expect(seen.max).toBe('2024-02-11T15:00:00');
    expect(seen.quantiles!.p01).toBe('2024-01-01T09:00:00');
    expect(seen.mean).toBeUndefined();
    const start = Date.UTC(2024, 0, 1) / 1000;
    expect(seen.histogram!.edges![0]).toBe(start);
    expect(seen.histogram!.edges![10]).toBe(start + 999 * 3600);
    expect(seen.histogram!.counts.reduce((s, c) => s + c, 0)).toBe(ROWS);
  });

  it('reports an all-null column without range, quantiles or histogram', () => {
    expect(column('nothing')).toEqual({
      name: 'nothing',
      type: 'INTEGER',
      kind: 'numeric',
      nulls: ROWS,
      null_fraction: 1,
      distinct: 0,
      distinct_exact: true,
      min: null,
      max: null,
      mean: null,
      stddev: null,
      top: [],
    });
    expect(column('tags')).toMatchObject({ kind: 'other', nulls: 0, distinct: ROWS });
  });

  it('profiles an empty table', async () => {
    const empty = await writeTable(folder.dir, 'empty', `SELECT * FROM (${TABLE}) WHERE false`);
    const result = await profileTable(empty);
    expect(validator.check('data-profile.schema.json', result)).toBeNull();
    expect(result.rows).toBe(0);
    for (const c of result.columns) expect([c.name, c.nulls, c.null_fraction, c.distinct, c.histogram]).toEqual([c.name, 0, 0, 0, undefined]);
  });

  it('from a million rows on, counts distinct values and quantiles approximately, and says so', async () => {
    const big = await writeTable(folder.dir, 'big', 'SELECT range % 300000 AS k FROM range(1000000)');
    const result = await profileTable(big, { top: 0 });
    expect(validator.check('data-profile.schema.json', result)).toBeNull();
    expect(result.distinct_exact).toBe(false);
    const k = result.columns[0];
    expect(k.distinct_exact).toBe(false);
    // HyperLogLog and t-digest over DuckDB's threads: runs here gave 276,918 and 323,082 distinct
    // values, and medians up to a tenth of the range off on these ordered values.
    expect(Math.abs(k.distinct - 300000) / 300000).toBeLessThan(0.15);
    expect(Math.abs(Number(k.quantiles!.p50) - 150000) / 300000).toBeLessThan(0.15);
    expect([k.min, k.max, k.nulls, k.top]).toEqual([0, 299999, 0, undefined]);
    expect(k.histogram!.counts.reduce((s, c) => s + c, 0)).toBe(1000000);
  });

  it('reports progress and stops with ConflictError(job_id) when cancelled', async () => {
    const data = await writeTable(folder.dir, 'small', 'SELECT range AS x FROM range(10)', 'csv');
    const phases: string[] = [];
    await profileTable(data, {}, { onProgress: (p) => phases.push(`${p.phase} ${p.done}/${p.total}`) });
    expect(phases).toEqual(['load 0/1', 'profile 1/4', 'profile 2/4', 'profile 3/4', 'profile 4/4']);
    const controller = new AbortController();
    controller.abort();
    await expect(profileTable(data, {}, { signal: controller.signal, jobId: 'p1' })).rejects.toThrow(ConflictError);
  });
});
