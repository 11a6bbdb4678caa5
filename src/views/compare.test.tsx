/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import type { ComparedRun, MetricSeries, RunComparison } from '@opsbook/schema';
import { bestIndex, defaultDirection, differingParamKeys, paramAxis, smoothEma } from './compareData';
import {
  CompareView,
  OverlayChart,
  overlayFigure,
  parallelCoordinatesFigure,
  ParallelCoordinates,
  SweepView,
  type PlotlyApi,
  type SweepRun,
} from './index';
import type { FigureTheme } from './usePlotlyChart';
import { useTestRoot } from './testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** Records what a chart asked plotly to draw; jsdom has no SVG layout (nor WebGL) for real plotly. */
class RecordingPlotly implements PlotlyApi {
  readonly drawn: { element: HTMLElement; data: object[]; layout: object }[] = [];
  react(element: HTMLElement, data: object[], layout: object): Promise<unknown> {
    this.drawn.push({ element, data, layout });
    return Promise.resolve(element);
  }
  purge(): void {}
  Plots = { resize: (): void => undefined };
  get last(): { data: Record<string, unknown>[]; layout: Record<string, unknown> } {
    const d = this.drawn[this.drawn.length - 1];
    return { data: d.data as Record<string, unknown>[], layout: d.layout as Record<string, unknown> };
  }
}

const THEME: FigureTheme = { font: '#111', fontFamily: 'sans-serif', line: '#00f', grid: '#ccc', series: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'] };

const dom = useTestRoot(() => new Promise((resolve) => setTimeout(resolve, 0)));
const { render } = dom;

async function settle(): Promise<void> {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}

function uuid(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

function comparedRun(i: number, params: Record<string, string>, metrics: Record<string, [number, number, number]>): ComparedRun {
  return {
    id: uuid(i),
    name: `run-${i}`,
    experiment: 'sweep',
    status: 'finished',
    start_time: '2025-06-01T11:58:00Z',
    duration_ms: 1000,
    params,
    metrics: Object.fromEntries(Object.entries(metrics).map(([key, [last, min, max]]) => [key, { last, min, max, count: 3 }])),
  };
}

function comparisonOf(runs: ComparedRun[]): RunComparison {
  const paramKeys = [...new Set(runs.flatMap((run) => Object.keys(run.params)))].sort();
  return {
    runs,
    param_keys: paramKeys,
    metric_keys: [...new Set(runs.flatMap((run) => Object.keys(run.metrics)))].sort(),
    differing_params: differingParamKeys(runs),
  };
}

describe('comparison helpers', () => {
  it('knows which way a metric improves', () => {
    expect(['val_loss', 'rmse', 'Error_rate', 'logloss', 'mae'].map(defaultDirection)).toEqual(['lower', 'lower', 'lower', 'lower', 'lower']);
    expect(['accuracy', 'f1', 'auc'].map(defaultDirection)).toEqual(['higher', 'higher', 'higher']);
  });

  it('finds the best finite value, ties to the first', () => {
    expect(bestIndex([0.3, null, 0.1, 0.1, Number.NaN], 'lower')).toBe(2);
    expect(bestIndex([0.3, undefined, 0.9, 0.9], 'higher')).toBe(2);
    expect(bestIndex([null, undefined], 'higher')).toBe(-1);
  });

  it('smooths with a debiased EMA that keeps gaps and leaves weight 0 alone', () => {
    expect(smoothEma([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const smoothed = smoothEma([10, null, 10, 0], 0.5);
    expect(smoothed[0]).toBeCloseTo(10);
    expect(smoothed[1]).toBeNull();
    expect(smoothed[2]).toBeCloseTo(10);
    // (0.5*(0.5*5+5)... debiased): 0 pulls the average down but not to 0.
    expect(smoothed[3]).toBeGreaterThan(3);
    expect(smoothed[3]).toBeLessThan(10);
  });

  it('draws numeric params on a numeric axis and the rest as natural-order categories', () => {
    const rows: { params: Record<string, string> }[] = [{ params: { lr: '0.1', opt: 'sgd', n: '10' } }, { params: { lr: '1e-3', opt: 'adam', n: '2' } }, { params: { lr: '0.01' } }];
    // Two decades or more of positive values: a log scale.
    expect(paramAxis('lr', rows)).toEqual({ kind: 'numeric', key: 'lr', values: [0.1, 0.001, 0.01], log: true });
    expect(paramAxis('opt', rows)).toEqual({ kind: 'categorical', key: 'opt', categories: ['(none)', 'adam', 'sgd'], values: [2, 1, 0] });
    expect(paramAxis('n', rows)).toEqual({ kind: 'numeric', key: 'n', values: [10, 2, null], log: false });
    expect(differingParamKeys([{ params: { a: '1', b: '2' } }, { params: { a: '1', b: '3' } }, { params: { a: '1' } }])).toEqual(['b']);
    expect(differingParamKeys([{ params: { a: '1' } }, { params: { a: '1', toString: 'x' } }])).toEqual(['toString']);
  });
});

describe('OverlayChart', () => {
  const series = [
    { runId: 'a', name: 'run <a>', steps: [0, 1, 2], values: [1, 0.5, 0.25], times: [1000, 2000, 4000], count: 3 },
    { runId: 'b', name: 'run b', steps: [0, 1], values: [2, 1], times: [5000, 5500], count: 10 },
  ];

  it('overlays one line per run coloured from the palette, with a legend of escaped run names', () => {
    const figure = overlayFigure('loss', series, { smoothing: 0, logY: false, xAxis: 'step' }, THEME)!;
    const traces = figure.data as { name: string; x: number[]; line: { color: string } }[];
    expect(traces.map((t) => [t.name, t.line.color])).toEqual([
      ['run &lt;a&gt;', 'c0'],
      ['run b', 'c1'],
    ]);
    expect((figure.layout as { showlegend: boolean }).showlegend).toBe(true);
  });

  it('keeps the raw line faint under the smoothed one, and switches scale and x axis', () => {
    const figure = overlayFigure('loss', series, { smoothing: 0.6, logY: true, xAxis: 'relative' }, THEME)!;
    const traces = figure.data as { x: number[]; y: number[]; opacity?: number; showlegend?: boolean }[];
    expect(traces).toHaveLength(4);
    expect(traces[0]).toMatchObject({ opacity: 0.25, showlegend: false, y: [1, 0.5, 0.25] });
    expect(traces[1].y).toEqual(smoothEma([1, 0.5, 0.25], 0.6));
    expect(traces[1].x).toEqual([0, 1, 3]);
    const layout = figure.layout as { yaxis: { type: string }; xaxis: { title: { text: string } } };
    expect(layout.yaxis.type).toBe('log');
    expect(layout.xaxis.title.text).toBe('relative time (s)');
    const wall = overlayFigure('loss', series, { smoothing: 0, logY: false, xAxis: 'wall' }, THEME)!;
    expect((wall.layout as { xaxis: { type: string } }).xaxis.type).toBe('date');
    expect((wall.data[0] as { x: number[] }).x).toEqual([1000, 2000, 4000]);
  });

  it('redraws on picker, slider and checkbox changes and says how many points were recorded', async () => {
    const plotly = new RecordingPlotly();
    const picked: string[] = [];
    await render(
      <OverlayChart metricKeys={['acc', 'loss']} metricKey="loss" onMetricKeyChange={(k) => picked.push(k)} series={series} plotly={() => Promise.resolve(plotly)} />,
    );
    expect(plotly.drawn).toHaveLength(1);
    expect(dom.container.textContent).toContain('5 of 13 points shown');
    const [metric, xAxis] = Array.from(dom.container.querySelectorAll('select'));
    await act(async () => {
      metric.value = 'acc';
      metric.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(picked).toEqual(['acc']);
    const log = dom.container.querySelector<HTMLInputElement>('input[type=checkbox]')!;
    await act(async () => log.click());
    await settle();
    expect((plotly.last.layout.yaxis as { type: string }).type).toBe('log');
    await act(async () => {
      xAxis.value = 'wall';
      xAxis.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await settle();
    expect((plotly.last.layout.xaxis as { type: string }).type).toBe('date');
  });
});

describe('ParallelCoordinates', () => {
  const runs = [
    { id: '1', name: 'a', params: { lr: '0.1', opt: 'sgd', seed: '1' }, metrics: { val_loss: 0.5 } },
    { id: '2', name: 'b', params: { lr: '0.01', opt: 'adam', seed: '1' }, metrics: { val_loss: 0.2 } },
    { id: '3', name: 'c', params: { lr: '0.001', opt: 'adam', seed: '1' }, metrics: { val_loss: 0.3 } },
    { id: '4', name: 'd', params: { lr: '0.001', opt: 'adam', seed: '1' }, metrics: {} },
  ];

  it('builds numeric and categorical axes with the metric last, best runs bright', () => {
    const figure = parallelCoordinatesFigure(runs, ['lr', 'opt'], 'val_loss', 'lower', THEME)!;
    const trace = figure.data[0] as {
      type: string;
      dimensions: { label: string; values: number[]; tickvals?: number[]; ticktext?: string[] }[];
      line: { color: number[]; reversescale: boolean };
    };
    expect(trace.type).toBe('parcoords');
    expect(trace.dimensions.map((d) => d.label)).toEqual(['lr (log)', 'opt', 'val_loss']);
    expect(trace.dimensions[0].values.map((v) => Math.round(v))).toEqual([-1, -2, -3]);
    expect(trace.dimensions[0]).toMatchObject({ tickvals: [-3, -2, -1], ticktext: ['0.001', '0.01', '0.1'] });
    expect(trace.dimensions[1]).toMatchObject({ values: [1, 0, 0], tickvals: [0, 1], ticktext: ['adam', 'sgd'] });
    expect(trace.line).toMatchObject({ color: [0.5, 0.2, 0.3], reversescale: true });
  });

  it('draws the differing params by default and says which runs were left out', async () => {
    const plotly = new RecordingPlotly();
    await render(<ParallelCoordinates runs={runs} metricKey="val_loss" plotly={() => Promise.resolve(plotly)} />);
    const dims = (plotly.last.data[0] as { dimensions: { label: string }[] }).dimensions.map((d) => d.label);
    expect(dims).toEqual(['lr (log)', 'opt', 'val_loss']);
    expect(dom.container.textContent).toContain('1 of 4 runs lack val_loss');
  });
});

describe('CompareView', () => {
  const three = comparisonOf([
    comparedRun(1, { lr: '0.1', epochs: '10', opt: 'sgd' }, { val_loss: [0.3, 0.25, 0.9], accuracy: [0.8, 0.5, 0.85] }),
    comparedRun(2, { lr: '0.01', epochs: '10', opt: 'sgd' }, { val_loss: [0.2, 0.2, 0.8], accuracy: [0.9, 0.4, 0.91] }),
    comparedRun(3, { lr: '0.001', epochs: '10', opt: 'adam' }, { val_loss: [0.4, 0.35, 1.0], accuracy: [0.7, 0.3, 0.75] }),
  ]);

  const paramRows = (): string[] => Array.from(dom.container.querySelectorAll('tbody.opsbook-CompareView-params tr[data-param]')).map((tr) => tr.getAttribute('data-param')!);
  const bestCells = (): string[] =>
    Array.from(dom.container.querySelectorAll('td.opsbook-best')).map(
      (td) => `${td.closest('tr')!.getAttribute('data-metric')}.${td.closest('tr')!.getAttribute('data-stat')}=${td.getAttribute('data-run-id')!.slice(-1)}`,
    );

  it('shows params side by side and keeps only the differing ones on request', async () => {
    await render(<CompareView comparison={three} />);
    expect(paramRows()).toEqual(['epochs', 'lr', 'opt']);
    const row = dom.container.querySelector('tr[data-param="lr"]')!;
    expect(Array.from(row.querySelectorAll('td')).map((td) => td.textContent)).toEqual(['0.1', '0.01', '0.001']);
    const toggle = Array.from(dom.container.querySelectorAll('label')).find((l) => l.textContent === 'Only differences')!.querySelector('input')!;
    await act(async () => toggle.click());
    expect(paramRows()).toEqual(['lr', 'opt']);
    await render(<CompareView comparison={three} key="again" initialOnlyDifferences />);
    expect(paramRows()).toEqual(['lr', 'opt']);
  });

  it('highlights the best last value and extreme of each metric, and flips direction on request', async () => {
    await render(<CompareView comparison={three} />);
    expect(bestCells().sort()).toEqual(['accuracy.last=2', 'accuracy.max=2', 'val_loss.last=2', 'val_loss.min=2']);
    const flip = dom.container.querySelector<HTMLButtonElement>('tr[data-metric="val_loss"][data-stat="last"] button.opsbook-direction')!;
    expect(flip.textContent).toBe('↓');
    await act(async () => flip.click());
    expect(bestCells().sort()).toEqual(['accuracy.last=2', 'accuracy.max=2', 'val_loss.last=3', 'val_loss.max=3']);
  });

  it('charts the selected runs’ metric read through the loader', async () => {
    const plotly = new RecordingPlotly();
    const asked: string[] = [];
    const loadSeries = (ids: readonly string[], key: string, x: 'step' | 'time'): Promise<MetricSeries> => {
      asked.push(`${key}:${x}:${ids.length}`);
      return Promise.resolve({ key, x, series: ids.map((id, i) => ({ run_id: id, count: 2, steps: [0, 1], values: [i, i + 1] })) });
    };
    await render(<CompareView comparison={three} loadSeries={loadSeries} plotly={() => Promise.resolve(plotly)} />);
    await settle();
    expect(asked).toEqual(['accuracy:step:3']);
    expect((plotly.last.data as { name: string }[]).map((t) => t.name)).toEqual(['run-1', 'run-2', 'run-3']);
    const chartBoxes = Array.from(dom.container.querySelectorAll<HTMLInputElement>('thead input[type=checkbox]'));
    await act(async () => chartBoxes[1].click());
    await settle();
    expect(asked[asked.length - 1]).toBe('accuracy:step:2');
  });

  it('renders 500 runs as a window of columns and moves the window on scroll', async () => {
    const runs = Array.from({ length: 500 }, (_, i) =>
      comparedRun(
        i,
        Object.fromEntries(Array.from({ length: 30 }, (_, p) => [`p${p}`, String(p % 3 === 0 ? 1 : i * p)])),
        Object.fromEntries(Array.from({ length: 10 }, (_, m) => [`m${m}_loss`, [i / (m + 1), i / (m + 2), i]])),
      ),
    );
    const comparison = comparisonOf(runs);
    const started = performance.now();
    await render(<CompareView comparison={comparison} />);
    const elapsed = performance.now() - started;
    process.stdout.write(`CompareView: 500 runs x 30 params x 10 metrics rendered in ${elapsed.toFixed(0)} ms\n`);
    const headers = dom.container.querySelectorAll('thead th[data-run-id]');
    expect(headers.length).toBeGreaterThan(0);
    expect(headers.length).toBeLessThan(20);
    expect(dom.container.textContent).toContain('Comparing 500 runs');
    // The best of every metric is found over all 500 runs, even off screen: m0_loss is lowest in run 0.
    expect(dom.container.querySelector('tr[data-metric="m0_loss"][data-stat="last"] td.opsbook-best')?.getAttribute('data-run-id')).toBe(uuid(0));
    const grid = dom.container.querySelector<HTMLDivElement>('.opsbook-CompareView-grid')!;
    await act(async () => {
      grid.scrollLeft = 300 * 160;
      grid.dispatchEvent(new Event('scroll'));
    });
    const visible = Array.from(dom.container.querySelectorAll('thead th[data-run-id]')).map((th) => th.getAttribute('data-run-id'));
    expect(visible).toContain(uuid(300));
    expect(visible).not.toContain(uuid(0));
  });
});

describe('SweepView', () => {
  const parent: SweepRun = { id: uuid(100), name: 'sweep', status: 'finished' };
  const children: SweepRun[] = [0.1, 0.01, 0.001, 0.0001].map((lr, i) => ({
    id: uuid(i),
    name: `trial-${i}`,
    status: 'finished',
    params: { lr: String(lr), depth: String(2 + (i % 2)), seed: '0' },
    metrics_latest: { val_accuracy: [0.7, 0.9, 0.85, 0.6][i], epoch: 5 },
  }));

  it('lists the children sortable by the chosen metric with the best highlighted, and draws both param charts', async () => {
    const plotly = new RecordingPlotly();
    await render(<SweepView parent={parent} children={children} plotly={() => Promise.resolve(plotly)} />);
    const names = (): string[] => Array.from(dom.container.querySelectorAll('tbody tr')).map((tr) => tr.querySelector('td')!.textContent!);
    // Higher is better for accuracy: best first.
    expect(names()).toEqual(['trial-1', 'trial-2', 'trial-0', 'trial-3']);
    expect(dom.container.querySelector('td.opsbook-best')?.closest('tr')?.getAttribute('data-run-id')).toBe(uuid(1));
    const headers = Array.from(dom.container.querySelectorAll('thead th')).map((th) => th.textContent);
    expect(headers).toEqual(['Run', 'Status', 'depth', 'lr', 'val_accuracy ▼']);
    const lrHeader = Array.from(dom.container.querySelectorAll<HTMLButtonElement>('thead th button')).find((b) => b.textContent === 'lr')!;
    await act(async () => lrHeader.click());
    expect(names()).toEqual(['trial-3', 'trial-2', 'trial-1', 'trial-0']);
    const types = plotly.drawn.map((d) => (d.data[0] as { type: string }).type).sort();
    expect(types).toEqual(['parcoords', 'scatter']);
  });

  it('says so when the run has no children', async () => {
    await render(<SweepView parent={parent} children={[]} plotly={() => Promise.resolve(new RecordingPlotly())} />);
    expect(dom.container.textContent).toContain('This run has no child runs yet.');
  });
});
