import type { CheckOutcome, DriftScore } from '@opsbook/schema';

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A count with thousands separators: 1234567 → "1,234,567"; absent → "—". */
export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : COUNT.format(value);
}

/**
 * A measured number for reading: integers whole with separators, others to four significant digits
 * (an exponent only for very small or very large values).
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return COUNT.format(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e15)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

/** A fraction in [0, 1] as a percentage: 0.0123 → "1.23%"; a share too small to show → "<0.01%". */
export function formatPercent(fraction: number): string {
  if (fraction === 0) return '0%';
  const percent = fraction * 100;
  if (percent < 0.01) return '<0.01%';
  return `${Number(percent.toFixed(2))}%`;
}

/** Any JSON value of a result (min, max, quantile, top value, observed) as text. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  return Object.entries(value as Record<string, unknown>)
    .map(([key, v]) => `${key} ${formatValue(v)}`)
    .join(', ');
}

/** What a check measured, in words: the drift statistic names its method and p-value. */
export function observedText(outcome: CheckOutcome): string {
  if (outcome.status === 'error') return outcome.message ?? 'could not run';
  const value = formatValue(outcome.observed as unknown);
  if (outcome.check !== 'drift' || !outcome.method) return value;
  return `${outcome.method} ${value}${outcome.p_value === undefined ? '' : ` (p = ${formatPValue(outcome.p_value)})`}`;
}

/** A p-value to three significant digits, with "< 0.001" below that. */
export function formatPValue(p: number): string {
  return p < 0.001 ? '< 0.001' : String(Number(p.toPrecision(3)));
}

/** The drift methods by their statistics' names. */
export const DRIFT_METHOD_LABEL: Record<DriftScore['method'], string> = {
  psi: 'PSI',
  ks: 'KS D',
  js: 'JS distance',
  chi2: "χ² (Cramér's V)",
};

/** The status of a check or suite as an icon and a word, so it never rests on colour alone. */
export const STATUS_TEXT: Record<CheckOutcome['status'], { icon: string; text: string }> = {
  pass: { icon: '✓', text: 'pass' },
  fail: { icon: '✗', text: 'fail' },
  error: { icon: '!', text: 'error' },
};
