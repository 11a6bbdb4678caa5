import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { inverseNormalCdf, lowerNormalCdf } from './normal';

const PYTHON = resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
const XS = [-40, -12, -8, -6.5, -6, -4.01, -4, -3.99, -3, -1, -0.1, 0, 0.5, 2, 7];
const PS = [1e-300, 1e-20, 1e-9, 0.001, 0.02, 0.0243, 0.1, 0.4, 0.5, 0.7, 0.98, 0.999, 1 - 1e-12];

/** Φ and Φ⁻¹ against scipy's ndtr and ndtri, computed now by the project's Python. */
describe('the normal CDF and its inverse', () => {
  const reference = JSON.parse(
    execFileSync(PYTHON, ['-c', `import json; from scipy.special import ndtr, ndtri; print(json.dumps([list(map(float, ndtr(${JSON.stringify(XS)}))), list(map(float, ndtri(${JSON.stringify(PS)})))]))`], {
      encoding: 'utf8',
    }),
  ) as [number[], number[]];

  it('Φ agrees with scipy to a relative 1e-11, into the far lower tail', () => {
    XS.forEach((x, i) => {
      const expected = reference[0][i];
      expect(Math.abs(lowerNormalCdf(x) - expected)).toBeLessThanOrEqual(1e-11 * Math.max(expected, 1e-300));
    });
  });

  it('Φ⁻¹ agrees with scipy to a relative 2e-9 (Acklam), with infinities at 0 and 1', () => {
    PS.forEach((p, i) => {
      const expected = reference[1][i];
      expect(Math.abs(inverseNormalCdf(p) - expected)).toBeLessThanOrEqual(2e-9 * Math.max(Math.abs(expected), 1e-3));
    });
    expect(inverseNormalCdf(0)).toBe(-Infinity);
    expect(inverseNormalCdf(1)).toBe(Infinity);
  });
});
