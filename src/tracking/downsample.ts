import { BIGINT, DOUBLE, LIST, VARCHAR, listValue } from '@duckdb/node-api';
import type { SqlParams, SqlTypes, StoreSession } from '../store/store';

/** What series are ordered and bucketed by: the step (then time) or the time (then step). */
export type SeriesX = 'step' | 'time';

/** Points per series when the caller names no maximum, as in `openapi.json`. */
export const DEFAULT_MAX_POINTS = 2000;

/** One downsampled series as parallel arrays, in x order; `timestamps` only when x is time. */
export interface SeriesPoints {
  count: number;
  steps: number[];
  values: (number | null)[];
  timestamps?: number[];
}

/** The query of points to downsample, with its bound values and their types. */
export interface PointSource {
  /**
   * One row per point with columns `series` (what tells series apart: a key, a run id), `step`,
   * `timestamp_ms`, `value` and `r` (the row's `rowid`, which orders points of equal step and
   * time by arrival). Its parameters are `$1…$n`.
   */
  sql: string;
  params: SqlParams;
  types: SqlTypes;
}

interface Point {
  step: number;
  timestamp: number;
  value: number | null;
}

/** Above this, `(x − lo) · buckets` could leave BIGINT; the bucket is then computed in HUGEINT. */
const SAFE_PRODUCT = 2 ** 62;

/**
 * Reads series for charts, downsampled inside DuckDB so that a million points never cross into
 * JavaScript. A series of at most `maxPoints` points comes back whole. A longer one has its x range
 * (steps, or whole milliseconds with x = time) cut into `floor((maxPoints − 2) / 2)` equal buckets;
 * each bucket keeps the point with its lowest and the point with its highest value (a bucket
 * holding only nulls keeps its first point, so gaps stay gaps), and the series keeps its first and
 * last point. So the global minimum and maximum survive, and no series comes back with more than
 * `maxPoints` points (for `maxPoints` ≥ 4; below that only the first and last point are left).
 *
 * Two passes over the points whatever their number: one counts each series and finds its x range,
 * one aggregates the buckets of the long series with that range bound as constants (a third reads
 * the short series whole). An ordering key per row (a sort, a window, or `arg_min` over a struct)
 * costs several times as much on a million points, so none is used on all rows.
 * @returns each series that has points, by its `series` value
 * @throws RangeError when `maxPoints` is not an integer ≥ 2
 */
export async function readDownsampled(
  db: StoreSession,
  source: PointSource,
  maxPoints: number,
  x: SeriesX,
): Promise<Map<string, SeriesPoints>> {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new RangeError(`maxPoints must be an integer of at least 2, not ${maxPoints}`);
  const [first, second] = x === 'time' ? ['timestamp_ms', 'step'] : ['step', 'timestamp_ms'];
  // Buckets are counted in whole units of x: steps, or milliseconds (times may carry fractions).
  const whole = x === 'time' ? 'CAST(floor(p.timestamp_ms) AS BIGINT)' : 'p.step';
  const next = source.params.length + 1;
  const stats = await db.all(
    `SELECT series, count(*) AS n, min(${whole}) AS lo, max(${whole}) AS hi, min(p.${first}) AS first_x, max(p.${first}) AS last_x
     FROM (${source.sql}) p GROUP BY series`,
    source.params,
    source.types,
  );
  const result = new Map<string, SeriesPoints>();
  const short = stats.filter((row) => Number(row.n) <= maxPoints);
  const long = stats.filter((row) => Number(row.n) > maxPoints);

  if (short.length > 0) {
    const rows = await db.all(
      `SELECT series, step, timestamp_ms, value FROM (${source.sql}) p
       WHERE series IN (SELECT unnest($${next})) ORDER BY series, ${first}, ${second}, r`,
      [...source.params, listValue(short.map((row) => row.series as string))],
      [...source.types, LIST(VARCHAR)],
    );
    for (const row of rows) {
      const name = row.series as string;
      let series = result.get(name);
      if (!series) {
        series = emptySeries(Number(short.find((s) => s.series === name)!.n), x);
        result.set(name, series);
      }
      append(series, { step: Number(row.step), timestamp: row.timestamp_ms as number, value: row.value as number | null });
    }
  }

  if (long.length > 0) {
    const buckets = Math.floor((maxPoints - 2) / 2);
    const spans = long.map((row) => BigInt(row.hi as bigint) - BigInt(row.lo as bigint) + 1n);
    const widest = spans.reduce((a, b) => (a > b ? a : b));
    const offset = Number(widest) * Math.max(buckets, 1) < SAFE_PRODUCT ? `(${whole} - s.lo)` : `CAST(${whole} - s.lo AS HUGEINT)`;
    const bucket = buckets === 0 ? '0' : `${offset} * ${buckets} // s.span`;
    // The point's identity: its step (x = step), or step and time (x = time, where ties of value
    // must give both from one row).
    const point = x === 'time' ? 'struct_pack(s := p.step, t := p.timestamp_ms)' : 'p.step';
    const firstInBucket = x === 'time' ? `arg_min(${point}, p.timestamp_ms)` : 'min(p.step)';
    const edge = 'struct_pack(s := p.step, t := p.timestamp_ms, v := p.value)';
    const rows = await db.all(
      `WITH s AS (
         SELECT unnest($${next}) AS series, unnest($${next + 1}) AS lo, unnest($${next + 2}) AS span,
           unnest($${next + 3}) AS first_x, unnest($${next + 4}) AS last_x
       )
       SELECT p.series, ${bucket} AS b,
         min(p.value) AS min_v, arg_min(${point}, p.value) AS min_p,
         max(p.value) AS max_v, arg_max(${point}, p.value) AS max_p,
         ${firstInBucket} AS first_p,
         arg_min(${edge}, (p.${second}, p.r)) FILTER (WHERE p.${first} = s.first_x) AS first_point,
         arg_max(${edge}, (p.${second}, p.r)) FILTER (WHERE p.${first} = s.last_x) AS last_point
       FROM (${source.sql}) p JOIN s ON s.series = p.series
       GROUP BY p.series, b`,
      [
        ...source.params,
        listValue(long.map((row) => row.series as string)),
        listValue(long.map((row) => BigInt(row.lo as bigint))),
        listValue(spans),
        listValue(long.map((row) => Number(row.first_x))),
        listValue(long.map((row) => Number(row.last_x))),
      ],
      [...source.types, LIST(VARCHAR), LIST(BIGINT), LIST(BIGINT), LIST(DOUBLE), LIST(DOUBLE)],
    );
    const gathered = new Map<string, { first?: Point; last?: Point; middle: Point[] }>();
    for (const row of rows) {
      const name = row.series as string;
      let entry = gathered.get(name);
      if (!entry) {
        entry = { middle: [] };
        gathered.set(name, entry);
      }
      if (row.first_point !== null) entry.first = edgePoint(row.first_point);
      if (row.last_point !== null) entry.last = edgePoint(row.last_point);
      if (buckets === 0) continue;
      if (row.min_v === null) {
        entry.middle.push({ ...identity(row.first_p, x), value: null });
        continue;
      }
      const low = { ...identity(row.min_p, x), value: row.min_v as number };
      const high = { ...identity(row.max_p, x), value: row.max_v as number };
      entry.middle.push(low);
      if (!samePoint(low, high, x)) entry.middle.push(high);
    }
    for (const row of long) {
      const name = row.series as string;
      const entry = gathered.get(name)!;
      const series = emptySeries(Number(row.n), x);
      const ends = [entry.first!, entry.last!];
      const middle = entry.middle
        .filter((p) => !ends.some((end) => samePoint(p, end, x)))
        .sort((a, b) => (x === 'time' ? a.timestamp - b.timestamp || a.step - b.step : a.step - b.step));
      for (const p of [entry.first!, ...middle, entry.last!]) append(series, p);
      result.set(name, series);
    }
  }
  return result;
}

function emptySeries(count: number, x: SeriesX): SeriesPoints {
  return x === 'time' ? { count, steps: [], values: [], timestamps: [] } : { count, steps: [], values: [] };
}

function append(series: SeriesPoints, point: Point): void {
  series.steps.push(point.step);
  series.values.push(point.value);
  series.timestamps?.push(point.timestamp);
}

/** Step and time of an `arg_min`/`arg_max` result: a step (x = step, time unread) or a struct. */
function identity(value: unknown, x: SeriesX): Omit<Point, 'value'> {
  if (x === 'step') return { step: Number(value as bigint), timestamp: Number.NaN };
  const { s, t } = value as { s: bigint; t: number };
  return { step: Number(s), timestamp: t };
}

function edgePoint(value: unknown): Point {
  const { s, t, v } = value as { s: bigint; t: number; v: number | null };
  return { step: Number(s), timestamp: t, value: v };
}

/** The same point as a chart draws it (x = step never reads the time of bucket points). */
function samePoint(a: Point, b: Point, x: SeriesX): boolean {
  return a.step === b.step && a.value === b.value && (x === 'step' || a.timestamp === b.timestamp);
}
