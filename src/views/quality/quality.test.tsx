/**
 * @jest-environment jsdom
 */
import { Buffer } from 'node:buffer';
import { TextDecoder, TextEncoder } from 'node:util';
import { act } from 'react';
import { SchemaValidator, type CheckResult, type DataProfile, type DriftReport, type QualityOutput } from '@opsbook/schema';
import {
  CheckResultView,
  decimalText,
  DriftView,
  ProfileView,
  QualityOutputView,
  rankDrift,
  timestampText,
  type ArrowLoader,
  type ArrowModule,
  type PlotlyApi,
} from '../index';
import { useTestRoot } from '../testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
// jsdom lacks the text codecs apache-arrow needs when it loads; jest runs no dynamic import, so
// the views get the module from this loader.
Object.assign(globalThis, { TextDecoder, TextEncoder });
const arrowLoader: ArrowLoader = () => Promise.resolve(jest.requireActual<ArrowModule>('apache-arrow'));

/** Records what a chart asked plotly to draw; jsdom has no SVG layout for real plotly. */
class RecordingPlotly implements PlotlyApi {
  readonly drawn: { element: HTMLElement; data: Record<string, unknown>[]; layout: Record<string, unknown> }[] = [];
  react(element: HTMLElement, data: object[], layout: object): Promise<unknown> {
    this.drawn.push({ element, data: data as Record<string, unknown>[], layout: layout as Record<string, unknown> });
    return Promise.resolve(element);
  }
  purge(): void {}
  Plots = { resize: (): void => undefined };
  drawnIn(selector: string): RecordingPlotly['drawn'] {
    return this.drawn.filter((d) => d.element.closest(selector));
  }
}

const validator = new SchemaValidator();
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
const dom = useTestRoot(async () => {
  for (let i = 0; i < 5; i++) await tick();
});

/** An int64 a JSON number cannot hold: 2^53 + 1. */
const BIG_ID = 9007199254740993n;

/** Failing rows as DuckDB would send them: int64, a UTC microsecond timestamp and a DECIMAL(18,2). */
async function arrowSample(): Promise<string> {
  const arrow = await arrowLoader();
  const ids = arrow.makeVector(new BigInt64Array([BIG_ID, BIG_ID, -5n]));
  const created = arrow.makeVector(
    arrow.makeData({ type: new arrow.TimestampMicrosecond('UTC'), length: 3, nullCount: 0, data: new BigInt64Array([1_700_000_000_123_456n, 0n, -1n]) }),
  );
  // -1234567 and 5 as 128-bit two's complement words, scale 2.
  const price = arrow.makeVector(
    arrow.makeData({ type: new arrow.Decimal(2, 18, 128), length: 3, data: new Uint32Array([0xffed2979, 0xffffffff, 0xffffffff, 0xffffffff, 5, 0, 0, 0, 0, 0, 0, 0]) }),
  );
  const table = new arrow.Table({ id: ids, created_at: created, price });
  return Buffer.from(arrow.tableToIPC(table, 'stream')).toString('base64');
}

async function checkResult(): Promise<CheckResult> {
  return validator.assert<CheckResult>('check-result.schema.json', {
    suite: 'orders',
    status: 'fail',
    rows: 12345,
    seconds: 0.42,
    queries: 3,
    data: { label: 'orders.parquet', format: 'parquet', rows: 12345 },
    checks: [
      { check: 'row_count', index: 0, status: 'pass', observed: 12345, expected: 'between 1,000 and 5,000,000' },
      {
        check: 'unique',
        index: 1,
        column: 'id',
        status: 'fail',
        failing_rows: 1234,
        observed: 1234,
        expected: 'no repeated values',
        sample: {
          columns: [
            { name: 'id', type: 'BIGINT' },
            { name: 'created_at', type: 'TIMESTAMP WITH TIME ZONE' },
            { name: 'price', type: 'DECIMAL(18,2)' },
          ],
          rows: [
            ['9007199254740993', '2023-11-14T22:13:20.123456Z', '-12345.67'],
            ['9007199254740993', '1970-01-01T00:00:00Z', '0.05'],
            [-5, '1969-12-31T23:59:59.999999Z', null],
          ],
          arrow: await arrowSample(),
        },
      },
      {
        check: 'between',
        index: 2,
        column: 'age',
        status: 'fail',
        failing_rows: 2,
        observed: { min: -3, max: 150 },
        expected: 'between 0 and 120',
        sample: { columns: [{ name: 'age', type: 'INTEGER' }], rows: [[-3], [150]] },
        histogram: { edges: [-10, 0, 50, 100, 150, 200], counts: [1, 600, 390, 8, 1], nulls: 4, bounds: { min: 0, max: 120 } },
      },
      { check: 'columns', index: 3, status: 'error', observed: null, message: 'column "emial" does not exist' },
      { check: 'drift', index: 4, column: 'age', status: 'pass', observed: 0.031, method: 'psi', p_value: 0.5, expected: 'psi at most 0.2' },
    ],
  });
}

describe('CheckResultView', () => {
  it('summarises the suite and lists each check in suite order with status words, observed, expected and failing rows', async () => {
    const result = await checkResult();
    // Listed out of order, the checks still show in suite order (their index).
    await dom.render(<CheckResultView result={{ ...result, checks: [...result.checks].reverse() }} plotly={() => Promise.resolve(new RecordingPlotly())} arrow={arrowLoader} />);
    const view = dom.container.querySelector('.opsbook-CheckResultView')!;
    expect(view.querySelector('h2')?.textContent).toBe('orders✗failed');
    expect(view.querySelector('.opsbook-QualityView-facts')?.textContent).toContain('12,345 rows');
    expect(view.querySelector('.opsbook-CheckResultView-counts')?.textContent).toBe('2 passed, 2 failed, 1 error');
    const rows = Array.from(view.querySelectorAll('tr.opsbook-CheckResultView-check'));
    expect(rows.map((row) => row.getAttribute('data-check-index'))).toEqual(['0', '1', '2', '3', '4']);
    expect(rows.map((row) => row.querySelector('.opsbook-quality-status')?.textContent)).toEqual(['✓pass', '✗fail', '✗fail', '!error', '✓pass']);
    const cells = (row: Element): string[] => Array.from(row.querySelectorAll('td')).slice(1).map((td) => td.textContent ?? '');
    expect(cells(rows[1])).toEqual(['unique', 'id', '1,234', 'no repeated values', '1,234']);
    expect(cells(rows[2])).toEqual(['between', 'age', 'min -3, max 150', 'between 0 and 120', '2']);
    expect(cells(rows[3])).toEqual(['columns', '', 'column "emial" does not exist', '', '']);
    expect(cells(rows[4])).toEqual(['drift', 'age', 'psi 0.031 (p = 0.5)', 'psi at most 0.2', '']);
    // Only checks with rows or a histogram to show expand.
    expect(rows.map((row) => row.getAttribute('aria-expanded'))).toEqual([null, 'false', 'false', null, null]);
  });

  it('expands a failed check from the keyboard to its failing rows, decoded from Arrow with every digit kept', async () => {
    await dom.render(<CheckResultView result={await checkResult()} plotly={() => Promise.resolve(new RecordingPlotly())} arrow={arrowLoader} />);
    const row = dom.container.querySelector<HTMLElement>('tr[data-check-index="1"]')!;
    expect(row.tabIndex).toBe(0);
    row.focus();
    await act(async () => {
      row.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      for (let i = 0; i < 5; i++) await tick();
    });
    expect(row.getAttribute('aria-expanded')).toBe('true');
    const detail = document.getElementById(row.getAttribute('aria-controls')!)!;
    const grid = detail.querySelector('.opsbook-SampleGrid')!;
    expect(grid.getAttribute('data-source')).toBe('arrow');
    expect(grid.querySelector('caption')?.textContent).toBe('3 of 1,234 failing rows');
    expect(Array.from(grid.querySelectorAll('th')).map((th) => th.textContent)).toEqual(['idBIGINT', 'created_atTIMESTAMP WITH TIME ZONE', 'priceDECIMAL(18,2)']);
    const body = Array.from(grid.querySelectorAll(':scope > table > tbody > tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent));
    expect(body).toEqual([
      ['9007199254740993', '2023-11-14T22:13:20.123456Z', '-12345.67'],
      ['9007199254740993', '1970-01-01T00:00:00Z', '0.05'],
      ['-5', '1969-12-31T23:59:59.999999Z', '0.00'],
    ]);
    expect(String(Number(BIG_ID))).not.toBe(body[0][0]);

    await act(async () => {
      row.dispatchEvent(new KeyboardEvent('keydown', { key: ' ', bubbles: true }));
      await tick();
    });
    expect(row.getAttribute('aria-expanded')).toBe('false');
    expect(dom.container.querySelector('.opsbook-SampleGrid')).toBeNull();
  });

  it('shows the JSON rows of a sample without Arrow, and the histogram with the bounds as lines', async () => {
    const plotly = new RecordingPlotly();
    await dom.render(<CheckResultView result={await checkResult()} plotly={() => Promise.resolve(plotly)} arrow={arrowLoader} />);
    const row = dom.container.querySelector<HTMLElement>('tr[data-check-index="2"]')!;
    await act(async () => {
      row.click();
      for (let i = 0; i < 5; i++) await tick();
    });
    const grid = dom.container.querySelector('.opsbook-CheckResultView-detail .opsbook-SampleGrid')!;
    expect(grid.getAttribute('data-source')).toBe('rows');
    expect(Array.from(grid.querySelectorAll('td')).map((td) => [td.textContent, td.className])).toEqual([
      ['-3', 'opsbook-num'],
      ['150', 'opsbook-num'],
    ]);
    const [drawn] = plotly.drawnIn('.opsbook-QualityHistogram');
    expect(drawn.data).toHaveLength(1);
    expect(drawn.data[0].x).toEqual([-5, 25, 75, 125, 175]);
    expect(drawn.data[0].y).toEqual([1, 600, 390, 8, 1]);
    const shapes = drawn.layout.shapes as { x0: number; line: { dash: string } }[];
    expect(shapes.map((shape) => [shape.x0, shape.line.dash])).toEqual([
      [0, 'dash'],
      [120, 'dash'],
    ]);
    expect(dom.container.querySelector('.opsbook-QualityHistogram figcaption')?.textContent).toBe('4 nulls not drawn');
    expect(dom.container.querySelector('.opsbook-QualityHistogram [role="img"]')?.getAttribute('aria-label')).toBe('Histogram of age');
  });

  it('falls back to the JSON rows, saying why, when the Arrow stream does not decode', async () => {
    const result = await checkResult();
    const unique = result.checks[1];
    const broken: CheckResult = { ...result, checks: [{ ...unique, sample: { ...unique.sample!, arrow: Buffer.from('not arrow').toString('base64') } }] };
    await dom.render(<CheckResultView result={broken} arrow={arrowLoader} />);
    await act(async () => {
      dom.container.querySelector<HTMLElement>('tr[aria-expanded]')!.click();
      for (let i = 0; i < 5; i++) await tick();
    });
    const grid = dom.container.querySelector('.opsbook-SampleGrid')!;
    expect(grid.getAttribute('data-source')).toBe('rows');
    expect(grid.querySelector('caption')?.textContent).toContain('typed sample unreadable, shown from JSON');
    expect(grid.querySelector('tbody td')?.textContent).toBe('9007199254740993');
    expect(grid.querySelectorAll('.opsbook-null')).toHaveLength(1);
  });
});

const PROFILE: DataProfile = validator.assert<DataProfile>('data-profile.schema.json', {
  data: { label: 'events.parquet', rows: 2_000_000 },
  rows: 2_000_000,
  seconds: 1.25,
  distinct_exact: false,
  columns: [
    {
      name: 'user_id',
      type: 'BIGINT',
      kind: 'numeric',
      nulls: 0,
      null_fraction: 0,
      distinct: 1_234_567,
      distinct_exact: false,
      min: '-9223372036854775808',
      max: '9223372036854775807',
      mean: 12.5,
      stddev: 3.25,
      quantiles: { p50: 12, p05: 2, p99: 30, p01: 1 },
      histogram: { edges: [0, 10, 20, 30], counts: [5, 10, 2] },
    },
    {
      name: 'country',
      type: 'VARCHAR',
      kind: 'categorical',
      nulls: 246,
      null_fraction: 0.000123,
      distinct: 3,
      distinct_exact: true,
      top: [
        { value: 'DE', count: 1_200_000 },
        { value: null, count: 246 },
      ],
      histogram: { categories: ['DE', 'FR', '(other)'], counts: [1_200_000, 700_000, 99_754] },
    },
  ],
});

describe('ProfileView', () => {
  it('shows a card per column: type, kind, nulls, distinct (≈ when approximate), statistics, quantiles in order, top values, histogram', async () => {
    await dom.render(<ProfileView profile={PROFILE} />);
    const view = dom.container.querySelector('.opsbook-ProfileView')!;
    expect(view.querySelector('.opsbook-QualityView-facts')?.textContent).toContain('distinct values approximate (≈, HyperLogLog)');
    const user = view.querySelector('[data-column="user_id"]')!;
    expect(user.querySelector('h3')?.textContent).toBe('user_idBIGINTnumeric');
    expect(user.querySelector('.opsbook-ProfileView-distinct')?.textContent).toBe('≈ 1,234,567');
    expect(user.querySelector('.opsbook-ProfileView-distinct')?.getAttribute('title')).toBe('approximate (HyperLogLog)');
    expect(user.querySelector('.opsbook-ProfileView-min')?.textContent).toBe('-9223372036854775808');
    expect(user.querySelector('.opsbook-ProfileView-stddev')?.textContent).toBe('3.25');
    expect(user.querySelector('.opsbook-ProfileView-quantiles')?.textContent).toBe('p01 1 · p05 2 · p50 12 · p99 30');
    expect(user.querySelectorAll('svg.opsbook-MiniHistogram rect')).toHaveLength(3);
    const country = view.querySelector('[data-column="country"]')!;
    expect(country.querySelector('.opsbook-ProfileView-nulls')?.textContent).toBe('246 (0.01%)');
    expect(country.querySelector('.opsbook-ProfileView-distinct')?.textContent).toBe('3');
    expect(Array.from(country.querySelectorAll('.opsbook-ProfileView-top li')).map((li) => li.textContent)).toEqual(['DE1,200,000', 'null246']);
    expect(country.querySelector('svg.opsbook-MiniHistogram')?.getAttribute('aria-label')).toBe('Histogram of country, 3 bins');
  });
});

function columnDrift(column: string, severity: number, drifted: boolean): DriftReport['columns'][number] {
  return {
    column,
    type: 'DOUBLE',
    kind: 'numeric',
    drifted,
    severity,
    scores: [
      { method: 'psi', statistic: severity * 0.2, threshold: 0.2, drifted },
      { method: 'ks', statistic: severity * 0.05, p_value: drifted ? 0.0001 : 0.4, threshold: 0.1, drifted: false },
    ],
    histogram: { edges: [0, 1, 2], counts: [10, 30], reference_counts: [30, 10] },
  };
}

const DRIFT: DriftReport = validator.assert<DriftReport>('drift-report.schema.json', {
  data: { label: 'today', rows: 40 },
  reference: { label: 'last_week', rows: 40 },
  seconds: 0.2,
  drifted: 2,
  only_in_data: ['discount'],
  only_in_reference: ['legacy_flag', 'coupon'],
  columns: [columnDrift('age', 0.4, false), columnDrift('price', 3.5, true), columnDrift('income', 1.6, true), columnDrift('zip', 0.05, false)],
});

describe('DriftView', () => {
  it('ranks columns by severity, flags the drifted ones in words and overlays their histograms on the reference', async () => {
    expect(rankDrift(DRIFT.columns).map((c) => c.column)).toEqual(['price', 'income', 'age', 'zip']);
    const plotly = new RecordingPlotly();
    await dom.render(<DriftView report={DRIFT} plotly={() => Promise.resolve(plotly)} />);
    const view = dom.container.querySelector('.opsbook-DriftView')!;
    expect(view.querySelector('.opsbook-DriftView-summary')?.textContent).toBe('2 of 4 shared columns drifted');
    expect(view.querySelector('.opsbook-DriftView-onlyInData')?.textContent).toBe('Only in today: discount');
    expect(view.querySelector('.opsbook-DriftView-onlyInReference')?.textContent).toBe('Only in last_week: legacy_flag, coupon');
    const items = Array.from(view.querySelectorAll('li.opsbook-DriftView-column'));
    expect(items.map((li) => [li.getAttribute('data-column'), li.querySelector('.opsbook-quality-status')?.textContent])).toEqual([
      ['price', '✗drifted'],
      ['income', '✗drifted'],
      ['age', '✓stable'],
      ['zip', '✓stable'],
    ]);
    expect(Array.from(items[0].querySelectorAll('tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent))).toEqual([
      ['PSI', '0.7', '—', '0.2', 'over threshold'],
      ['KS D', '0.175', '< 0.001', '0.1', 'within'],
    ]);
    // Drifted columns draw their histograms at once, data over reference as shares of rows.
    const drawn = plotly.drawnIn('.opsbook-DriftView-column');
    expect(drawn.map((d) => d.element.closest('li')?.getAttribute('data-column'))).toEqual(['price', 'income']);
    expect(drawn[0].data.map((trace) => [trace.name, trace.y])).toEqual([
      ['today', [25, 75]],
      ['last_week', [75, 25]],
    ]);
    expect(drawn[0].layout.barmode).toBe('overlay');

    const toggle = items[2].querySelector<HTMLButtonElement>('.opsbook-DriftView-toggle')!;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    await act(async () => {
      toggle.click();
      await tick();
    });
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(plotly.drawnIn('[data-column="age"]')).toHaveLength(1);
  });
});

describe('QualityOutputView', () => {
  it('draws each kind of quality output with its view', async () => {
    const outputs: QualityOutput[] = [
      { kind: 'check', result: await checkResult() },
      { kind: 'profile', profile: PROFILE },
      { kind: 'drift', drift: DRIFT },
    ];
    const shown: string[] = [];
    for (const output of outputs) {
      expect(validator.check('quality-output.schema.json', output)).toBeNull();
      await dom.render(<QualityOutputView output={output} plotly={() => Promise.resolve(new RecordingPlotly())} arrow={arrowLoader} />);
      shown.push(dom.container.firstElementChild!.className);
    }
    expect(shown).toEqual([
      'opsbook-view opsbook-QualityView opsbook-CheckResultView',
      'opsbook-view opsbook-QualityView opsbook-ProfileView',
      'opsbook-view opsbook-QualityView opsbook-DriftView',
    ]);
  });
});

describe('exact values', () => {
  it('writes timestamps in ISO 8601 with every digit of their unit, before and after the epoch', () => {
    expect(timestampText(1_700_000_000_123_456n, 2, 'UTC')).toBe('2023-11-14T22:13:20.123456Z');
    expect(timestampText(-1n, 3, null)).toBe('1969-12-31T23:59:59.999999999');
    expect(timestampText(1_500n, 1, null)).toBe('1970-01-01T00:00:01.5');
  });

  it('writes decimals of any width exactly', () => {
    expect(decimalText(new Uint32Array([0xffed2979, 0xffffffff, 0xffffffff, 0xffffffff]), 2)).toBe('-12345.67');
    expect(decimalText(new Uint32Array([5, 0, 0, 0]), 4)).toBe('0.0005');
    expect(decimalText(new Uint32Array([0xffffffff, 0xffffffff, 0xffffffff, 0x7fffffff]), 0)).toBe('170141183460469231731687303715884105727');
  });
});
