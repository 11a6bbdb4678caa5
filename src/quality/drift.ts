import type { DuckDBListValue, DuckDBMapValue, DuckDBValue } from '@duckdb/node-api';
import type { ColumnDrift, DataDescription, DriftReport, DriftScore, Histogram } from '@opsbook/schema';
import { BadInputError } from '../store/errors';
import { columnKind, isIntegerType } from './columns';
import type { QualityHooks } from './hooks';
import { openSandbox, type ColumnInfo, type Sandbox } from './sandbox';
import type { ResolvedSource } from './source';
import { binCountsSql, groupsBeforeBinning, quoteIdent } from './sql';
import { chiSquared, jensenShannon, kolmogorovSmirnov, kolmogorovSmirnovPValue, psi } from './stats';
import { numberOf } from './values';

/** A drift statistic: psi, ks, js or chi2. */
export type DriftMethod = DriftScore['method'];

/** Thresholds a statistic must pass to count as drift, unless a check gives its own `max`. */
export const DRIFT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = { psi: 0.2, ks: 0.1, js: 0.1, chi2: 0.1 };

/** Categories drawn in a drift histogram; the rest are folded into '(other)'. */
const DRAWN_CATEGORIES = 20;
/** Categories the chi-squared and JS statistics see per column; the rest are folded into one. */
const COUNTED_CATEGORIES = 1000;
const OTHER = '(other)';
/** From this many reference rows on, the bin edges are t-digest quantiles (approx_quantile), not exact ones. */
export const EXACT_QUANTILE_LIMIT = 1_000_000;

/** How a column is compared: numbers (and dates/timestamps, by epoch) in bins, the rest by value. */
type DriftKind = ColumnDrift['kind'];

interface DriftColumn {
  name: string;
  type: string;
  kind: DriftKind;
  /** SQL giving the column as the compared value: a DOUBLE for numbers, VARCHAR for categories. */
  expression: string;
  /**
   * For an integer column in both tables: the column, quoted, whose values are counted first when
   * binning (see binCountsSql); `value` then gives the compared value of a counted value.
   */
  grouping?: { column: string; value: (v: string) => string };
}

/** Counts of one column in both tables over the same slots (bins or categories). */
interface ColumnCounts {
  histogram: Histogram;
  data: number[];
  reference: number[];
  /** Present for numbers when KS was asked for: exact, over every distinct value. */
  ks?: { statistic: number; p_value: number };
}

/** One drift statistic of one column. */
export interface ColumnDriftStatistic {
  statistic: number;
  p_value?: number;
  histogram: Histogram;
}

/**
 * Measures one column's drift by one method, in a sandbox that already holds both tables (a suite's
 * drift check). psi, js and chi2 work on bins of numbers (the reference's quantiles) or on
 * categories; ks needs numbers, dates or timestamps.
 * @throws BadInputError (field column) when the column is missing from either table, or (field
 *   method) when ks is asked of a column that is not a number.
 * @throws ConflictError (field job_id) when the sandbox's job is cancelled.
 */
export async function columnDriftStatistic(
  sandbox: Sandbox,
  options: { column: string; method: DriftMethod; bins?: number; table?: string; referenceTable: string },
): Promise<ColumnDriftStatistic> {
  const table = options.table ?? 'data';
  const dataColumns = await sandbox.describe(table);
  const referenceColumns = await sandbox.describe(options.referenceTable);
  const data = dataColumns.find((c) => c.name === options.column);
  const reference = referenceColumns.find((c) => c.name === options.column);
  if (!data || !reference) {
    const where = data ? 'the reference' : 'the data';
    throw new BadInputError('column', options.column, `column ${JSON.stringify(options.column)} is not in ${where}`);
  }
  const column = driftColumn(data, reference);
  if (options.method === 'ks' && column.kind !== 'numeric') {
    throw new BadInputError('method', 'ks', `method ks needs a number, date or timestamp column; ${JSON.stringify(column.name)} is ${column.type}`);
  }
  const counts = await countColumns(sandbox, table, options.referenceTable, [column], {
    bins: options.bins ?? 10,
    ks: options.method === 'ks',
  });
  const measured = counts.get(column.name)!;
  const score = scoreOf(options.method, measured);
  return { statistic: score.statistic, ...(score.p_value === undefined ? {} : { p_value: score.p_value }), histogram: measured.histogram };
}

/**
 * Compares every column two tables share (or the named ones): numbers, dates and timestamps by PSI
 * and KS, other columns by chi-squared (Cramer's V) and Jensen-Shannon distance, ranked by severity
 * (the largest statistic/threshold). Four queries whatever the number of columns (row counts; non-null
 * counts, ranges and the reference's quantiles; binned counts; category counts), plus one sort of
 * both tables per number for its exact KS distance.
 * @throws BadInputError naming `data.path`/`reference.path` when a file cannot be read, or
 *   `columns` when a named column is not in both tables.
 * @throws ConflictError (field job_id) when the job is cancelled.
 */
export async function driftTables(
  data: ResolvedSource,
  reference: ResolvedSource,
  options: { columns?: string[]; bins?: number } = {},
  hooks: QualityHooks = {},
): Promise<DriftReport> {
  const started = performance.now();
  const progress = (done: number, total: number, message: string): void => hooks.onProgress?.({ phase: 'drift', done, total, message });
  hooks.onProgress?.({ phase: 'load', done: 0, total: 1, message: `reading ${data.label} and ${reference.label}` });
  const sandbox = await openSandbox({ tables: { data, reference }, signal: hooks.signal, jobId: hooks.jobId });
  try {
    const dataColumns = await sandbox.describe('data');
    const referenceColumns = await sandbox.describe('reference');
    const referenceByName = new Map(referenceColumns.map((c) => [c.name, c]));
    const dataNames = new Set(dataColumns.map((c) => c.name));
    let shared = dataColumns.filter((c) => referenceByName.has(c.name));
    if (options.columns) {
      const missing = options.columns.find((name) => !dataNames.has(name) || !referenceByName.has(name));
      if (missing !== undefined) {
        throw new BadInputError('columns', missing, `columns: ${JSON.stringify(missing)} is not a column of both tables`);
      }
      const wanted = new Set(options.columns);
      shared = shared.filter((c) => wanted.has(c.name));
    }
    const columns = shared.map((c) => driftColumn(c, referenceByName.get(c.name)!));
    const counts = await countColumns(sandbox, 'data', 'reference', columns, { bins: options.bins ?? 10, ks: true }, progress);
    const drifts = columns.map((column) => columnDrift(column, counts.get(column.name)!));
    drifts.sort((a, b) => b.severity - a.severity || a.column.localeCompare(b.column));
    const rows = counts.rows;
    return {
      data: describeSource(data, rows.data),
      reference: describeSource(reference, rows.reference),
      seconds: (performance.now() - started) / 1000,
      drifted: drifts.filter((d) => d.drifted).length,
      only_in_data: dataColumns.filter((c) => !referenceByName.has(c.name)).map((c) => c.name),
      only_in_reference: referenceColumns.filter((c) => !dataNames.has(c.name)).map((c) => c.name),
      columns: drifts,
    };
  } finally {
    sandbox.close();
  }
}

/** How a source is named in a report. */
export function describeSource(source: ResolvedSource, rows?: number): DataDescription {
  return {
    label: source.label,
    path: source.path,
    format: source.format,
    ...(rows === undefined ? {} : { rows }),
    ...(source.fingerprint ? { fingerprint: source.fingerprint } : {}),
  };
}

function driftColumn(data: ColumnInfo, reference: ColumnInfo): DriftColumn {
  const dataKind = columnKind(data.type);
  const referenceKind = columnKind(reference.type);
  const quoted = quoteIdent(data.name);
  if (dataKind === referenceKind && dataKind === 'numeric') {
    const grouping = isIntegerType(data.type) && isIntegerType(reference.type) ? { column: quoted, value: (v: string) => `CAST(${v} AS DOUBLE)` } : undefined;
    return { name: data.name, type: data.type, kind: 'numeric', expression: `CAST(${quoted} AS DOUBLE)`, ...(grouping ? { grouping } : {}) };
  }
  if (dataKind === referenceKind && dataKind === 'temporal') {
    return { name: data.name, type: data.type, kind: 'numeric', expression: `epoch(${quoted})` };
  }
  return { name: data.name, type: data.type, kind: 'categorical', expression: `CAST(${quoted} AS VARCHAR)` };
}

function columnDrift(column: DriftColumn, counts: ColumnCounts): ColumnDrift {
  const scores: ColumnDrift['scores'] =
    column.kind === 'numeric' ? [scoreOf('psi', counts), scoreOf('ks', counts)] : [scoreOf('chi2', counts), scoreOf('js', counts)];
  const severity = Math.max(0, ...scores.map((s) => s.statistic / s.threshold));
  return {
    column: column.name,
    type: column.type,
    kind: column.kind,
    drifted: scores.some((s) => s.drifted),
    severity,
    scores,
    histogram: counts.histogram,
  };
}

function scoreOf(method: DriftMethod, counts: ColumnCounts): DriftScore {
  const threshold = DRIFT_THRESHOLDS[method];
  let statistic: number;
  let pValue: number | undefined;
  switch (method) {
    case 'psi':
      statistic = psi(counts.reference, counts.data);
      break;
    case 'js':
      statistic = jensenShannon(counts.data, counts.reference);
      break;
    case 'chi2': {
      const test = chiSquared(counts.data, counts.reference);
      statistic = test.cramers_v;
      pValue = test.p_value;
      break;
    }
    case 'ks': {
      const ks = counts.ks ?? kolmogorovSmirnov(counts.data, counts.reference);
      statistic = ks.statistic;
      pValue = ks.p_value;
      break;
    }
  }
  // A test with a p-value also needs the difference to be significant: a random split of a few hundred
  // rows often passes KS's D of 0.1 by chance alone.
  const drifted = statistic > threshold && (pValue === undefined || pValue < DRIFT_SIGNIFICANCE);
  return { method, statistic, ...(pValue === undefined ? {} : { p_value: pValue }), threshold, drifted };
}

/** Below this p-value a ks or chi2 score past its threshold counts as drift in a drift report. */
export const DRIFT_SIGNIFICANCE = 0.05;

/** Counts per column, and the tables' row counts. */
type CountsByColumn = Map<string, ColumnCounts> & { rows: { data: number; reference: number } };

/**
 * The scans behind drift: (0) both tables' row counts (Parquet answers from its metadata); (1) their
 * non-null counts, ranges, and the reference's quantiles of every number (exact below
 * {@link EXACT_QUANTILE_LIMIT} rows, t-digest above); (2) both tables' counts per bin; (3) their
 * counts per category (top {@link COUNTED_CATEGORIES} by combined count); (4) for KS, one sort of
 * both tables' values per number: the exact distance between their ECDFs.
 */
async function countColumns(
  sandbox: Sandbox,
  table: string,
  referenceTable: string,
  columns: readonly DriftColumn[],
  options: { bins: number; ks: boolean },
  progress: (done: number, total: number, message: string) => void = () => {},
): Promise<CountsByColumn> {
  const numbers = columns.filter((c) => c.kind === 'numeric');
  const categories = columns.filter((c) => c.kind === 'categorical');
  const alias = new Map(columns.map((c, i) => [c.name, `c${i}`]));
  const sides = [
    ['d', quoteIdent(table)],
    ['r', quoteIdent(referenceTable)],
  ] as const;
  const ksColumns = options.ks ? numbers : [];
  const total = 4 + ksColumns.length;

  const counted = (await sandbox.rows(`SELECT (SELECT count(*) FROM ${sides[0][1]}), (SELECT count(*) FROM ${sides[1][1]})`)).rows[0];
  const rows = { data: numberOf(counted[0]) ?? 0, reference: numberOf(counted[1]) ?? 0 };
  const quantile = rows.reference < EXACT_QUANTILE_LIMIT ? 'quantile_cont' : 'approx_quantile';
  const points = `[${Array.from({ length: options.bins - 1 }, (_, i) => (i + 1) / options.bins).join(', ')}]`;
  const statsSql = sides
    .map(([side, from]) => {
      const parts = [`count(*) AS ${side}_rows`];
      for (const c of columns) parts.push(`count(${c.expression}) AS ${side}_${alias.get(c.name)}_n`);
      for (const c of numbers) {
        const a = alias.get(c.name)!;
        parts.push(`min(${c.expression}) AS ${side}_${a}_min`, `max(${c.expression}) AS ${side}_${a}_max`);
        if (side === 'r') parts.push(`${quantile}(${c.expression}, ${points}) AS r_${a}_q`);
      }
      return `(SELECT ${parts.join(', ')} FROM ${from}) AS ${side}`;
    })
    .join(', ');
  const stats = rowObject(await sandbox.rows(`SELECT * FROM ${statsSql}`));
  progress(1, total, 'counted rows and reference quantiles');
  const nonNull = (side: 'd' | 'r', c: DriftColumn): number => numberOf(stats[`${side}_${alias.get(c.name)}_n`]) ?? 0;

  const result = new Map<string, ColumnCounts>() as CountsByColumn;
  result.rows = rows;

  if (numbers.length > 0) {
    const interiorEdges = new Map(
      numbers.map((c) => [c.name, [...new Set(listNumbers(stats[`r_${alias.get(c.name)}_q`]))].sort((x, y) => x - y)]),
    );
    // Each side is one scan with a histogram() per column, except integer columns of a small range:
    // each of those is counted by value in a subquery of its own, then binned (see binCountsSql).
    const binSql = sides
      .flatMap(([side, from]) => {
        const grouped = (c: DriftColumn): boolean =>
          c.grouping !== undefined && groupsBeforeBinning(true, numberOf(stats[`${side}_${alias.get(c.name)}_min`]), numberOf(stats[`${side}_${alias.get(c.name)}_max`]));
        const scanned = numbers.filter((c) => !grouped(c));
        const parts = scanned.map((c) => `histogram(${binIndexSql(c.expression, interiorEdges.get(c.name)!)}) AS ${side}_${alias.get(c.name)}_h`);
        const subqueries = numbers.filter(grouped).map((c) => {
          const name = `${side}_${alias.get(c.name)}_h`;
          const counted = binCountsSql(from, c.grouping!.column, (v) => binIndexSql(c.grouping!.value(v), interiorEdges.get(c.name)!), true);
          return `(SELECT map(list(bin), list(n)) AS ${name} FROM (${counted}) WHERE bin IS NOT NULL) AS ${name}`;
        });
        return [...(parts.length > 0 ? [`(SELECT ${parts.join(', ')} FROM ${from}) AS ${side}`] : []), ...subqueries];
      })
      .join(', ');
    const binned = rowObject(await sandbox.rows(`SELECT * FROM ${binSql}`));
    progress(2, total, 'counted bins');
    for (const c of numbers) {
      const a = alias.get(c.name)!;
      const interior = interiorEdges.get(c.name)!;
      const slots = interior.length + 1;
      const data = mapCounts(binned[`d_${a}_h`], slots);
      const reference = mapCounts(binned[`r_${a}_h`], slots);
      const lows = finiteNumbers(stats[`d_${a}_min`], stats[`r_${a}_min`]);
      const highs = finiteNumbers(stats[`d_${a}_max`], stats[`r_${a}_max`]);
      const edges = lows.length === 0 || highs.length === 0 ? [] : [Math.min(...lows, ...interior), ...interior, Math.max(...highs, ...interior)];
      result.set(c.name, {
        data,
        reference,
        histogram: {
          ...(edges.length > 0 ? { edges } : {}),
          counts: data,
          reference_counts: reference,
          nulls: rows.data - nonNull('d', c),
        },
      });
    }
  }

  if (categories.length > 0) {
    const grouped = await sandbox.rows(
      `WITH g AS (${valueCountsSql(sides, categories, alias)})
       SELECT k, v, a, b FROM g
       QUALIFY row_number() OVER (PARTITION BY k ORDER BY a + b DESC, v) <= ${COUNTED_CATEGORIES}
       ORDER BY k, a + b DESC, v`,
    );
    progress(3, total, 'counted categories');
    const byAlias = new Map<string, { value: string; data: number; reference: number }[]>();
    for (const [k, v, a, b] of grouped.rows) {
      const list = byAlias.get(String(k)) ?? [];
      list.push({ value: String(v), data: numberOf(a) ?? 0, reference: numberOf(b) ?? 0 });
      byAlias.set(String(k), list);
    }
    for (const c of categories) {
      const found = byAlias.get(alias.get(c.name)!) ?? [];
      result.set(c.name, categoryCounts(found, nonNull('d', c), nonNull('r', c), rows.data - nonNull('d', c)));
    }
  }

  for (const [i, c] of ksColumns.entries()) {
    const na = nonNull('d', c);
    const nb = nonNull('r', c);
    const counts = result.get(c.name)!;
    if (na === 0 || nb === 0) {
      counts.ks = { statistic: 0, p_value: 1 };
      continue;
    }
    // The default RANGE frame sums every row up to and including the current value's peers, so
    // ties across the two tables step both ECDFs at once, as the exact statistic wants.
    const distance = await sandbox.rows(
      `SELECT max(abs(ca / ${na} - cb / ${nb})) FROM (
         SELECT sum(a) OVER w AS ca, sum(b) OVER w AS cb FROM (
           SELECT ${c.expression} AS v, 1 AS a, 0 AS b FROM ${sides[0][1]} WHERE ${c.expression} IS NOT NULL
           UNION ALL SELECT ${c.expression}, 0, 1 FROM ${sides[1][1]} WHERE ${c.expression} IS NOT NULL)
         WINDOW w AS (ORDER BY v))`,
    );
    const d = numberOf(distance.rows[0][0]) ?? 0;
    counts.ks = { statistic: d, p_value: kolmogorovSmirnovPValue(d, na, nb) };
    progress(4 + i, total, `KS of ${c.name}`);
  }
  progress(total, total, 'measured drift');
  return result;
}

/**
 * SQL for the bin of a number among sorted edges, right-closed: 0 for x <= edges[0], i for
 * edges[i-1] < x <= edges[i], edges.length above the last; null for null. A balanced tree of
 * comparisons, so a thousand edges cost ten per row.
 */
function binIndexSql(expression: string, edges: readonly number[]): string {
  const literal = (n: number): string => `(${String(n)})::DOUBLE`;
  const search = (lo: number, hi: number): string => {
    if (lo === hi) return String(lo);
    const mid = (lo + hi) >> 1;
    return `CASE WHEN ${expression} <= ${literal(edges[mid])} THEN ${search(lo, mid)} ELSE ${search(mid + 1, hi)} END`;
  };
  return `CASE WHEN ${expression} IS NOT NULL THEN ${search(0, edges.length)} END`;
}

/**
 * SQL counting every value of the columns in both tables in one pass over each: rows (k = the
 * column's alias, v = the value, a = its count in the first table, b = in the second). Nulls are left
 * out (UNPIVOT drops them).
 */
function valueCountsSql(sides: readonly (readonly [string, string])[], columns: readonly DriftColumn[], alias: Map<string, string>): string {
  const unpivot = (from: string): string =>
    `UNPIVOT (SELECT ${columns.map((c) => `${c.expression} AS ${alias.get(c.name)}`).join(', ')} FROM ${from}) ON COLUMNS(*) INTO NAME k VALUE v`;
  return `SELECT k, v, sum(a)::BIGINT AS a, sum(b)::BIGINT AS b
         FROM (SELECT k, v, 1 AS a, 0 AS b FROM (${unpivot(sides[0][1])})
               UNION ALL SELECT k, v, 0 AS a, 1 AS b FROM (${unpivot(sides[1][1])}))
         GROUP BY k, v`;
}

/**
 * Category counts for the statistics (every counted category, plus one slot for the rest when any
 * are left) and the histogram (the top {@link DRAWN_CATEGORIES}, plus '(other)').
 */
function categoryCounts(
  found: readonly { value: string; data: number; reference: number }[],
  dataNonNull: number,
  referenceNonNull: number,
  dataNulls: number,
): ColumnCounts {
  const counted = withRest(found, dataNonNull, referenceNonNull);
  const drawn = withRest(found.slice(0, DRAWN_CATEGORIES), dataNonNull, referenceNonNull);
  return {
    data: counted.data,
    reference: counted.reference,
    histogram: { categories: drawn.categories, counts: drawn.data, reference_counts: drawn.reference, nulls: dataNulls },
  };
}

/** The counts of some categories, plus '(other)' holding what they leave of each side's non-null rows. */
function withRest(
  found: readonly { value: string; data: number; reference: number }[],
  dataNonNull: number,
  referenceNonNull: number,
): { categories: string[]; data: number[]; reference: number[] } {
  const categories = found.map((f) => f.value);
  const data = found.map((f) => f.data);
  const reference = found.map((f) => f.reference);
  const restData = dataNonNull - sumOf(data);
  const restReference = referenceNonNull - sumOf(reference);
  if (restData > 0 || restReference > 0) {
    categories.push(OTHER);
    data.push(restData);
    reference.push(restReference);
  }
  return { categories, data, reference };
}

function rowObject(result: { columns: { name: string }[]; rows: DuckDBValue[][] }): Record<string, DuckDBValue> {
  const row = result.rows[0] ?? [];
  return Object.fromEntries(result.columns.map((c, i) => [c.name, row[i]]));
}

function listNumbers(value: DuckDBValue): number[] {
  if (value === null || value === undefined) return [];
  return (value as DuckDBListValue).items.map(numberOf).filter((n): n is number => n !== null && Number.isFinite(n));
}

/** Counts per slot 0..slots-1 from a DuckDB histogram() map of slot to count. */
export function mapCounts(value: DuckDBValue, slots: number): number[] {
  const counts = new Array<number>(slots).fill(0);
  if (value === null || value === undefined) return counts;
  for (const { key, value: count } of (value as DuckDBMapValue).entries) {
    const slot = numberOf(key);
    if (slot !== null && slot >= 0 && slot < slots) counts[slot] = numberOf(count) ?? 0;
  }
  return counts;
}

function finiteNumbers(...values: DuckDBValue[]): number[] {
  return values.map(numberOf).filter((n): n is number => n !== null && Number.isFinite(n));
}

function sumOf(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0);
}
