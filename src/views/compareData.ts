/** Which way a metric improves. */
export type MetricDirection = 'lower' | 'higher';

const LOWER_IS_BETTER = /loss|error|mse|rmse|mae|logloss/i;

/** Lower is better for losses and errors (`val_loss`, `rmse`, `error_rate`), higher for the rest. */
export function defaultDirection(metricKey: string): MetricDirection {
  return LOWER_IS_BETTER.test(metricKey) ? 'lower' : 'higher';
}

/**
 * Index of the best finite value in `values` for `direction`, or -1 when there is none. Ties go to
 * the first, so the highlight does not jump between equal runs.
 */
export function bestIndex(values: readonly (number | null | undefined)[], direction: MetricDirection): number {
  let best = -1;
  values.forEach((value, i) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    const current = values[best];
    if (best < 0 || (direction === 'lower' ? value < (current as number) : value > (current as number))) best = i;
  });
  return best;
}

/**
 * Exponential moving average with TensorBoard's debiasing, so the first points are not dragged
 * towards zero. `weight` 0 returns the values unchanged; gaps (null, NaN) stay gaps and do not
 * reset the average.
 */
export function smoothEma(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return [...values];
  const w = Math.min(weight, 0.999);
  let average = 0;
  let seen = 0;
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) return null;
    average = average * w + (1 - w) * value;
    seen += 1;
    return average / (1 - w ** seen);
  });
}

/** How a param is drawn on an axis: numbers on a numeric scale, anything else as ordered categories. */
export type ParamAxis =
  | {
      kind: 'numeric';
      key: string;
      values: (number | null)[];
      /** Positive values spanning two decades or more (learning rates, regularization): read on a log scale. */
      log: boolean;
    }
  | { kind: 'categorical'; key: string; categories: string[]; values: (number | null)[] };

/** The label shown for a run that did not log a param. */
export const MISSING = '(none)';

/**
 * The axis of param `key` over `rows`. Numeric when every logged value parses as a finite number
 * (params are logged as strings); categorical otherwise, categories sorted naturally, and a run
 * without the param gets the `(none)` category (numeric axes leave it as a gap: `null`).
 */
export function paramAxis(key: string, rows: readonly { params: Readonly<Record<string, string>> }[]): ParamAxis {
  const raw = rows.map((row) => paramValue(row.params, key));
  const present = raw.filter((value): value is string => value !== undefined);
  if (present.length > 0 && present.every(isNumeric)) {
    const values = raw.map((value) => (value === undefined ? null : Number(value)));
    return { kind: 'numeric', key, values, log: spansDecades(values) };
  }
  const labels = raw.map((value) => value ?? MISSING);
  const categories = [...new Set(labels)].sort(naturalCompare);
  const index = new Map(categories.map((category, i) => [category, i]));
  return { kind: 'categorical', key, categories, values: labels.map((label) => index.get(label) ?? null) };
}

/** A run's value of param `key`, or undefined when it did not log it (never an inherited property). */
export function paramValue(params: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(params, key) ? params[key] : undefined;
}

/** Minimum ratio of the largest to the smallest value for a log scale. */
const LOG_SCALE_RATIO = 100;

function spansDecades(values: readonly (number | null)[]): boolean {
  const present = values.filter((value): value is number => value !== null);
  if (present.length < 2 || present.some((value) => value <= 0)) return false;
  return Math.max(...present) / Math.min(...present) >= LOG_SCALE_RATIO;
}

function isNumeric(text: string): boolean {
  return text.trim() !== '' && Number.isFinite(Number(text));
}

/** Orders "lr=2" before "lr=10" and is case-insensitive, as people read lists. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * Param keys whose value is not the same in every row (a missing param counts as a value of its own).
 * Sorted naturally.
 */
export function differingParamKeys(rows: readonly { params: Readonly<Record<string, string>> }[]): string[] {
  const keys = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row.params)) keys.add(key);
  return [...keys]
    .filter((key) => {
      const first = rows[0] && paramValue(rows[0].params, key);
      return rows.some((row) => paramValue(row.params, key) !== first);
    })
    .sort(naturalCompare);
}
