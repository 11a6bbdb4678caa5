import { SchemaValidator, type DriftReport } from '@opsbook/schema';
import { BadInputError, ConflictError } from '../store/errors';
import { columnDriftStatistic, driftTables, type DriftMethod } from './drift';
import { openSandbox, type Sandbox } from './sandbox';
import type { ResolvedSource } from './source';
import { tempFolder, writeTable } from './testing';

const validator = new SchemaValidator();

async function withSandbox(tables: Record<string, ResolvedSource>, use: (sandbox: Sandbox) => Promise<void>): Promise<void> {
  const sandbox = await openSandbox({ tables });
  try {
    await use(sandbox);
  } finally {
    sandbox.close();
  }
}

/*
 * 20,000 reference rows and 20,000 data rows drawn from the same distributions (a different
 * permutation of the same values), except `shifted` (moved by 0.3 of its range), `mix` (category
 * shares 50/30/20 against 20/30/50) and `day` (30 days later). `only_ref`/`only_data` exist in one
 * table each.
 */
const uniform = (seed: number) => `((range * ${seed}) % 10007) / 10007.0`;
const REFERENCE = `SELECT ${uniform(7919)} AS stable, ${uniform(7919)} AS shifted,
    ['a', 'b', 'c'][(range % 3) + 1] AS same_mix,
    CASE WHEN range % 10 < 5 THEN 'x' WHEN range % 10 < 8 THEN 'y' ELSE 'z' END AS mix,
    TIMESTAMP '2024-01-01' + to_seconds((range % 86400) * 30) AS day,
    range AS only_ref
  FROM range(20000)`;
const DATA = `SELECT ${uniform(104729)} AS stable, ${uniform(104729)} + 0.3 AS shifted,
    ['c', 'a', 'b'][(range % 3) + 1] AS same_mix,
    CASE WHEN range % 10 < 2 THEN 'x' WHEN range % 10 < 5 THEN 'y' WHEN range % 100 = 99 THEN NULL ELSE 'z' END AS mix,
    TIMESTAMP '2024-01-31' + to_seconds((range % 86400) * 30) AS day,
    range AS only_data
  FROM range(20000)`;

describe('drift', () => {
  const folder = tempFolder('drift');
  let data: ResolvedSource;
  let reference: ResolvedSource;
  let report: DriftReport;

  beforeAll(async () => {
    data = await writeTable(folder.dir, 'data', DATA);
    reference = await writeTable(folder.dir, 'reference', REFERENCE, 'csv');
    report = await driftTables(data, reference);
  });
  afterAll(() => folder.cleanup());

  const column = (name: string) => report.columns.find((c) => c.column === name)!;
  const score = (name: string, method: DriftMethod) => column(name).scores.find((s) => s.method === method)!;

  it('does not call a ks gap past 0.1 drift when two small samples could differ that much by chance', async () => {
    // 50 values each, the data 10 lower: D = 0.2, p = 0.27 (the Kolmogorov distribution at sqrt(25) * 0.2).
    const small = await writeTable(folder.dir, 'small', 'SELECT range::DOUBLE AS x FROM range(50)');
    const smallRef = await writeTable(folder.dir, 'small-ref', 'SELECT (range + 10)::DOUBLE AS x FROM range(50)');
    const ks = (await driftTables(small, smallRef)).columns[0].scores.find((s) => s.method === 'ks')!;
    expect(ks.statistic).toBeCloseTo(0.2, 10);
    expect(ks.p_value).toBeGreaterThan(0.05);
    expect(ks.drifted).toBe(false);
  });

  it('compares every shared column, lists the others, and validates against drift-report.schema.json', () => {
    expect(validator.check('drift-report.schema.json', report)).toBeNull();
    expect(report.columns.map((c) => c.column).sort()).toEqual(['day', 'mix', 'same_mix', 'shifted', 'stable']);
    expect(report.only_in_data).toEqual(['only_data']);
    expect(report.only_in_reference).toEqual(['only_ref']);
    expect(report.data.rows).toBe(20000);
    expect(report.reference.rows).toBe(20000);
  });

  it('gives numbers (and timestamps) psi and ks, categories chi2 and js', () => {
    for (const name of ['stable', 'shifted', 'day']) {
      expect(column(name).kind).toBe('numeric');
      expect(column(name).scores.map((s) => s.method)).toEqual(['psi', 'ks']);
    }
    for (const name of ['mix', 'same_mix']) {
      expect(column(name).kind).toBe('categorical');
      expect(column(name).scores.map((s) => s.method)).toEqual(['chi2', 'js']);
    }
  });

  it.each([
    ['psi', 'shifted', 'stable'],
    ['ks', 'shifted', 'stable'],
    ['ks', 'day', 'stable'],
    ['chi2', 'mix', 'same_mix'],
    ['js', 'mix', 'same_mix'],
  ] as const)('%s flags %s and passes %s', (method, drifted, steady) => {
    expect(score(drifted, method).drifted).toBe(true);
    expect(score(drifted, method).statistic).toBeGreaterThan(score(drifted, method).threshold);
    expect(score(steady, method).drifted).toBe(false);
    expect(score(steady, method).statistic).toBeLessThan(score(steady, method).threshold / 2);
  });

  it('ranks columns by severity, counts the drifted ones, and uses the default thresholds', () => {
    const severities = report.columns.map((c) => c.severity);
    expect(severities).toEqual([...severities].sort((a, b) => b - a));
    expect(report.drifted).toBe(3);
    expect(report.columns.slice(3).map((c) => c.column).sort()).toEqual(['same_mix', 'stable']);
    expect(score('stable', 'psi').threshold).toBe(0.2);
    expect(score('stable', 'ks').threshold).toBe(0.1);
    expect(score('mix', 'js').threshold).toBe(0.1);
    expect(score('mix', 'chi2').threshold).toBe(0.1);
  });

  it('draws overlaid histograms: shared bins for numbers, categories with nulls for the rest', () => {
    const numeric = column('shifted').histogram;
    expect(numeric.edges).toHaveLength(11);
    expect(numeric.counts.reduce((s, c) => s + c, 0)).toBe(20000);
    expect(numeric.reference_counts!.reduce((s, c) => s + c, 0)).toBe(20000);
    // Bins are the reference's deciles: each holds a tenth of it.
    for (const count of numeric.reference_counts!) expect(Math.abs(count - 2000)).toBeLessThanOrEqual(2);
    const categorical = column('mix').histogram;
    // Most frequent first over both tables: x 4,000 + 10,000, z 9,800 + 4,000, y 6,000 + 6,000.
    expect(categorical.categories).toEqual(['x', 'z', 'y']);
    expect(categorical.counts).toEqual([4000, 9800, 6000]);
    expect(categorical.reference_counts).toEqual([10000, 4000, 6000]);
    expect(categorical.nulls).toBe(200);
  });

  it('refuses a named column the tables do not share', async () => {
    await expect(driftTables(data, reference, { columns: ['only_data'] })).rejects.toThrow(BadInputError);
    const one = await driftTables(data, reference, { columns: ['mix'], bins: 4 });
    expect(one.columns.map((c) => c.column)).toEqual(['mix']);
  });

  it('quotes column names: quotes, semicolons and comments are only names', async () => {
    const name = `it's "x"; DROP VIEW data; --`;
    const quoted = `"${name.replace(/"/g, '""')}"`;
    const odd = await writeTable(folder.dir, 'odd', `SELECT range % 10 AS ${quoted}, 'a' || (range % 3) AS ${quoted.slice(0, -1)} 2" FROM range(500)`);
    const oddRef = await writeTable(folder.dir, 'odd_ref', `SELECT range % 5 AS ${quoted}, 'a' || (range % 3) AS ${quoted.slice(0, -1)} 2" FROM range(500)`);
    const result = await driftTables(odd, oddRef);
    expect(result.columns.map((c) => [c.column, c.drifted])).toEqual([
      [name, true],
      [`${name} 2`, false],
    ]);
  });

  it('reports each query as progress', async () => {
    const steps: string[] = [];
    await driftTables(data, reference, { columns: ['stable', 'mix'] }, { onProgress: (p) => steps.push(`${p.phase} ${p.done}/${p.total}`) });
    expect(steps).toEqual(['load 0/1', 'drift 1/5', 'drift 2/5', 'drift 3/5', 'drift 4/5', 'drift 5/5']);
  });

  it('rejects with ConflictError(job_id) when cancelled, before or between its queries', async () => {
    const before = new AbortController();
    before.abort();
    await expect(driftTables(data, reference, {}, { signal: before.signal, jobId: 'j1' })).rejects.toThrow(ConflictError);
    const during = new AbortController();
    const hooks = { signal: during.signal, jobId: 'j2', onProgress: (p: { done: number }) => p.done === 1 && during.abort() };
    await expect(driftTables(data, reference, {}, hooks)).rejects.toMatchObject({ name: 'ConflictError', field: 'job_id', value: 'j2' });
  });
});

describe('columnDriftStatistic (the drift check)', () => {
  const folder = tempFolder('drift-check');
  afterAll(() => folder.cleanup());

  it('measures each method on one column of a sandbox with both tables, and flags only the shifted one', async () => {
    const data = await writeTable(folder.dir, 'data', DATA);
    const reference = await writeTable(folder.dir, 'reference', REFERENCE);
    await withSandbox({ data, ref_0: reference }, async (sandbox) => {
      for (const method of ['psi', 'ks', 'js', 'chi2'] as const) {
        const [drifted, steady] = method === 'psi' || method === 'ks' ? ['shifted', 'stable'] : ['mix', 'same_mix'];
        const bad = await columnDriftStatistic(sandbox, { column: drifted, method, referenceTable: 'ref_0' });
        const good = await columnDriftStatistic(sandbox, { column: steady, method, referenceTable: 'ref_0' });
        expect([method, bad.statistic > { psi: 0.2, ks: 0.1, js: 0.1, chi2: 0.1 }[method]]).toEqual([method, true]);
        expect([method, good.statistic < 0.05]).toEqual([method, true]);
        expect(good.histogram.counts.length).toBeGreaterThan(1);
      }
      await expect(columnDriftStatistic(sandbox, { column: 'mix', method: 'ks', referenceTable: 'ref_0' })).rejects.toThrow(BadInputError);
      await expect(columnDriftStatistic(sandbox, { column: 'nope', method: 'psi', referenceTable: 'ref_0' })).rejects.toThrow(/nope/);
    });
  });

  it('KS is exact: D and p-value match scipy on integer samples with ties across the two', async () => {
    // a = np.arange(100), b = np.arange(30, 150): stats.ks_2samp(a, b).statistic = 0.4166666666666667,
    // stats.kstwobign.sf(sqrt(100*120/220) * D) = 1.1905721443115426e-08
    const data = await writeTable(folder.dir, 'a', 'SELECT range AS v FROM range(100)');
    const reference = await writeTable(folder.dir, 'b', 'SELECT range AS v FROM range(30, 150)');
    await withSandbox({ data, reference }, async (sandbox) => {
      const ks = await columnDriftStatistic(sandbox, { column: 'v', method: 'ks', referenceTable: 'reference' });
      expect(ks.statistic).toBeCloseTo(0.4166666666666667, 14);
      expect(ks.p_value! / 1.1905721443115426e-8).toBeCloseTo(1, 9);
    });
  });

  it('draws the 20 most frequent of many categories and folds the rest into (other)', async () => {
    const data = await writeTable(folder.dir, 'many', "SELECT 'v' || (range % 30) AS c FROM range(3000)");
    const reference = await writeTable(folder.dir, 'many_ref', "SELECT 'v' || (range % 25) AS c FROM range(2500)");
    await withSandbox({ data, reference }, async (sandbox) => {
      const js = await columnDriftStatistic(sandbox, { column: 'c', method: 'js', referenceTable: 'reference' });
      expect(js.histogram.categories).toHaveLength(21);
      expect(js.histogram.categories![20]).toBe('(other)');
      expect(js.histogram.counts[20]).toBe(1000);
      expect(js.histogram.reference_counts![20]).toBe(500);
      // Five of thirty values (a sixth of the data) are new: JS sees all thirty, not only the drawn ones.
      expect(js.statistic).toBeGreaterThan(0.2);
    });
  });

  it("chi2's Cramer's V and p-value match scipy.stats.chi2_contingency on category counts", async () => {
    // table [[120, 90, 40], [100, 100, 50]]: V = 0.08313373224830717, p = 0.17767409046372526
    const counts = (x: number, y: number, z: number) =>
      `SELECT unnest(list_concat(repeat(['x'], ${x}), repeat(['y'], ${y}), repeat(['z'], ${z}))) AS c`;
    const data = await writeTable(folder.dir, 'cd', counts(120, 90, 40));
    const reference = await writeTable(folder.dir, 'cr', counts(100, 100, 50));
    await withSandbox({ data, reference }, async (sandbox) => {
      const chi2 = await columnDriftStatistic(sandbox, { column: 'c', method: 'chi2', referenceTable: 'reference' });
      expect(chi2.statistic).toBeCloseTo(0.08313373224830717, 14);
      expect(chi2.p_value).toBeCloseTo(0.17767409046372526, 12);
    });
  });
});
