/**
 * The statistics of drift, computed from counts that DuckDB has already aggregated: the population
 * stability index, the two-sample Kolmogorov-Smirnov test, the Jensen-Shannon distance and the
 * chi-squared test of homogeneity with Cramer's V. Pure functions, no I/O.
 */

/** Proportions below this count as this in the PSI, so that an empty bin does not make it infinite. */
export const PSI_EPSILON = 1e-4;

/**
 * Population stability index of `actual` against `expected`: sum over bins of (a - e) * ln(a / e) on
 * proportions, where an empty bin's proportion counts as {@link PSI_EPSILON}.
 * @param expected counts of the reference per bin
 * @param actual counts of the data per bin, in the same bins
 * @throws RangeError when the two have a different number of bins
 */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  sameLength(expected, actual);
  const e = proportions(expected);
  const a = proportions(actual);
  let sum = 0;
  for (let i = 0; i < e.length; i++) {
    const ei = Math.max(e[i], PSI_EPSILON);
    const ai = Math.max(a[i], PSI_EPSILON);
    sum += (ai - ei) * Math.log(ai / ei);
  }
  return Math.max(0, sum);
}

/**
 * Jensen-Shannon distance, base 2 (the square root of the divergence), in [0, 1]; 0 when either side
 * is empty.
 * @throws RangeError when the two have a different number of bins
 */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  sameLength(p, q);
  const pp = proportions(p);
  const qq = proportions(q);
  if (sum(p) === 0 || sum(q) === 0) return 0;
  let divergence = 0;
  for (let i = 0; i < pp.length; i++) {
    const m = (pp[i] + qq[i]) / 2;
    if (pp[i] > 0) divergence += 0.5 * pp[i] * Math.log2(pp[i] / m);
    if (qq[i] > 0) divergence += 0.5 * qq[i] * Math.log2(qq[i] / m);
  }
  return Math.min(1, Math.sqrt(Math.max(0, divergence)));
}

/** A chi-squared test of homogeneity of two rows of counts. */
export interface ChiSquared {
  statistic: number;
  dof: number;
  p_value: number;
  /** Cramer's V: sqrt(chi2 / (n * (min(rows, columns) - 1))), in [0, 1]. */
  cramers_v: number;
}

/**
 * Chi-squared test that two samples come from one categorical distribution, on their 2 x k table of
 * counts (no continuity correction; categories empty on both sides are left out). With fewer than two
 * categories or an empty side there is nothing to test: statistic 0, p-value 1.
 * @throws RangeError when the two have a different number of categories
 */
export function chiSquared(a: readonly number[], b: readonly number[]): ChiSquared {
  sameLength(a, b);
  const na = sum(a);
  const nb = sum(b);
  const n = na + nb;
  const kept = a.map((ai, i) => [ai, b[i]] as const).filter(([ai, bi]) => ai + bi > 0);
  if (kept.length < 2 || na === 0 || nb === 0) return { statistic: 0, dof: Math.max(0, kept.length - 1), p_value: 1, cramers_v: 0 };
  let statistic = 0;
  for (const [ai, bi] of kept) {
    const column = ai + bi;
    const ea = (column * na) / n;
    const eb = (column * nb) / n;
    statistic += (ai - ea) ** 2 / ea + (bi - eb) ** 2 / eb;
  }
  const dof = kept.length - 1;
  return { statistic, dof, p_value: chiSquaredSurvival(statistic, dof), cramers_v: Math.min(1, Math.sqrt(statistic / n)) };
}

/** A two-sample Kolmogorov-Smirnov test. */
export interface KolmogorovSmirnov {
  /** The largest distance between the two empirical distribution functions. */
  statistic: number;
  /** From the Kolmogorov distribution at sqrt(n * m / (n + m)) * D (the asymptotic two-sided test). */
  p_value: number;
}

/**
 * Two-sample KS test from counts of both samples over the same ordered values (or bins): D is the
 * largest gap between the cumulative proportions. Exact when each slot is one distinct value.
 * @throws RangeError when the two have a different number of slots
 */
export function kolmogorovSmirnov(a: readonly number[], b: readonly number[]): KolmogorovSmirnov {
  sameLength(a, b);
  const na = sum(a);
  const nb = sum(b);
  if (na === 0 || nb === 0) return { statistic: 0, p_value: 1 };
  let ca = 0;
  let cb = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    ca += a[i];
    cb += b[i];
    d = Math.max(d, Math.abs(ca / na - cb / nb));
  }
  return { statistic: d, p_value: kolmogorovSmirnovPValue(d, na, nb) };
}

/** The asymptotic two-sided p-value of a two-sample KS distance d between samples of na and nb values. */
export function kolmogorovSmirnovPValue(d: number, na: number, nb: number): number {
  if (na === 0 || nb === 0) return 1;
  return kolmogorovSurvival(Math.sqrt((na * nb) / (na + nb)) * d);
}

/**
 * Survival function of the Kolmogorov distribution, P(K > x) (scipy.special.kolmogorov): the
 * alternating series 2 sum (-1)^(j-1) exp(-2 j^2 x^2) where it converges fast (x >= 1.18), Jacobi's
 * theta form 1 - sqrt(2 pi)/x sum exp(-(2j-1)^2 pi^2 / (8 x^2)) below.
 */
export function kolmogorovSurvival(x: number): number {
  if (!(x > 0)) return 1;
  if (x < 1.18) {
    const w = -(Math.PI ** 2) / (8 * x * x);
    let s = 0;
    for (let j = 1; j <= 50; j++) {
      const term = Math.exp((2 * j - 1) ** 2 * w);
      s += term;
      if (term < 1e-17 * s) break;
    }
    return clamp01(1 - (Math.sqrt(2 * Math.PI) / x) * s);
  }
  let s = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * x * x);
    s += j % 2 === 1 ? term : -term;
    if (term < 1e-17) break;
  }
  return clamp01(2 * s);
}

/** P(X > x) for X chi-squared with dof degrees of freedom (the regularized upper incomplete gamma Q(dof/2, x/2)). */
export function chiSquaredSurvival(x: number, dof: number): number {
  if (dof <= 0) return 1;
  if (x <= 0) return 1;
  return gammaQ(dof / 2, x / 2);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (Lanczos, g = 7; relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let series = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) series += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(series);
}

/** The regularized lower incomplete gamma function P(a, x) = gamma(a, x) / Gamma(a), a > 0, x >= 0. */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), computed directly where it is small. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

const GAMMA_TOLERANCE = 1e-15;
const TINY = 1e-300;

/** P(a, x) by its power series; converges quickly for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let ap = a;
  let term = 1 / a;
  let total = term;
  for (let n = 0; n < 100_000; n++) {
    ap += 1;
    term *= x / ap;
    total += term;
    if (Math.abs(term) < Math.abs(total) * GAMMA_TOLERANCE) break;
  }
  return clamp01(total * Math.exp(-x + a * Math.log(x) - logGamma(a)));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges quickly for x >= a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < GAMMA_TOLERANCE) break;
  }
  return clamp01(Math.exp(-x + a * Math.log(x) - logGamma(a)) * h);
}

function proportions(counts: readonly number[]): number[] {
  const total = sum(counts);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function sameLength(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`counts of different lengths: ${a.length} and ${b.length}`);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
