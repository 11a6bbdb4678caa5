import type { DuckDBListType, DuckDBListValue, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { ColumnProfile, DataProfile, Histogram } from '@opsbook/schema';
import { columnKind, type ColumnKind } from './columns';
import { describeSource, mapCounts } from './drift';
import type { QualityHooks } from './hooks';
import { openSandbox, type ColumnInfo, type QueryRows, type Sandbox } from './sandbox';
import type { ResolvedSource } from './source';
import { quoteIdent } from './sql';
import { jsonScalar, numberOf } from './values';

/** From this many rows on, distinct counts and quantiles are approximate (HyperLogLog, t-digest). */
export const EXACT_ROW_LIMIT = 1_000_000;

const QUANTILES: readonly [string, number][] = [
  ['p01', 0.01],
  ['p05', 0.05],
  ['p25', 0.25],
  ['p50', 0.5],
  ['p75', 0.75],
  ['p95', 0.95],
  ['p99', 0.99],
];
const OTHER = '(other)';

/** Options of a profile. */
export interface ProfileOptions {
  /** Equal-width bins of the numeric and temporal histograms (default 20). */
  bins?: number;
  /** Most frequent values listed per column (default 10). */
  top?: number;
}

interface ProfiledColumn extends ColumnInfo {
  kind: ColumnKind;
  alias: string;
  quoted: string;
  /** The value as a DOUBLE for histograms: the number, or seconds since the epoch. */
  measure?: string;
}

/**
 * Profiles every column of a table: type, kind, nulls, distinct values (exact below
 * {@link EXACT_ROW_LIMIT} rows, approximate from there on, as `distinct_exact` says), min/max,
 * mean/stddev of numbers, quantiles p01..p99 of numbers and dates (exact below the limit, t-digest
 * above), the most frequent values, and a histogram (equal-width bins for numbers and dates, the top
 * values plus '(other)' for text and booleans). One count, one aggregate scan for all columns, one
 * for all histograms, then one grouped query per column for its top values. Values are JSON-safe
 * (int64 beyond 2^53, decimals and timestamps as strings); dates' histogram edges are epoch seconds.
 * @throws BadInputError naming `data.path` when the file cannot be read.
 * @throws ConflictError (field job_id) when the job is cancelled.
 */
export async function profileTable(data: ResolvedSource, options: ProfileOptions = {}, hooks: QualityHooks = {}): Promise<DataProfile> {
  const started = performance.now();
  const bins = options.bins ?? 20;
  const top = options.top ?? 10;
  hooks.onProgress?.({ phase: 'load', done: 0, total: 1, message: `reading ${data.label}` });
  const sandbox = await openSandbox({ tables: { data }, signal: hooks.signal, jobId: hooks.jobId });
  try {
    const columns: ProfiledColumn[] = (await sandbox.describe('data')).map((c, i) => {
      const kind = columnKind(c.type);
      const quoted = quoteIdent(c.name);
      const measure = kind === 'numeric' ? `CAST(${quoted} AS DOUBLE)` : kind === 'temporal' ? `epoch(${quoted})` : undefined;
      return { ...c, kind, alias: `c${i}`, quoted, ...(measure ? { measure } : {}) };
    });
    const topped = top > 0 ? columns.filter((c) => c.kind !== 'other') : [];
    const total = 3 + topped.length;
    const progress = (done: number, message: string): void => hooks.onProgress?.({ phase: 'profile', done, total, message });

    const rows = numberOf((await sandbox.rows('SELECT count(*) FROM data')).rows[0][0]) ?? 0;
    const exact = rows < EXACT_ROW_LIMIT;
    progress(1, `${rows} rows`);

    const aggregates = rowByName(await sandbox.rows(`SELECT ${columns.flatMap((c) => aggregatesOf(c, exact)).join(', ')} FROM data`));
    progress(2, 'counted nulls, distinct values, ranges and quantiles');

    const profiles = columns.map((c) => columnProfile(c, aggregates, rows, exact));
    const histograms = await numericHistograms(sandbox, columns, aggregates, bins);
    progress(3, 'counted histograms');

    let done = 3;
    for (const [i, c] of columns.entries()) {
      const profile = profiles[i];
      const histogram = histograms.get(c.alias);
      if (histogram) profile.histogram = { ...histogram, nulls: profile.nulls };
      if (!topped.includes(c)) continue;
      const nonNull = rows - profile.nulls;
      const allDistinct = profile.distinct_exact && profile.distinct === nonNull && nonNull > top;
      if (!allDistinct) {
        const frequent = await sandbox.rows(
          `SELECT ${c.quoted} AS value, count(*) AS n FROM data WHERE ${c.quoted} IS NOT NULL GROUP BY ${c.quoted} ORDER BY n DESC, value LIMIT ${top}`,
        );
        const type = frequent.columns[0].type;
        profile.top = frequent.rows.map(([value, n]) => ({ value: jsonScalar(value, type), count: numberOf(n) ?? 0 }));
        if ((c.kind === 'categorical' || c.kind === 'boolean') && nonNull > 0) profile.histogram = categoryHistogram(profile.top, nonNull, profile.nulls);
      } else {
        profile.top = [];
      }
      progress(++done, `top values of ${c.name}`);
    }
    return { data: describeSource(data, rows), rows, seconds: (performance.now() - started) / 1000, distinct_exact: exact, columns: profiles };
  } finally {
    sandbox.close();
  }
}

function aggregatesOf(c: ProfiledColumn, exact: boolean): string[] {
  const q = c.quoted;
  const a = c.alias;
  const distinctOf = c.kind === 'other' ? `CAST(${q} AS VARCHAR)` : q;
  const parts = [`count(${q}) AS ${a}_n`, exact ? `count(DISTINCT ${distinctOf}) AS ${a}_distinct` : `approx_count_distinct(${distinctOf}) AS ${a}_distinct`];
  if (c.kind !== 'other') parts.push(`min(${q}) AS ${a}_min`, `max(${q}) AS ${a}_max`);
  if (c.kind === 'numeric') parts.push(`avg(${c.measure}) AS ${a}_mean`, `stddev_samp(${c.measure}) AS ${a}_stddev`);
  if (c.measure) {
    const points = `[${QUANTILES.map(([, p]) => p).join(', ')}]`;
    parts.push(exact ? `quantile_disc(${q}, ${points}) AS ${a}_q` : `approx_quantile(${q}, ${points}) AS ${a}_q`);
    parts.push(
      `min(${c.measure}) FILTER (WHERE isfinite(${c.measure})) AS ${a}_lo`,
      `max(${c.measure}) FILTER (WHERE isfinite(${c.measure})) AS ${a}_hi`,
    );
  }
  return parts;
}

function columnProfile(c: ProfiledColumn, aggregates: Row, rows: number, exact: boolean): ColumnProfile {
  const nonNull = numberOf(aggregates.value(`${c.alias}_n`)) ?? 0;
  const profile: ColumnProfile = {
    name: c.name,
    type: c.type,
    kind: c.kind,
    nulls: rows - nonNull,
    null_fraction: rows === 0 ? 0 : (rows - nonNull) / rows,
    distinct: numberOf(aggregates.value(`${c.alias}_distinct`)) ?? 0,
    distinct_exact: exact,
  };
  if (c.kind !== 'other') {
    profile.min = aggregates.json(`${c.alias}_min`);
    profile.max = aggregates.json(`${c.alias}_max`);
  }
  if (c.kind === 'numeric') {
    profile.mean = finiteOrNull(aggregates.value(`${c.alias}_mean`));
    profile.stddev = finiteOrNull(aggregates.value(`${c.alias}_stddev`));
  }
  if (c.measure && nonNull > 0) {
    const list = aggregates.value(`${c.alias}_q`) as DuckDBListValue | null;
    const itemType = (aggregates.type(`${c.alias}_q`) as DuckDBListType).valueType;
    if (list) profile.quantiles = Object.fromEntries(QUANTILES.map(([key], i) => [key, jsonScalar(list.items[i], itemType)]));
  }
  return profile;
}

/** Equal-width histograms of every number and date column, in one scan. */
async function numericHistograms(
  sandbox: Sandbox,
  columns: readonly ProfiledColumn[],
  aggregates: Row,
  bins: number,
): Promise<Map<string, Histogram>> {
  const ranged = columns
    .filter((c) => c.measure)
    .map((c) => ({ c, lo: numberOf(aggregates.value(`${c.alias}_lo`)), hi: numberOf(aggregates.value(`${c.alias}_hi`)) }))
    .filter((r): r is { c: ProfiledColumn; lo: number; hi: number } => r.lo !== null && r.hi !== null);
  const result = new Map<string, Histogram>();
  if (ranged.length === 0) return result;
  const params: number[] = [];
  const bound = (value: number): string => {
    params.push(value);
    return `$${params.length}::DOUBLE`;
  };
  const parts = ranged.map(({ c, lo, hi }) => {
    const slots = hi > lo ? bins : 1;
    const index = slots === 1 ? '0' : `least(floor((${c.measure} - ${bound(lo)}) / ${bound((hi - lo) / slots)}), ${slots - 1})::INTEGER`;
    return `histogram(CASE WHEN isfinite(${c.measure}) THEN ${index} END) AS ${c.alias}_h`;
  });
  const counted = rowByName(await sandbox.rows(`SELECT ${parts.join(', ')} FROM data`, params));
  for (const { c, lo, hi } of ranged) {
    const slots = hi > lo ? bins : 1;
    const counts = mapCounts(counted.value(`${c.alias}_h`), slots);
    const width = (hi - lo) / slots;
    const edges = Array.from({ length: slots + 1 }, (_, i) => (i === slots ? hi : lo + i * width));
    result.set(c.alias, { edges, counts });
  }
  return result;
}

function categoryHistogram(top: NonNullable<ColumnProfile['top']>, nonNull: number, nulls: number): Histogram {
  const categories = top.map((t) => String(t.value));
  const counts = top.map((t) => t.count);
  const rest = nonNull - counts.reduce((s, n) => s + n, 0);
  if (rest > 0) {
    categories.push(OTHER);
    counts.push(rest);
  }
  return { categories, counts, nulls };
}

/** The one row of an aggregate query, read by column name. */
interface Row {
  value(name: string): DuckDBValue;
  type(name: string): DuckDBType;
  json(name: string): ReturnType<typeof jsonScalar>;
}

function rowByName(result: QueryRows): Row {
  const index = new Map(result.columns.map((c, i) => [c.name, i]));
  const row = result.rows[0] ?? [];
  const at = (name: string): number => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`no column ${name} in the profile query`);
    return i;
  };
  return {
    value: (name) => row[at(name)] ?? null,
    type: (name) => result.columns[at(name)].type,
    json: (name) => jsonScalar(row[at(name)] ?? null, result.columns[at(name)].type),
  };
}

function finiteOrNull(value: DuckDBValue): number | null {
  const n = numberOf(value);
  return n !== null && Number.isFinite(n) ? n : null;
}
