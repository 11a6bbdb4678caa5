import {
  chiSquared,
  chiSquaredSurvival,
  gammaP,
  gammaQ,
  jensenShannon,
  kolmogorovSmirnov,
  kolmogorovSurvival,
  logGamma,
  psi,
} from './stats';

/*
 * Reference values computed once with scipy 1.17.1 / numpy in the project's .venv, e.g.
 *   .venv/bin/python -c "from scipy import special; print(repr(special.gammaincc(100, 110)))"
 * The expression that gave each value stands beside it.
 */

const relativelyClose = (actual: number, expected: number, tolerance = 1e-10): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
};

describe('gamma functions', () => {
  it.each([
    [0.5, 0.5723649429247], // special.gammaln(0.5)
    [1, 0],
    [3.7, 1.428072326665388],
    [10, 12.801827480081469],
    [171.5, 709.1431630309283],
    [1e4, 82099.71749644238],
  ])('logGamma(%p) matches scipy.special.gammaln', (x, expected) => relativelyClose(logGamma(x), expected, 1e-13));

  it.each([
    [0.5, 0.5, 0.31731050786291115], // special.gammaincc(a, x)
    [1, 2, 0.1353352832366127],
    [2.5, 1, 0.8491450360846096],
    [5, 10, 0.029252688076961124],
    [10, 3, 0.9988975118698845],
    [100, 110, 0.15827867006008706],
    [500, 450, 0.9892827619087102],
    [0.1, 5, 0.00014393896584673387],
  ])('gammaQ(%p, %p) matches scipy.special.gammaincc', (a, x, expected) => relativelyClose(gammaQ(a, x), expected, 1e-11));

  it.each([
    [0.5, 0.5, 0.6826894921370859], // special.gammainc(a, x)
    [3, 1, 0.08030139707139418],
    [50, 40, 0.07033506665939494],
  ])('gammaP(%p, %p) matches scipy.special.gammainc', (a, x, expected) => relativelyClose(gammaP(a, x), expected, 1e-11));

  it.each([
    [3.84, 1, 0.05004352124870519], // stats.chi2.sf(x, k)
    [10, 4, 0.04042768199451279],
    [1000, 999, 0.48513148927490146],
    [25, 3, 1.5440498291101365e-5],
    [0.5, 10, 0.999993388289439],
  ])('chiSquaredSurvival(%p, %p) matches scipy.stats.chi2.sf', (x, k, expected) => relativelyClose(chiSquaredSurvival(x, k), expected, 1e-11));

  it('keeps tiny upper tails instead of rounding them to 0 through 1 - P', () => {
    const q = chiSquaredSurvival(400, 3);
    expect(q).toBeGreaterThan(0);
    expect(q).toBeLessThan(1e-80);
  });
});

describe('Kolmogorov distribution', () => {
  it.each([
    [0.2, 0.999999999999495], // special.kolmogorov(x)
    [0.5, 0.9639452436648751],
    [0.8, 0.5441424115741981],
    [1.0, 0.26999967167735456],
    [1.2, 0.11224966667072497],
    [1.36, 0.049485876755377876],
    [2.0, 0.0006709252557796953],
    [3.0, 3.045995948942526e-8],
  ])('kolmogorovSurvival(%p) matches scipy.special.kolmogorov', (x, expected) => relativelyClose(kolmogorovSurvival(x), expected, 1e-12));

  it('gives D and the asymptotic p-value of two samples from their counts over the merged distinct values', () => {
    // a = [1,2,2,3,4,5,6,7,8,9], b = [2,3,3,4,5,10,11,12]: stats.ks_2samp(a, b).statistic = 0.375,
    // stats.kstwobign.sf(sqrt(10*8/18) * 0.375) = 0.5595597101952636.
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const a = [1, 2, 2, 3, 4, 5, 6, 7, 8, 9];
    const b = [2, 3, 3, 4, 5, 10, 11, 12];
    const counts = (sample: number[]) => values.map((v) => sample.filter((x) => x === v).length);
    const result = kolmogorovSmirnov(counts(a), counts(b));
    relativelyClose(result.statistic, 0.375, 1e-15);
    relativelyClose(result.p_value, 0.5595597101952636, 1e-12);
  });

  it('is 0 with p-value 1 for identical or empty samples', () => {
    expect(kolmogorovSmirnov([3, 4, 5], [6, 8, 10])).toEqual({ statistic: 0, p_value: 1 });
    expect(kolmogorovSmirnov([0, 0], [1, 2])).toEqual({ statistic: 0, p_value: 1 });
  });
});

describe('PSI, Jensen-Shannon and chi-squared', () => {
  it('PSI matches numpy, with epsilon for empty bins', () => {
    // e, a = proportions; ((a - e) * np.log(a / e)).sum()
    relativelyClose(psi([10, 20, 30, 40], [40, 30, 20, 10]), 0.9128696382935673, 1e-14);
    // e = max([.5, .5, 0], 1e-4), a = max([.45, .45, .1], 1e-4)
    relativelyClose(psi([50, 50, 0], [45, 45, 10]), 0.7006208039360982, 1e-14);
    expect(psi([5, 5], [50, 50])).toBe(0);
  });

  it('Jensen-Shannon distance matches scipy.spatial.distance.jensenshannon(p, q, base=2)', () => {
    relativelyClose(jensenShannon([10, 20, 30, 40], [40, 30, 20, 10]), 0.3918681606471551, 1e-14);
    relativelyClose(jensenShannon([5, 5, 0], [3, 3, 4]), 0.48626412335275976, 1e-14);
    expect(jensenShannon([1, 0, 0], [0, 1, 0])).toBe(1);
    expect(jensenShannon([2, 2], [7, 7])).toBe(0);
  });

  it('chi-squared statistic, p-value and Cramer\'s V match scipy.stats.chi2_contingency(correction=False)', () => {
    const a = chiSquared([10, 20, 30, 40], [40, 30, 20, 10]);
    relativelyClose(a.statistic, 40, 1e-13);
    expect(a.dof).toBe(3);
    relativelyClose(a.p_value, 1.065509033425585e-8, 1e-10);
    relativelyClose(a.cramers_v, 0.4472135954999579, 1e-14);
    const b = chiSquared([120, 90, 40], [100, 100, 50]);
    relativelyClose(b.statistic, 3.455608718766613, 1e-13);
    relativelyClose(b.p_value, 0.17767409046372526, 1e-11);
    relativelyClose(b.cramers_v, 0.08313373224830717, 1e-14);
  });

  it('chi-squared leaves out categories empty on both sides and has nothing to test with one category', () => {
    expect(chiSquared([10, 0, 20], [20, 0, 40]).dof).toBe(1);
    expect(chiSquared([10], [30])).toEqual({ statistic: 0, dof: 0, p_value: 1, cramers_v: 0 });
  });

  it('refuses counts of different lengths', () => {
    expect(() => psi([1, 2], [1])).toThrow(RangeError);
  });
});
