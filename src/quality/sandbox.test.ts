import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError, ConflictError } from '../store/errors';
import { openSandbox, type Sandbox } from './sandbox';
import { resolveSource } from './source';
import { tempFolder, writeTable } from './testing';

const CANARY = 'opsbook-canary-7f3a91';

describe('Sandbox', () => {
  const folder = tempFolder('sandbox');
  let sandbox: Sandbox;
  let canaryPath: string;

  beforeAll(async () => {
    canaryPath = join(folder.dir, 'canary.csv');
    writeFileSync(canaryPath, `secret\n${CANARY}\n`);
    const data = await writeTable(folder.dir, 'data', 'SELECT range AS id, range % 7 AS k FROM range(1000)');
    const reference = await writeTable(folder.dir, 'reference', 'SELECT range AS id FROM range(10)', 'csv');
    sandbox = await openSandbox({ tables: { data, reference } });
  });
  afterAll(() => {
    sandbox.close();
    folder.cleanup();
  });

  it('reads the data and reference views, and counts the queries', async () => {
    const before = sandbox.queries;
    const { rows } = await sandbox.rows('SELECT count(*), sum(k) FROM data');
    expect(rows[0]).toEqual([1000n, BigInt([...Array(1000).keys()].reduce((s, i) => s + (i % 7), 0))]);
    expect((await sandbox.rows('SELECT count(*) FROM reference')).rows[0][0]).toBe(10n);
    expect(sandbox.queries - before).toBe(2);
    expect(await sandbox.describe('data')).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'k', type: 'BIGINT' },
    ]);
  });

  it.each([
    [`SELECT * FROM read_csv('${'/etc/passwd'}')`],
    [`SELECT * FROM read_text('/etc/hostname')`],
    [`SELECT * FROM read_csv('CANARY')`],
    [`SELECT * FROM read_csv('DIR/../DIR/canary.csv')`],
    [`SELECT * FROM glob('DIR/*')`],
    ["ATTACH 'DIR/x.duckdb' AS x"],
    ['INSTALL httpfs'],
    ['LOAD httpfs'],
    ['SET enable_external_access = true'],
    ["SET allowed_paths = ['CANARY']"],
    ['SET lock_configuration = false'],
    ["COPY data TO 'DIR/out.csv'"],
    ["EXPORT DATABASE 'DIR/export'"],
  ])('refuses %s and never reads the canary', async (template) => {
    const sql = template.replace(/CANARY/g, canaryPath).replace(/DIR/g, folder.dir);
    const atime = statSync(canaryPath).atimeMs;
    let failure: unknown;
    try {
      const result = await sandbox.rows(sql);
      failure = new Error(`ran: ${JSON.stringify(result.rows.map((r) => r.map(String)))}`);
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).toMatch(/Permission|disabled|Invalid Input|Catalog|lock|not allowed|Cannot/i);
    expect(String(failure)).not.toContain(CANARY);
    expect(statSync(canaryPath).atimeMs).toBe(atime);
    expect(readFileSync(canaryPath, 'utf8')).toContain(CANARY);
    for (const written of ['out.csv', 'x.duckdb', 'export']) expect(existsSync(join(folder.dir, written))).toBe(false);
  });

  it('accepts exactly one SELECT and names the field otherwise', async () => {
    const prepared = await sandbox.prepareSelect('select count(*) from data where k = 3', '/checks/0/query');
    expect((await sandbox.runSelect(prepared)).rows[0][0]).toBe(143n);
    for (const sql of [
      'select 1; select 2',
      "select 1; COPY data TO '/tmp/x.csv'",
      "COPY (select 1) TO '/tmp/x.csv'",
      "ATTACH ':memory:' AS m",
      'INSTALL httpfs',
      'SET enable_external_access = true',
      'explain select 1',
      'selec 1',
      '-- only a comment',
    ]) {
      await expect(sandbox.prepareSelect(sql, '/checks/3/query')).rejects.toThrow(BadInputError);
      await expect(sandbox.prepareSelect(sql, '/checks/3/query')).rejects.toThrow(/\/checks\/3\/query/);
    }
    await expect(sandbox.prepareSelect(`select * from read_csv('${canaryPath}')`, 'q')).rejects.toThrow(/Permission/);
  });

  it('turns an unreadable file into a BadInputError naming the field', async () => {
    const broken = join(folder.dir, 'broken.parquet');
    writeFileSync(broken, 'not parquet');
    const source = await resolveSource({ path: 'broken.parquet' }, folder.dir, 'reference');
    const error = await openSandbox({ tables: { data: source }, fields: { data: 'reference' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as BadInputError).field).toBe('reference.path');
    await expect(resolveSource({ path: 'missing.csv' }, folder.dir)).rejects.toThrow(/data\.path: no such file: missing\.csv/);
    writeFileSync(join(folder.dir, 'notes.txt'), 'x');
    await expect(resolveSource({ path: 'notes.txt' }, folder.dir)).rejects.toThrow(/data\.format/);
    expect((await resolveSource({ path: 'notes.txt', format: 'csv', label: 'df' }, folder.dir)).label).toBe('df');
  });

  it('stops a running query when the signal aborts, with a ConflictError on job_id', async () => {
    const controller = new AbortController();
    const data = await writeTable(folder.dir, 'small', 'SELECT 1 AS x');
    const box = await openSandbox({ tables: { data }, signal: controller.signal, jobId: 'job-1' });
    try {
      const running = box.rows('SELECT count(*) FROM range(10000000000) a WHERE a.range % 3 = 1');
      setTimeout(() => controller.abort(), 200);
      const error = await running.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).field).toBe('job_id');
      expect((error as ConflictError).value).toBe('job-1');
      await expect(box.rows('SELECT 1')).rejects.toThrow(ConflictError);
    } finally {
      box.close();
    }
  });
});
