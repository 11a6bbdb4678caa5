import type { DuckDBPreparedStatement } from '@duckdb/node-api';
import type { CheckOutcome, CheckResult, CheckSuite, DriftCheck, Histogram, SqlCheck } from '@opsbook/schema';
import { BadInputError, ConflictError } from '../store/errors';
import { encodeSample } from './arrow';
import { throwIfCancelled } from './cancel';
import { columnKind } from './columns';
import {
  AliasPool,
  CheckCannotRun,
  compileCheck,
  DATA,
  patternOf,
  observedAs,
  ROWS,
  sqlVerdict,
  temporalBounds,
  type CheckPlan,
  type HistogramPlan,
  type ScanValues,
  type SuiteCheck,
  typed,
} from './compiler';
import { columnDriftStatistic, describeSource, DRIFT_THRESHOLDS } from './drift';
import type { QualityHooks } from './hooks';
import { messageOf, openSandbox, type ColumnInfo, type Sandbox } from './sandbox';
import { resolveSource, type ResolvedSource } from './source';
import { binCountsSql, groupsBeforeBinning, quoteLiteral } from './sql';
import { jsonScalar, numberOf } from './values';

/** A suite to run on one table. */
export interface SuiteRun {
  data: ResolvedSource;
  suite: CheckSuite;
  /** Replaces the reference of every drift check. */
  reference?: ResolvedSource;
  /** Folder relative references of drift checks are read from (the suite file's folder). */
  suiteDir: string;
  /** Failing rows to fetch per failed check (default 20, at most 20). */
  samples?: number;
}

/** Most failing rows fetched per failed check. */
export const MAX_SAMPLES = 20;
/** Bins of the histogram drawn for a failed between or mean_between check. */
const HISTOGRAM_BINS = 20;

/** A check on its way through the run: compiled, or already known to be unable to run. */
interface Entry {
  index: number;
  check: SuiteCheck;
  outcome?: CheckOutcome;
  plan?: CheckPlan;
  prepared?: DuckDBPreparedStatement;
  referenceTable?: string;
}

/**
 * Runs a suite on one table in a sandbox and reports every check in suite order. All aggregate
 * checks (and the groupings of unique and duplicate_rows) are one query; failing rows are fetched
 * only for failed checks, one query each; each sql check is one query; each drift check is A2's
 * column statistic (docs/quality.md). A check that cannot run on this table (a missing column, a
 * type it cannot use, a sql query that does not bind) is that check's status error.
 * @throws BadInputError before anything runs when a data or reference file cannot be read, or a
 *   sql check is not exactly one SELECT statement (field `/checks/<i>/query`).
 * @throws ConflictError (field job_id) when the job is cancelled.
 */
export async function runSuite(input: SuiteRun, hooks: QualityHooks = {}): Promise<CheckResult> {
  const started = performance.now();
  const { signal, jobId } = hooks;
  const progress = hooks.onProgress ?? (() => undefined);
  const samples = Math.max(0, Math.min(MAX_SAMPLES, input.samples ?? MAX_SAMPLES));
  const entries: Entry[] = input.suite.checks.map((check, index) => ({ index, check: typed(check) }));

  progress({ phase: 'load', done: 0, total: 1, message: `reading ${input.data.label}` });
  const references = await referenceTables(entries, input);
  const tables: Record<string, ResolvedSource> = { data: input.data };
  const fields: Record<string, string> = { data: 'data' };
  for (const [name, { source, field }] of references) {
    tables[name] = source;
    fields[name] = field;
  }
  const sandbox = await openSandbox({ tables, fields, signal, jobId });
  try {
    const columns = await sandbox.describe('data');
    const pool = new AliasPool();
    for (const entry of entries) await compile(entry, columns, sandbox, pool);
    progress({ phase: 'load', done: 1, total: 1 });

    const scan = await runScan(entries, pool, sandbox, progress);
    throwIfCancelled(signal, jobId);

    const failed = entries.filter((e) => e.outcome?.status === 'fail' && e.plan && (e.plan.failing || e.plan.histogram));
    let done = 0;
    for (const entry of failed) {
      progress({ phase: 'samples', done, total: failed.length, message: `check ${entry.index + 1}: ${entry.check.check}` });
      const { failing, histogram } = entry.plan!;
      if (failing && samples > 0) {
        const select = 'where' in failing ? `SELECT * FROM ${DATA} WHERE ${failing.where}` : failing.select;
        entry.outcome!.sample = encodeSample(await sandbox.rows(`${select} LIMIT ${samples}`));
      }
      if (histogram) {
        const drawn = await drawHistogram(sandbox, histogram, scan);
        if (drawn) entry.outcome!.histogram = drawn;
      }
      done += 1;
    }

    const sqlEntries = entries.filter((e) => e.prepared);
    for (const [i, entry] of sqlEntries.entries()) {
      progress({ phase: 'sql', done: i, total: sqlEntries.length, message: `check ${entry.index + 1}: sql` });
      entry.outcome = await runSql(entry, sandbox);
    }

    const driftEntries = entries.filter((e) => !e.outcome && e.check.check === 'drift');
    for (const [i, entry] of driftEntries.entries()) {
      progress({ phase: 'drift', done: i, total: driftEntries.length, message: `check ${entry.index + 1}: drift of ${(entry.check as DriftCheck).column}` });
      entry.outcome = await runDrift(entry, columns, sandbox);
    }

    const checks = entries.map((e) => e.outcome!);
    const passed = checks.filter((c) => c.status === 'pass').length;
    const errors = checks.filter((c) => c.status === 'error').length;
    progress({ phase: 'done', done: checks.length, total: checks.length });
    return {
      suite: input.suite.suite,
      status: passed === checks.length ? 'pass' : 'fail',
      rows: scan.rows,
      seconds: (performance.now() - started) / 1000,
      passed,
      failed: checks.length - passed - errors,
      errors,
      queries: sandbox.queries,
      data: describeSource(input.data, scan.rows),
      ...(input.reference ? { reference: describeSource(input.reference) } : {}),
      checks,
    };
  } finally {
    sandbox.close();
  }
}

/**
 * The reference files of the drift checks, as sandbox tables: the run's reference replaces every
 * check's own; otherwise each distinct file (relative to the suite's folder) is one table.
 * @throws BadInputError naming `reference.path` or `/checks/<i>/reference` when a file cannot be read.
 */
async function referenceTables(entries: Entry[], input: SuiteRun): Promise<Map<string, { source: ResolvedSource; field: string }>> {
  const tables = new Map<string, { source: ResolvedSource; field: string }>();
  const drifts = entries.filter((e) => e.check.check === 'drift');
  if (drifts.length === 0) return tables;
  if (input.reference) {
    tables.set('reference', { source: input.reference, field: 'reference' });
    for (const entry of drifts) entry.referenceTable = 'reference';
    return tables;
  }
  const byPath = new Map<string, string>();
  for (const entry of drifts) {
    const path = (entry.check as DriftCheck).reference;
    if (path === undefined) {
      entry.outcome = errorOutcome(entry, 'no reference: give the check a reference file, or the run one (--reference)');
      continue;
    }
    const field = `/checks/${entry.index}/reference`;
    const source = await resolveSource({ path }, input.suiteDir, field);
    let table = byPath.get(source.path);
    if (!table) {
      table = `reference_${byPath.size}`;
      byPath.set(source.path, table);
      tables.set(table, { source, field });
    }
    entry.referenceTable = table;
  }
  return tables;
}

/** Compiles one check, or settles it as an error when it cannot run on this table. */
async function compile(entry: Entry, columns: readonly ColumnInfo[], sandbox: Sandbox, pool: AliasPool): Promise<void> {
  if (entry.outcome) return;
  const { check } = entry;
  if (check.check === 'sql') {
    const query = (check as SqlCheck).query;
    try {
      entry.prepared = await sandbox.prepareSelect(query, `/checks/${entry.index}/query`);
    } catch (error) {
      if (error instanceof BadInputError) throw error;
      entry.outcome = errorOutcome(entry, messageOf(error));
    }
    return;
  }
  if (check.check === 'drift') {
    const column = (check as DriftCheck).column;
    if (!columns.some((c) => c.name === column)) entry.outcome = errorOutcome(entry, `column ${JSON.stringify(column)} is not in the data`);
    return;
  }
  try {
    // Probed first: compileCheck adds its aggregates to the scan only once nothing can fail.
    await assertCompiles(check, sandbox);
    entry.plan = compileCheck(check, columns, pool);
  } catch (error) {
    if (!(error instanceof CheckCannotRun)) throw error;
    entry.outcome = errorOutcome(entry, error.message);
  }
}

/**
 * A pattern that is not a regular expression, or a bound that is not a date, would fail the whole
 * scan at run time: try each on no data first, so that only its own check reports the error.
 */
async function assertCompiles(check: SuiteCheck, sandbox: Sandbox): Promise<void> {
  const pattern = patternOf(check);
  if (pattern !== undefined) {
    try {
      await sandbox.probe(`SELECT regexp_matches('', ${quoteLiteral(pattern, 'pattern')})`);
    } catch (error) {
      throw new CheckCannotRun(`pattern ${JSON.stringify(pattern)} is not a regular expression: ${messageOf(error)}`);
    }
  }
  for (const bound of temporalBounds(check)) {
    const parsed = await sandbox.probe(`SELECT TRY_CAST(${quoteLiteral(bound, 'bound')} AS TIMESTAMPTZ) IS NOT NULL AS ok`);
    if (parsed.rows[0]?.[0] !== true) throw new CheckCannotRun(`bound ${JSON.stringify(bound)} is not a date or timestamp`);
  }
}

/**
 * The one scan: count(*) and every aggregate of every compiled check, deduplicated, in one SELECT;
 * each verdict is then read from it.
 */
async function runScan(entries: Entry[], pool: AliasPool, sandbox: Sandbox, progress: NonNullable<QualityHooks['onProgress']>): Promise<ScanValues> {
  const total = pool.stepsAtMost();
  let step = 0;
  await pool.prepare((sql, message) => {
    progress({ phase: 'scan', done: step++, total, message });
    return sandbox.rows(sql);
  });
  const result = await pool.scan((sql, message) => {
    progress({ phase: 'scan', done: Math.min(step++, total - 1), total, message });
    return sandbox.rows(sql);
  });
  const row = result.rows[0];
  const index = new Map(result.columns.map((c, i) => [c.name, i]));
  const at = (alias: string): number => {
    const i = index.get(alias);
    if (i === undefined) throw new Error(`the scan has no column ${alias}`);
    return i;
  };
  const scan: ScanValues = {
    rows: numberOf(row[at(ROWS)]) ?? 0,
    get: (alias) => row[at(alias)],
    json: (alias) => jsonScalar(row[at(alias)], result.columns[at(alias)].type),
  };
  for (const entry of entries) {
    if (!entry.plan) continue;
    entry.outcome = { ...base(entry), ...entry.plan.verdict(scan) };
  }
  progress({ phase: 'scan', done: total, total });
  return scan;
}

/** A numeric histogram of a column over its own min..max, with the check's bounds to draw. */
async function drawHistogram(sandbox: Sandbox, plan: HistogramPlan, scan: ScanValues): Promise<Histogram | undefined> {
  const low = numberOf(scan.get(plan.min));
  const high = numberOf(scan.get(plan.max));
  if (low === null || high === null || !Number.isFinite(low) || !Number.isFinite(high)) return undefined;
  const top = high > low ? high : low + 1;
  const width = (top - low) / HISTOGRAM_BINS;
  const binOf = (column: string): string => {
    const value = `CAST(${column} AS DOUBLE)`;
    return `CASE WHEN isfinite(${value}) THEN least(greatest(floor((${value} - (${low})::DOUBLE) / (${width})::DOUBLE), 0), ${HISTOGRAM_BINS - 1})::INTEGER END`;
  };
  const result = await sandbox.rows(binCountsSql(DATA, plan.column, binOf, groupsBeforeBinning(plan.integer, low, high)));
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (const [b, n] of result.rows) {
    const slot = numberOf(b);
    if (slot !== null) counts[slot] = numberOf(n) ?? 0;
  }
  return {
    edges: Array.from({ length: HISTOGRAM_BINS + 1 }, (_, i) => low + i * width),
    counts,
    nulls: numberOf(scan.get(plan.nulls)) ?? 0,
    ...(Object.keys(plan.bounds).length > 0 ? { bounds: plan.bounds } : {}),
  };
}

async function runSql(entry: Entry, sandbox: Sandbox): Promise<CheckOutcome> {
  const check = entry.check as SqlCheck;
  try {
    const result = await sandbox.runSelect(entry.prepared!);
    if (result.columns.length !== 1 || result.rows.length !== 1) {
      return errorOutcome(entry, `the query must return one value; it returned ${result.rows.length} rows of ${result.columns.length} columns`);
    }
    return { ...base(entry), ...sqlVerdict(check, jsonScalar(result.rows[0][0], result.columns[0].type)) };
  } catch (error) {
    if (error instanceof ConflictError) throw error;
    return errorOutcome(entry, messageOf(error));
  } finally {
    entry.prepared!.destroySync();
  }
}

async function runDrift(entry: Entry, columns: readonly ColumnInfo[], sandbox: Sandbox): Promise<CheckOutcome> {
  const check = entry.check as DriftCheck;
  const type = columns.find((c) => c.name === check.column)!.type;
  const kind = columnKind(type);
  const method = check.method ?? (kind === 'numeric' || kind === 'temporal' ? 'psi' : 'chi2');
  const max = check.max ?? DRIFT_THRESHOLDS[method];
  try {
    const measured = await columnDriftStatistic(sandbox, {
      column: check.column,
      method,
      bins: check.bins ?? 10,
      referenceTable: entry.referenceTable!,
    });
    return {
      ...base(entry),
      status: measured.statistic <= max ? 'pass' : 'fail',
      observed: observedAs(measured.statistic),
      expected: `${method} at most ${max}`,
      method,
      ...(measured.p_value === undefined ? {} : { p_value: measured.p_value }),
      histogram: measured.histogram,
    };
  } catch (error) {
    if (error instanceof BadInputError) return { ...errorOutcome(entry, error.message), method };
    throw error;
  }
}

function base(entry: Entry): Pick<CheckOutcome, 'check' | 'index' | 'column'> {
  const column = (entry.check as { column?: unknown }).column;
  return { check: entry.check.check, index: entry.index, ...(typeof column === 'string' ? { column } : {}) };
}

function errorOutcome(entry: Entry, message: string): CheckOutcome {
  return { ...base(entry), status: 'error', observed: observedAs(null), message };
}

