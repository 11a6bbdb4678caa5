import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DataFormat, ResolvedSource } from './source';
import { quotePath } from './sql';

/** COPY options per format, for writing test files. */
const COPY_FORMAT: Record<DataFormat, string> = {
  parquet: '(FORMAT parquet)',
  csv: '(FORMAT csv, HEADER true)',
  json: '(FORMAT json)',
};

/** A temp folder for a test's files, removed by `cleanup`. */
export function tempFolder(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `opsbook-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes the rows of a SELECT to a file with a DuckDB of its own (outside any sandbox) and
 * returns it as a source. Tests plant their defects in `select`.
 */
export async function writeTable(dir: string, name: string, select: string, format: DataFormat = 'parquet'): Promise<ResolvedSource> {
  const extension = format === 'json' ? 'jsonl' : format;
  const path = join(dir, `${name}.${extension}`);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (${select}) TO ${quotePath(path)} ${COPY_FORMAT[format]}`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return { path, format, label: `${name}.${extension}` };
}

/** Rows of a SELECT as plain JS objects, read with a DuckDB of its own: the tests' independent view of the data. */
export async function readRows(select: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(select)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** The suite of issue 7, word for word: one check of each type. */
export const ISSUE_SUITE = `suite: orders
checks:
  - {check: row_count, min: 1000, max: 5000000}
  - {check: columns, expect: {id: BIGINT, email: VARCHAR}}
  - {check: not_null, column: id}
  - {check: unique, column: id}
  - {check: between, column: age, min: 0, max: 120}
  - {check: null_fraction, column: age, max: 0.01}
  - {check: matches, column: email, pattern: '^[^@ ]+@[^@ ]+$'}
  - {check: in_set, column: country, values: [DE, FR, US]}
  - {check: duplicate_rows}
  - {check: mean_between, column: price, min: 10, max: 50}
  - {check: freshness, column: created_at, max_age: 2d}
  - {check: sql, query: "select count(*) from data where price < 0", expect: 0}
  - {check: drift, column: age, reference: ref.parquet, method: psi, max: 0.2}
`;
