/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import type { MetricHistory, Run, RunDetail as RunDetailData } from '@opsbook/schema';
import { MetricChart, RunCard, RunDetail, RunList, type PlotlyApi } from './index';
import { useTestRoot } from './testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const NOW = Date.parse('2025-06-01T12:00:00Z');

function makeRun(overrides: Partial<Run>): Run {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    experiment_id: 'e1',
    experiment: 'quickstart',
    name: 'sgd',
    status: 'finished',
    start_time: '2025-06-01T11:58:00Z',
    end_time: '2025-06-01T11:58:12Z',
    duration_ms: 12_000,
    source_type: 'cell',
    metrics_latest: { val_accuracy: 0.9561, train_loss: 0.1234, epoch: 29 },
    ...overrides,
  };
}

/** Records what the chart asked plotly to draw; jsdom has no SVG layout for real plotly. */
class RecordingPlotly implements PlotlyApi {
  readonly drawn: { element: HTMLElement; data: object[]; layout: object }[] = [];
  purged = 0;
  react(element: HTMLElement, data: object[], layout: object): Promise<unknown> {
    this.drawn.push({ element, data, layout });
    return Promise.resolve(element);
  }
  purge(): void {
    this.purged += 1;
  }
  Plots = { resize: (): void => undefined };
}

const dom = useTestRoot();
const { render } = dom;

describe('RunList', () => {
  const runs = [
    makeRun({}),
    makeRun({
      id: '22222222-2222-4222-8222-222222222222',
      name: 'gb',
      status: 'running',
      start_time: '2025-06-01T11:59:30Z',
      end_time: null,
      duration_ms: null,
      metrics_latest: {},
    }),
    makeRun({ id: '33333333-3333-4333-8333-333333333333', experiment: 'baseline', name: 'dummy', status: 'failed', start_time: '2025-05-31T12:00:00Z' }),
  ];

  it('groups runs by experiment with status text, times and latest metrics', async () => {
    await render(<RunList runs={runs} onOpenRun={() => undefined} now={NOW} />);
    const headings = Array.from(dom.container.querySelectorAll('h3')).map((h) => h.textContent);
    expect(headings).toEqual(['quickstart2 runs', 'baseline1 run']);
    const rows = Array.from(dom.container.querySelectorAll('button.opsbook-RunList-run'));
    expect(rows.map((r) => r.querySelector('.opsbook-RunList-name')?.textContent)).toEqual(['gb', 'sgd', 'dummy']);
    expect(rows[0].textContent).toContain('Running');
    expect(rows[0].textContent).toContain('30 s ago');
    expect(rows[0].textContent).toContain('30.0 s');
    expect(rows[1].textContent).toContain('Finished');
    expect(rows[1].textContent).toContain('12.0 s');
    expect(rows[1].textContent).toContain('val_accuracy 0.9561');
    expect(rows[2].querySelector('.opsbook-badge-failed')?.textContent).toBe('Failed');
  });

  it('opens a run on click, and each run is a focusable button (Enter activates buttons natively)', async () => {
    const opened: string[] = [];
    await render(<RunList runs={runs} onOpenRun={(run) => opened.push(run.name)} now={NOW} selectedRunId={runs[0].id} />);
    const rows = Array.from(dom.container.querySelectorAll<HTMLButtonElement>('button.opsbook-RunList-run'));
    expect(rows.every((r) => r.type === 'button' && r.tabIndex === 0)).toBe(true);
    rows[1].focus();
    expect(document.activeElement).toBe(rows[1]);
    act(() => rows[1].click());
    expect(opened).toEqual(['sgd']);
    expect(rows[1].getAttribute('aria-current')).toBe('true');
  });

  it('injects its stylesheet once', async () => {
    await render(<RunList runs={runs} onOpenRun={() => undefined} now={NOW} />);
    await render(<RunList runs={runs.slice(1)} onOpenRun={() => undefined} now={NOW} />);
    expect(document.querySelectorAll('#opsbook-view-styles')).toHaveLength(1);
  });
});

describe('RunDetail', () => {
  const detail: RunDetailData = {
    run: makeRun({}),
    params: [
      { key: 'loss', value: 'log_loss' },
      { key: 'alpha', value: '0.0001' },
    ],
    metrics: [
      { key: 'val_accuracy', count: 3, last: 0.95, min: 0.9, max: 0.96, last_step: 2 },
      { key: 'train_loss', count: 3, last: 0.12, min: 0.12, max: 0.5, last_step: 2 },
    ],
    tags: {},
    source: { type: 'cell', code: '%%track --experiment quickstart\nmodel.fit(X, y)' },
    parent_run_id: null,
    child_count: 0,
  };
  const history: MetricHistory = {
    run_id: detail.run.id,
    series: [
      { key: 'val_accuracy', count: 3, steps: [0, 1, 2], values: [0.9, 0.96, 0.95] },
      { key: 'train_loss', count: 3, steps: [0, 1, 2], values: [0.5, 0.2, 0.12] },
    ],
  };

  it('shows header, params sorted by name, metric summaries and the source', async () => {
    const plotly = new RecordingPlotly();
    await render(<RunDetail detail={detail} history={history} now={NOW} plotly={() => Promise.resolve(plotly)} />);
    expect(dom.container.querySelector('h2')?.textContent).toBe('sgdFinished');
    const paramRows = Array.from(dom.container.querySelectorAll('.opsbook-RunDetail-params tbody tr')).map((tr) => tr.textContent);
    expect(paramRows).toEqual(['alpha0.0001', 'losslog_loss']);
    expect(dom.container.querySelector('.opsbook-RunDetail-metrics tbody')?.textContent).toContain('val_accuracy0.950.90.963');
    expect(dom.container.querySelector('pre code')?.textContent).toContain('model.fit(X, y)');
  });

  it('draws one chart per metric series, with the series data and themed colours', async () => {
    const plotly = new RecordingPlotly();
    const hostTheme = document.createElement('style');
    hostTheme.textContent = '.opsbook-MetricChart-plot { --opsbook-chart-line: rgb(1, 2, 3); color: rgb(200, 200, 200); }';
    document.head.appendChild(hostTheme);
    await render(<RunDetail detail={detail} history={history} now={NOW} plotly={() => Promise.resolve(plotly)} />);
    expect(plotly.drawn).toHaveLength(2);
    const byTitle = Object.fromEntries(
      plotly.drawn.map((d) => [(d.layout as { title: { text: string } }).title.text, d]),
    );
    const trace = byTitle.val_accuracy.data[0] as { x: number[]; y: number[]; line: { color: string } };
    expect(trace.x).toEqual([0, 1, 2]);
    expect(trace.y).toEqual([0.9, 0.96, 0.95]);
    expect(trace.line.color).toBe('rgb(1, 2, 3)');
    expect((byTitle.train_loss.layout as { font: { color: string } }).font.color).toBe('rgb(200, 200, 200)');
    hostTheme.remove();
  });

  it('says charts are loading until the history arrives, and shows a failure', async () => {
    const failed: RunDetailData = {
      ...detail,
      run: makeRun({ status: 'failed' }),
      source: { type: 'cell', code: 'x', error: 'ValueError: bad input' },
    };
    await render(<RunDetail detail={failed} now={NOW} plotly={() => Promise.resolve(new RecordingPlotly())} />);
    expect(dom.container.textContent).toContain('Loading charts…');
    expect(dom.container.textContent).toContain('ValueError: bad input');
    expect(dom.container.querySelector('.opsbook-badge-failed')).not.toBeNull();
  });
});

describe('MetricChart', () => {
  it('redraws when the host switches theme and purges plotly on unmount', async () => {
    const plotly = new RecordingPlotly();
    await render(<MetricChart metricKey="loss" steps={[0, 1]} values={[1, 0.5]} plotly={() => Promise.resolve(plotly)} />);
    expect(plotly.drawn).toHaveLength(1);
    await act(async () => {
      document.body.setAttribute('data-jp-theme-light', 'false');
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
    expect(plotly.drawn).toHaveLength(2);
    dom.unmount();
    expect(plotly.purged).toBe(1);
  });

  it('shows why a chart is missing when plotly fails to load', async () => {
    await render(<MetricChart metricKey="loss" steps={[0]} values={[1]} plotly={() => Promise.reject(new Error('offline'))} />);
    expect(dom.container.textContent).toContain('Chart unavailable: offline');
  });
});

describe('RunCard', () => {
  it('summarises a tracked cell and opens the run from its button', async () => {
    const opened: string[] = [];
    await render(
      <RunCard
        output={{
          run_id: '11111111-1111-4111-8111-111111111111',
          experiment: 'quickstart',
          name: 'sgd',
          status: 'finished',
          duration_ms: 1234,
          params: { alpha: '0.0001' },
          metrics: { val_accuracy: 0.95 },
        }}
        onOpenRun={(id) => opened.push(id)}
      />,
    );
    expect(dom.container.textContent).toContain('quickstart /sgdFinished1.2 s');
    expect(dom.container.textContent).toContain('val_accuracy 0.95');
    expect(dom.container.textContent).toContain('1 param');
    act(() => dom.container.querySelector('button')!.click());
    expect(opened).toEqual(['11111111-1111-4111-8111-111111111111']);
  });
});
