import { BadInputError } from '../store/errors';
import { checkSuiteValue, parseSuiteText } from './suite';
import { ISSUE_SUITE as YAML_SUITE } from './testing';


function failure(text: string, fileName = 'suite.yaml'): BadInputError {
  try {
    parseSuiteText(text, fileName);
  } catch (error) {
    if (error instanceof BadInputError) return error;
    throw error;
  }
  throw new Error('parsed');
}

describe('parseSuiteText', () => {
  it('reads the issue\'s suite from YAML, and the same suite from JSON', () => {
    const suite = parseSuiteText(YAML_SUITE, 'suite.yaml');
    expect(suite.suite).toBe('orders');
    expect(suite.checks.map((c) => c.check)).toEqual([
      'row_count', 'columns', 'not_null', 'unique', 'between', 'null_fraction', 'matches',
      'in_set', 'duplicate_rows', 'mean_between', 'freshness', 'sql', 'drift',
    ]);
    expect(parseSuiteText(JSON.stringify(suite, null, 2), 'suite.json')).toEqual(suite);
  });

  it('names the file, the line and the JSON pointer of a wrong field', () => {
    const text = YAML_SUITE.replace('{check: not_null, column: id}', '{check: not_null, column: 5}');
    const error = failure(text);
    expect(error.field).toBe('/checks/2/column');
    expect(error.value).toBe(5);
    expect(error.message).toBe('suite.yaml line 5: /checks/2/column: must be string: 5');
  });

  it('names the line of the check that lacks a required field', () => {
    const error = failure('suite: s\nchecks:\n  - check: row_count\n    min: 1\n  - check: matches\n    column: email\n');
    expect(error.field).toBe('/checks/1/pattern');
    expect(error.message).toMatch(/^suite\.yaml line 5: \/checks\/1\/pattern: is required/);
  });

  it('refuses unknown checks and unknown fields', () => {
    expect(failure('suite: s\nchecks:\n  - check: nonsense\n').message).toMatch(/line 3: \/checks\/0\/check: must be one of "row_count"/);
    const extra = failure('suite: s\nchecks:\n  - check: not_null\n    column: a\n    colum: b\n');
    expect(extra.field).toBe('/checks/0/colum');
    expect(extra.message).toMatch(/line 5: \/checks\/0\/colum: is not an allowed field/);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(failure('suite: s\nchecks:\n  - {check: row_count, min: 1\n').message).toMatch(/^suite\.yaml line \d+: not valid YAML or JSON/);
    expect(failure('suite: s\nsuite: t\nchecks: []\n').message).toMatch(/^suite\.yaml line 2: not valid YAML or JSON/);
    expect(failure('{"suite": "s", "checks": [}', 'suite.json').message).toMatch(/^suite\.json line 1:/);
    expect(failure('').message).toMatch(/\/: must be object/);
  });

  it('refuses a min above its max before anything runs', () => {
    const error = failure('suite: s\nchecks:\n  - check: between\n    column: a\n    min: 5\n    max: 1\n');
    expect(error.field).toBe('/checks/0/min');
    expect(error.message).toBe('suite.yaml line 5: /checks/0/min: must not be above max (1): 5');
    expect(() => checkSuiteValue({ suite: 's', checks: [{ check: 'row_count', min: 3, max: 2 }] })).toThrow(/^suite: \/checks\/0\/min/);
  });
});
