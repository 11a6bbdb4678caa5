import { AliasPool, compileCheck, type ScanValues } from './compiler';
import { openSandbox, type Sandbox } from './sandbox';
import { quoteIdent } from './sql';
import { readRows, tempFolder, writeTable } from './testing';
import { numberOf } from './values';

/**
 * duplicate_rows' candidates reach its count by one of two routes: collected by the scan (few
 * candidates), or in a temp table filled by a pass of their own (many). Both must count the same,
 * whether a unique check's grouping narrows the candidates or the row hash does.
 */
describe('AliasPool duplicate_rows candidates', () => {
  const folder = tempFolder('compiler');
  // 40 rows copied once (two of them twice), ids repeated without the rows repeating, and nulls
  // in every column: SELECT DISTINCT counts two all-null rows as one.
  const SELECT = `
    WITH base AS (
      SELECT range AS i, (range % 300)::BIGINT AS id, CASE WHEN range % 7 = 0 THEN NULL ELSE 'v' || (range % 11) END AS label,
             CASE WHEN range % 5 = 0 THEN NULL ELSE range * 0.5 END AS score
      FROM range(1000)
    )
    SELECT id, label, score FROM base
    UNION ALL SELECT id, label, score FROM base WHERE i < 40
    UNION ALL SELECT id, label, score FROM base WHERE i < 2
    UNION ALL SELECT NULL, NULL, NULL FROM range(3)`;
  let path = '';
  let sandbox: Sandbox;

  beforeAll(async () => {
    const source = await writeTable(folder.dir, 'dups', SELECT);
    path = source.path;
    sandbox = await openSandbox({ tables: { data: source } });
  });
  afterAll(() => {
    sandbox.close();
    folder.cleanup();
  });

  async function duplicates(collectLimit: number, withUnique: boolean): Promise<{ count: number; candidates: number; queries: string[] }> {
    const columns = await sandbox.describe('data');
    const pool = new AliasPool({ collectLimit });
    const queries: string[] = [];
    if (withUnique) compileCheck({ check: 'unique', column: 'id' }, columns, pool);
    const plan = compileCheck({ check: 'duplicate_rows' }, columns, pool);
    const run = (sql: string) => {
      queries.push(sql);
      return sandbox.rows(sql);
    };
    await pool.prepare(run);
    const result = await pool.scan(run);
    const row = result.rows[0];
    const at = (alias: string) => row[result.columns.findIndex((c) => c.name === alias)];
    const scan: ScanValues = { rows: numberOf(at('rows')) ?? 0, get: at, json: (alias) => numberOf(at(alias)) };
    // Either route leaves the candidates in table c0, where the samples are read from.
    const candidates = numberOf((await sandbox.rows('SELECT count(*) FROM c0')).rows[0][0]) ?? 0;
    for (const table of ['c0', 'h0', 'g0', 'scan_row']) await sandbox.rows(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
    return { count: plan.verdict(scan).failing_rows ?? -1, candidates, queries };
  }

  it('counts the same through the scan and through a temp table, with and without a unique grouping', async () => {
    const all = await readRows(`SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM read_parquet('${path}'))) AS n FROM read_parquet('${path}')`);
    const expected = Number(all[0].n);
    expect(expected).toBe(40 + 2 + 2);
    for (const withUnique of [true, false]) {
      const collected = await duplicates(1_000_000, withUnique);
      const separate = await duplicates(0, withUnique);
      expect(collected.count).toBe(expected);
      expect(separate.count).toBe(expected);
      expect(collected.queries.some((q) => q.includes('list(struct_pack('))).toBe(true);
      expect(separate.queries.some((q) => q.includes('list(struct_pack('))).toBe(false);
      expect(collected.candidates).toBe(separate.candidates);
      expect(collected.candidates).toBeGreaterThanOrEqual(2 * 40);
    }
  });
});
