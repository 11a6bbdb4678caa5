import type { DuckDBValue } from '@duckdb/node-api';
import type {
  BetweenCheck,
  Check,
  DriftCheck,
  NotNullCheck,
  SqlCheck,
  UniqueCheck,
  CheckOutcome,
  ColumnsCheck,
  DuplicateRowsCheck,
  FreshnessCheck,
  InSetCheck,
  MatchesCheck,
  MeanBetweenCheck,
  NullFractionCheck,
  RowCountCheck,
} from '@opsbook/schema';
import { columnKind, isIntegerType } from './columns';
import type { ColumnInfo, QueryRows } from './sandbox';
import { quoteIdent, quoteLiteral } from './sql';
import { numberOf, type JsonScalar } from './values';

/** A suite's check as the one type its `check` field names. */
export type SuiteCheck =
  | RowCountCheck
  | ColumnsCheck
  | NotNullCheck
  | UniqueCheck
  | BetweenCheck
  | NullFractionCheck
  | MatchesCheck
  | InSetCheck
  | DuplicateRowsCheck
  | MeanBetweenCheck
  | FreshnessCheck
  | SqlCheck
  | DriftCheck;

/** A validated suite's check, narrowed by its `check` field (the schema guarantees the fields). */
export function typed(check: Check): SuiteCheck {
  return check as unknown as SuiteCheck;
}

/** A measured value as CheckOutcome.observed, which may be any JSON value (its generated type says object). */
export function observedAs(value: unknown): CheckOutcome['observed'] {
  return value as CheckOutcome['observed'];
}

/** The table every compiled query reads (the sandbox's view of the data file). */
export const DATA = quoteIdent('data');

/** What a check measured, before samples and histograms are added. */
export type Verdict = Pick<CheckOutcome, 'status' | 'failing_rows' | 'observed' | 'expected' | 'message'>;

/** Values of the one scan, by alias; `rows` is count(*). */
export interface ScanValues {
  rows: number;
  get(alias: string): DuckDBValue;
  /** The value as JSON keeps it (see values.ts). */
  json(alias: string): JsonScalar;
}

/** A numeric histogram to draw for a failed check. */
export interface HistogramPlan {
  /** The column, quoted. */
  column: string;
  /** Whether it is an integer column (binned by value first when its range is small). */
  integer: boolean;
  /** Aliases of the column's min, max and null count in the scan. */
  min: string;
  max: string;
  nulls: string;
  bounds: { min?: number; max?: number };
}

/**
 * One check compiled: its aggregates are in the scan's AliasPool; the plan says how its verdict is
 * read from the scan's values, and how its failing rows are fetched when it fails.
 */
export interface CheckPlan {
  verdict: (scan: ScanValues) => Verdict;
  /** A WHERE condition over `data` selecting the failing rows, or a whole SELECT of them. */
  failing?: { where: string } | { select: string };
  histogram?: HistogramPlan;
}

/** The verdict of a check whose observation is its count of failing rows: it passes with none. */
function failingRowsVerdict(alias: string, expected: string): CheckPlan['verdict'] {
  return (scan) => {
    const failing = count(scan, alias);
    return { status: failing === 0 ? 'pass' : 'fail', failing_rows: failing, observed: observedAs(failing), expected };
  };
}

/** A check that cannot run on this table: its outcome is status error with this message. */
export class CheckCannotRun extends Error {}

/** The row-count aggregate every scan starts with. */
export const ROWS = 'rows';

/**
 * Compiles the aggregate checks: row_count, columns, not_null, unique, between, null_fraction,
 * matches, in_set, duplicate_rows, mean_between and freshness. Column names are quoted by
 * `quoteIdent`; values are spliced as literals by `quoteLiteral` (strings) or as finite numbers.
 * @throws CheckCannotRun when a named column is missing or has a type the check cannot use.
 */
export function compileCheck(check: SuiteCheck, columns: readonly ColumnInfo[], aliases: AliasPool): CheckPlan {
  switch (check.check) {
    case 'row_count':
      return rowCount(check);
    case 'columns':
      return columnsCheck(check, columns);
    case 'not_null':
      return notNull(columnOf(check, columns), aliases);
    case 'null_fraction':
      return nullFraction(check, columnOf(check, columns), aliases);
    case 'unique':
      return unique(columnOf(check, columns), aliases);
    case 'between':
      return between(check, columnOf(check, columns), aliases);
    case 'matches':
      return matches(check, columnOf(check, columns), aliases);
    case 'in_set':
      return inSet(check, columnOf(check, columns), aliases);
    case 'duplicate_rows':
      return duplicateRows(check, columns, aliases);
    case 'mean_between':
      return meanBetween(check, columnOf(check, columns), aliases);
    case 'freshness':
      return freshness(check, columnOf(check, columns), aliases);
    case 'sql':
    case 'drift':
      throw new Error(`check ${check.check} is not an aggregate check`);
  }
}

/**
 * Builds the scan: hands out one alias per distinct aggregate (checks asking the same thing share
 * it), and one grouping per key that unique and duplicate_rows need.
 *
 * Groupings run first, each as a small temp table of the keys occurring more than once (few, in
 * data worth checking), so that the scan and the failing-row samples read them instead of grouping
 * again. duplicate_rows does not count distinct rows over the whole table: it keeps the candidate
 * rows that may have a twin (see {@link prepare}) in a temp table, and counts distinct rows exactly
 * among those only. When the candidates are few ({@link COLLECT_LIMIT}) the scan itself collects
 * them (one list aggregate), instead of a second pass over every column of the table.
 */
export class AliasPool {
  private readonly byExpression = new Map<string, string>();
  /** Aggregates over candidate tables: evaluated once those tables exist. */
  private readonly late = new Set<string>();
  private readonly groupings = new Map<string, string>();
  private readonly candidates: { table: string; columns: string[]; collect?: string }[] = [];

  /** `collectLimit`: most candidate rows the scan collects (default {@link COLLECT_LIMIT}). */
  constructor(private readonly options: { collectLimit?: number } = {}) {}

  alias(expression: string): string {
    let alias = this.byExpression.get(expression);
    if (!alias) {
      alias = `a${this.byExpression.size}`;
      this.byExpression.set(expression, alias);
    }
    return alias;
  }

  /**
   * For a unique check on `column` (quoted): the alias of the count of non-null rows whose value
   * occurs more than once, and the temp table of those values (column k).
   */
  repeatedRows(column: string): { alias: string; table: string } {
    const table = this.grouping(column);
    return { alias: this.alias(`(SELECT coalesce(sum(n), 0) FROM ${table} WHERE k IS NOT NULL)`), table };
  }

  /**
   * For a duplicate_rows check over `columns` (quoted): the alias of count(*) minus the count of
   * distinct rows, and the temp table of the candidate rows that {@link prepare} and {@link scan} fill.
   */
  duplicateRows(columns: string[]): { alias: string; table: string } {
    const list = columns.join(', ');
    let found = this.candidates.find((c) => c.columns.join(', ') === list);
    if (!found) {
      found = { table: `c${this.candidates.length}`, columns };
      this.candidates.push(found);
    }
    const rows = found.table;
    const expression = `(SELECT count(*) FROM ${rows}) - (SELECT count(*) FROM (SELECT DISTINCT ${list} FROM ${rows}))`;
    this.late.add(expression);
    return { alias: this.alias(expression), table: rows };
  }

  /**
   * Runs, through `run`, what the scan reads: the unique checks' groupings, then finds the candidate
   * rows of each duplicate_rows check. Identical rows share every value, so a column whose grouping a
   * unique check made already narrows the candidates to the rows whose value repeats (when those
   * are at most {@link CANDIDATE_LIMIT}); otherwise a grouping by the row's hash does. Up to
   * {@link COLLECT_LIMIT} candidates are left for the scan to collect; more go into their temp table now.
   */
  async prepare(run: (sql: string, message: string) => Promise<QueryRows>): Promise<void> {
    for (const [key, table] of this.groupings) await run(groupingSql(key, table), `grouping by ${key}`);
    for (const [index, candidate] of this.candidates.entries()) {
      const { table, columns } = candidate;
      const list = columns.join(', ');
      let filter: string | undefined;
      let rows = Infinity;
      for (const column of columns) {
        const grouping = this.groupings.get(column);
        if (!grouping) continue;
        const repeated = await run(`SELECT coalesce(sum(n), 0) FROM ${grouping}`, `rows whose ${column} repeats`);
        rows = numberOf(repeated.rows[0][0]) ?? Infinity;
        if (rows <= CANDIDATE_LIMIT) {
          filter = `${column} IN (SELECT k FROM ${grouping} WHERE k IS NOT NULL) OR (${column} IS NULL AND EXISTS (SELECT 1 FROM ${grouping} WHERE k IS NULL))`;
          break;
        }
      }
      if (!filter) {
        const hashes = `h${index}`;
        await run(groupingSql(`hash(${list})`, hashes), 'grouping by row hash');
        const repeated = await run(`SELECT coalesce(sum(n), 0) FROM ${hashes}`, 'rows whose hash repeats');
        rows = numberOf(repeated.rows[0][0]) ?? Infinity;
        filter = `hash(${list}) IN (SELECT k FROM ${hashes})`;
      }
      if (rows <= (this.options.collectLimit ?? COLLECT_LIMIT)) candidate.collect = filter;
      else await run(`CREATE TEMP TABLE ${table} AS SELECT ${list} FROM ${DATA} WHERE ${filter}`, 'rows that may be duplicates');
    }
  }

  /** The most statements {@link prepare} and {@link scan} run, for progress. */
  stepsAtMost(): number {
    const probes = this.candidates.reduce((sum, { columns }) => sum + columns.filter((c) => this.groupings.has(c)).length + 4, 0);
    return this.groupings.size + probes + 1;
  }

  /**
   * The scan: count(*) and every aggregate over `data`, as one row (columns "rows" and the aliases).
   * One SELECT; when the scan collects candidate rows, it keeps its row in a temp table, unpacks the
   * candidates into their tables, then reads the row with the aggregates over those.
   */
  async scan(run: (sql: string, message: string) => Promise<QueryRows>): Promise<QueryRows> {
    const item = ([expression, alias]: [string, string]): string => `${expression} AS ${quoteIdent(alias)}`;
    const rows = `count(*) AS ${quoteIdent(ROWS)}`;
    const collected = this.candidates.filter((c) => c.collect !== undefined);
    if (collected.length === 0) {
      return run(`SELECT ${[rows, ...[...this.byExpression].map(item)].join(', ')} FROM ${DATA}`, 'one scan for every aggregate check');
    }
    const early = [...this.byExpression].filter(([expression]) => !this.late.has(expression));
    const late = [...this.byExpression].filter(([expression]) => this.late.has(expression));
    const lists = collected.map(
      (c) => `list(struct_pack(${c.columns.join(', ')})) FILTER (WHERE ${c.collect}) AS ${quoteIdent(`${c.table}_rows`)}`,
    );
    await run(`CREATE TEMP TABLE ${SCAN_TABLE} AS SELECT ${[rows, ...early.map(item), ...lists].join(', ')} FROM ${DATA}`, 'one scan for every aggregate check');
    for (const c of collected) {
      await run(`CREATE TEMP TABLE ${c.table} AS SELECT unnest(${quoteIdent(`${c.table}_rows`)}, recursive := true) FROM ${SCAN_TABLE}`, 'rows that may be duplicates');
    }
    const kept = collected.map((c) => quoteIdent(`${c.table}_rows`)).join(', ');
    return run(`SELECT * EXCLUDE (${kept})${late.map((l) => `, ${item(l)}`).join('')} FROM ${SCAN_TABLE}`, 'counting duplicate rows');
  }

  private grouping(key: string): string {
    let table = this.groupings.get(key);
    if (!table) {
      table = `g${this.groupings.size}`;
      this.groupings.set(key, table);
    }
    return table;
  }
}

function columnOf(check: { column: string }, columns: readonly ColumnInfo[]): ColumnInfo {
  const name = check.column;
  const column = columns.find((c) => c.name === name);
  if (!column) throw new CheckCannotRun(`column ${JSON.stringify(name)} is not in the data (columns: ${columns.map((c) => c.name).join(', ')})`);
  return column;
}

function count(scan: ScanValues, alias: string): number {
  return numberOf(scan.get(alias)) ?? 0;
}

function literal(value: number | string | boolean): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CheckCannotRun(`not a finite number: ${value}`);
    return Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? String(value) : `${String(value)}::DOUBLE`;
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return quoteLiteral(value, 'value');
}

function range(min: unknown, max: unknown, unit = ''): string {
  const show = (v: unknown): string => `${typeof v === 'string' ? v : String(v)}${unit}`;
  if (min !== undefined && max !== undefined) return `between ${show(min)} and ${show(max)}`;
  if (min !== undefined) return `at least ${show(min)}`;
  return `at most ${show(max)}`;
}

function within(value: number | string, min: unknown, max: unknown): boolean {
  return (min === undefined || value >= (min as number | string)) && (max === undefined || value <= (max as number | string));
}

function rowCount(check: RowCountCheck): CheckPlan {
  return {
    verdict: (scan) => ({
      status: within(scan.rows, check.min, check.max) ? 'pass' : 'fail',
      observed: observedAs(scan.rows),
      expected: `${range(check.min, check.max)} rows`,
    }),
  };
}

/** Spellings of DuckDB types that name the same type. */
const TYPE_ALIASES: Record<string, string> = {
  INT: 'INTEGER',
  INT4: 'INTEGER',
  SIGNED: 'INTEGER',
  INT8: 'BIGINT',
  LONG: 'BIGINT',
  INT2: 'SMALLINT',
  SHORT: 'SMALLINT',
  INT1: 'TINYINT',
  FLOAT8: 'DOUBLE',
  FLOAT4: 'FLOAT',
  REAL: 'FLOAT',
  BOOL: 'BOOLEAN',
  LOGICAL: 'BOOLEAN',
  STRING: 'VARCHAR',
  TEXT: 'VARCHAR',
  CHAR: 'VARCHAR',
  BPCHAR: 'VARCHAR',
  DATETIME: 'TIMESTAMP',
  TIMESTAMPTZ: 'TIMESTAMP WITH TIME ZONE',
};

function normalType(type: string): string {
  const upper = type.trim().toUpperCase().replace(/\s+/g, ' ').replace(/\s*,\s*/g, ',');
  return TYPE_ALIASES[upper] ?? upper;
}

function columnsCheck(check: ColumnsCheck, columns: readonly ColumnInfo[]): CheckPlan {
  const actual = Object.fromEntries(columns.map((c) => [c.name, c.type]));
  return {
    verdict: () => {
      const problems: string[] = [];
      for (const [name, type] of Object.entries(check.expect)) {
        if (!(name in actual)) problems.push(`${JSON.stringify(name)} is missing`);
        else if (normalType(actual[name]) !== normalType(type)) problems.push(`${JSON.stringify(name)} is ${actual[name]}, not ${type}`);
      }
      if (check.exact) {
        for (const name of Object.keys(actual)) if (!(name in check.expect)) problems.push(`${JSON.stringify(name)} is not expected`);
      }
      const listed = Object.entries(check.expect).map(([name, type]) => `${name} ${type}`).join(', ');
      return {
        status: problems.length === 0 ? 'pass' : 'fail',
        observed: actual,
        expected: `columns ${listed}${check.exact ? ' and no others' : ''}`,
        ...(problems.length > 0 ? { message: problems.join('; ') } : {}),
      };
    },
  };
}

function nullCount(column: ColumnInfo): string {
  return `count(*) FILTER (WHERE ${quoteIdent(column.name)} IS NULL)`;
}

function notNull(column: ColumnInfo, pool: AliasPool): CheckPlan {
  const alias = pool.alias(nullCount(column));
  return {
    verdict: failingRowsVerdict(alias, 'no nulls'),
    failing: { where: `${quoteIdent(column.name)} IS NULL` },
  };
}

function nullFraction(check: NullFractionCheck, column: ColumnInfo, pool: AliasPool): CheckPlan {
  const alias = pool.alias(nullCount(column));
  return {
    verdict: (scan) => {
      const nulls = count(scan, alias);
      const fraction = scan.rows === 0 ? 0 : nulls / scan.rows;
      return {
        status: fraction <= check.max ? 'pass' : 'fail',
        failing_rows: nulls,
        observed: observedAs(fraction),
        expected: `null fraction at most ${check.max}`,
      };
    },
    failing: { where: `${quoteIdent(column.name)} IS NULL` },
  };
}

/** Most candidate rows of duplicate_rows that a unique check's grouping may narrow them to. */
export const CANDIDATE_LIMIT = 1_000_000;

/** Most candidate rows of duplicate_rows that the scan collects in a list (see AliasPool.scan). */
export const COLLECT_LIMIT = 100_000;

/** The temp table holding the scan's row while collected candidates are unpacked. */
const SCAN_TABLE = 'scan_row';

function groupingSql(key: string, table: string): string {
  return `CREATE TEMP TABLE ${table} AS SELECT ${key} AS k, count(*) AS n FROM ${DATA} GROUP BY ALL HAVING count(*) > 1`;
}

/** Repeated values whose rows a unique check's sample shows. */
const SAMPLED_KEYS = 10;

function unique(column: ColumnInfo, pool: AliasPool): CheckPlan {
  const c = quoteIdent(column.name);
  const { alias, table } = pool.repeatedRows(c);
  return {
    verdict: failingRowsVerdict(alias, 'no repeated values'),
    // Rows of the first few repeated values, side by side.
    failing: { select: `SELECT * FROM ${DATA} WHERE ${c} IN (SELECT k FROM ${table} WHERE k IS NOT NULL ORDER BY k LIMIT ${SAMPLED_KEYS}) ORDER BY ${c}` },
  };
}

function duplicateRows(check: DuplicateRowsCheck, columns: readonly ColumnInfo[], pool: AliasPool): CheckPlan {
  const names = check.columns ?? columns.map((c) => c.name);
  const missing = names.find((name) => !columns.some((c) => c.name === name));
  if (missing !== undefined) throw new CheckCannotRun(`column ${JSON.stringify(missing)} is not in the data`);
  const list = names.map(quoteIdent).join(', ');
  const { alias, table } = pool.duplicateRows(names.map(quoteIdent));
  return {
    verdict: failingRowsVerdict(alias, check.columns ? `no two rows alike in ${names.join(', ')}` : 'no two rows alike'),
    failing: { select: `SELECT * FROM ${table} QUALIFY count(*) OVER (PARTITION BY ${list}) > 1 ORDER BY ${list}` },
  };
}

/** The literal of a bound of a between check, typed for the column, or why it cannot be. */
function boundLiteral(value: number | string, column: ColumnInfo, side: 'min' | 'max'): string {
  const kind = columnKind(column.type);
  if (kind === 'numeric') {
    if (typeof value !== 'number') throw new CheckCannotRun(`${side} ${JSON.stringify(value)} is not a number, but column ${JSON.stringify(column.name)} is ${column.type}`);
    return literal(value);
  }
  if (kind === 'temporal') {
    if (typeof value !== 'string') throw new CheckCannotRun(`${side} ${value} is not a date or timestamp, but column ${JSON.stringify(column.name)} is ${column.type}`);
    return `CAST(${quoteLiteral(value, side)} AS ${/TIME ZONE/.test(column.type) ? 'TIMESTAMPTZ' : 'TIMESTAMP'})`;
  }
  throw new CheckCannotRun(`column ${JSON.stringify(column.name)} is ${column.type}: between needs numbers, dates or timestamps`);
}

/** Temporal bounds a scan would cast: each must parse, or the whole scan would fail. */
export function temporalBounds(check: SuiteCheck): string[] {
  if (check.check !== 'between') return [];
  return [check.min, check.max].filter((v): v is string => typeof v === 'string');
}

function minMax(column: ColumnInfo, pool: AliasPool): { min: string; max: string; nulls: string } {
  const c = quoteIdent(column.name);
  return { min: pool.alias(`min(${c})`), max: pool.alias(`max(${c})`), nulls: pool.alias(nullCount(column)) };
}

function numericBounds(check: { min?: unknown; max?: unknown }): { min?: number; max?: number } {
  return {
    ...(typeof check.min === 'number' ? { min: check.min } : {}),
    ...(typeof check.max === 'number' ? { max: check.max } : {}),
  };
}

function between(check: BetweenCheck, column: ColumnInfo, pool: AliasPool): CheckPlan {
  const c = quoteIdent(column.name);
  const outside: string[] = [];
  if (check.min !== undefined) outside.push(`${c} < ${boundLiteral(check.min, column, 'min')}`);
  if (check.max !== undefined) outside.push(`${c} > ${boundLiteral(check.max, column, 'max')}`);
  const where = `${c} IS NOT NULL AND (${outside.join(' OR ')})`;
  const alias = pool.alias(`count(*) FILTER (WHERE ${where})`);
  const { min, max, nulls } = minMax(column, pool);
  return {
    verdict: (scan) => {
      const failing = count(scan, alias);
      return {
        status: failing === 0 ? 'pass' : 'fail',
        failing_rows: failing,
        observed: { min: scan.json(min), max: scan.json(max) },
        expected: range(check.min, check.max),
      };
    },
    failing: { where },
    ...(columnKind(column.type) === 'numeric'
      ? { histogram: { column: c, integer: isIntegerType(column.type), min: min, max: max, nulls: nulls, bounds: numericBounds(check) } }
      : {}),
  };
}

/** Patterns a scan would compile: each must be a valid regular expression, or the whole scan would fail. */
export function patternOf(check: SuiteCheck): string | undefined {
  return check.check === 'matches' ? check.pattern : undefined;
}

function asText(column: ColumnInfo): string {
  const c = quoteIdent(column.name);
  return column.type === 'VARCHAR' ? c : `CAST(${c} AS VARCHAR)`;
}

function matches(check: MatchesCheck, column: ColumnInfo, pool: AliasPool): CheckPlan {
  const c = quoteIdent(column.name);
  const where = `${c} IS NOT NULL AND NOT regexp_matches(${asText(column)}, ${quoteLiteral(check.pattern, 'pattern')})`;
  const alias = pool.alias(`count(*) FILTER (WHERE ${where})`);
  return {
    verdict: failingRowsVerdict(alias, `matches ${check.pattern}`),
    failing: { where },
  };
}

function inSet(check: InSetCheck, column: ColumnInfo, pool: AliasPool): CheckPlan {
  const c = quoteIdent(column.name);
  const kind = columnKind(column.type);
  let member: string;
  if (kind === 'numeric') {
    const odd = check.values.find((v) => typeof v !== 'number');
    if (odd !== undefined) throw new CheckCannotRun(`value ${JSON.stringify(odd)} is not a number, but column ${JSON.stringify(column.name)} is ${column.type}`);
    member = `${c} IN (${check.values.map((v) => literal(v)).join(', ')})`;
  } else if (kind === 'boolean') {
    const odd = check.values.find((v) => typeof v !== 'boolean');
    if (odd !== undefined) throw new CheckCannotRun(`value ${JSON.stringify(odd)} is not true or false, but column ${JSON.stringify(column.name)} is BOOLEAN`);
    member = `${c} IN (${check.values.map((v) => literal(v)).join(', ')})`;
  } else {
    // Text, enums, dates and the rest compare as their text: no cast of the data can fail mid-scan.
    member = `${asText(column)} IN (${check.values.map((v) => quoteLiteral(String(v), 'values')).join(', ')})`;
  }
  const where = `${c} IS NOT NULL AND NOT (${member})`;
  const alias = pool.alias(`count(*) FILTER (WHERE ${where})`);
  return {
    verdict: failingRowsVerdict(alias, `one of ${check.values.map(String).join(', ')}`),
    failing: { where },
  };
}

function meanBetween(check: MeanBetweenCheck, column: ColumnInfo, pool: AliasPool): CheckPlan {
  if (columnKind(column.type) !== 'numeric') {
    throw new CheckCannotRun(`column ${JSON.stringify(column.name)} is ${column.type}: mean_between needs numbers`);
  }
  const c = quoteIdent(column.name);
  const alias = pool.alias(`avg(${c})`);
  const { min, max, nulls } = minMax(column, pool);
  return {
    verdict: (scan) => {
      const mean = numberOf(scan.get(alias));
      return {
        status: mean !== null && within(mean, check.min, check.max) ? 'pass' : 'fail',
        observed: observedAs(mean),
        expected: `mean ${range(check.min, check.max)}`,
      };
    },
    histogram: { column: c, integer: isIntegerType(column.type), min: min, max: max, nulls: nulls, bounds: numericBounds(check) },
  };
}

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in a max_age such as `2d`, `36h`, `1.5w`. */
export function ageSeconds(maxAge: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([smhdw])$/.exec(maxAge);
  if (!match) throw new CheckCannotRun(`max_age ${JSON.stringify(maxAge)} is not a number followed by s, m, h, d or w`);
  return Number(match[1]) * SECONDS[match[2]];
}

function freshness(check: FreshnessCheck, column: ColumnInfo, pool: AliasPool): CheckPlan {
  if (columnKind(column.type) !== 'temporal') {
    throw new CheckCannotRun(`column ${JSON.stringify(column.name)} is ${column.type}: freshness needs a date or timestamp`);
  }
  const limit = ageSeconds(check.max_age);
  const c = quoteIdent(column.name);
  const newest = pool.alias(`max(${c})`);
  // epoch() of the newest value, read as UTC like every timestamp without a zone.
  const epoch = pool.alias(`epoch(max(${c})::TIMESTAMP)`);
  return {
    verdict: (scan) => {
      const seconds = numberOf(scan.get(epoch));
      const age = seconds === null ? null : Math.round((Date.now() / 1000 - seconds) * 1000) / 1000;
      return {
        status: age !== null && age <= limit ? 'pass' : 'fail',
        observed: { newest: scan.json(newest), age_seconds: age },
        expected: `newest value at most ${check.max_age} old`,
      };
    },
  };
}

/** An sql check's verdict on the one value its query returned. */
export function sqlVerdict(
  check: { expect?: number | string | boolean | null; min?: number; max?: number },
  value: JsonScalar,
): Verdict {
  const conditions: string[] = [];
  let pass = true;
  if ('expect' in check) {
    conditions.push(`equal to ${JSON.stringify(check.expect)}`);
    const expected = check.expect ?? null;
    pass &&= typeof expected === 'number' && typeof value === 'string' ? Number(value) === expected : value === expected;
  }
  if (check.min !== undefined || check.max !== undefined) {
    conditions.push(range(check.min, check.max));
    const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    pass &&= !Number.isNaN(number) && within(number, check.min, check.max);
  }
  return { status: pass ? 'pass' : 'fail', observed: observedAs(value), expected: conditions.join(' and ') };
}
