/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import { SchemaValidator, type Explanation } from '@opsbook/schema';
import { ExplanationView, type PlotlyApi } from '../index';
import { useTestRoot } from '../testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** Records what a chart asked plotly to draw; jsdom has no SVG layout for real plotly. */
class RecordingPlotly implements PlotlyApi {
  readonly drawn: { element: HTMLElement; data: Record<string, unknown>[]; layout: Record<string, unknown> }[] = [];
  react(element: HTMLElement, data: object[], layout: object): Promise<unknown> {
    this.drawn.push({ element, data: data as Record<string, unknown>[], layout: layout as Record<string, unknown> });
    return Promise.resolve(element);
  }
  purge(): void {}
  Plots = { resize: (): void => undefined };
  last(): RecordingPlotly['drawn'][number] {
    return this.drawn[this.drawn.length - 1];
  }
}

const validator = new SchemaValidator();
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
const dom = useTestRoot(async () => {
  for (let i = 0; i < 5; i++) await tick();
});

/** Twenty rows of a three-feature model, rows 100..119 of the data, as the daemon would answer. */
function shapExplanation(): Explanation {
  const features = Array.from({ length: 20 }, (_, r) => [r, (r * 7) % 5, r % 2 === 0 ? null : r / 10]);
  const values = features.map(([a, b], r) => [0.5 * (a! - 9.5), 0.2 * (b! - 2), r % 3 === 0 ? -0.1 : 0.05]);
  return validator.assert<Explanation>('explanation.schema.json', {
    method: 'tree',
    tree_mode: 'interventional',
    model: { ref: 'churn@prod', path: '/w/model.onnx', name: 'churn', version: 3, kind: 'tree_regressor' },
    output: { name: 'variable', index: 0, transform: 'NONE' },
    feature_names: ['age', 'plan', 'ratio'],
    rows: features.map((_, r) => 100 + r),
    features,
    values,
    base_values: features.map(() => 1.5),
    predictions: values.map((v) => 1.5 + v[0] + v[1] + v[2]),
    background_rows: 200,
    seconds: 0.25,
    data: { label: 'customers', format: 'parquet', rows: 500 },
  });
}

async function press(element: Element, key: string): Promise<void> {
  await act(async () => {
    element.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    for (let i = 0; i < 5; i++) await tick();
  });
}

async function choose(select: HTMLSelectElement, value: string): Promise<void> {
  await act(async () => {
    select.value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
    for (let i = 0; i < 5; i++) await tick();
  });
}

describe('ExplanationView', () => {
  it('opens on the beeswarm of many rows, with its accessible name, summary and facts', async () => {
    const plotly = new RecordingPlotly();
    await dom.render(<ExplanationView explanation={shapExplanation()} plotly={() => Promise.resolve(plotly)} />);
    const view = dom.container.querySelector('.opsbook-ExplanationView')!;
    expect(view.querySelector('h2')?.textContent).toBe('TreeSHAP of churn v3variable');
    expect(view.querySelector('.opsbook-ExplanationView-facts')?.textContent).toContain('20 rows × 3 features');
    expect(view.querySelector('.opsbook-ExplanationView-facts')?.textContent).toContain('200 background rows');
    const tabs = Array.from(view.querySelectorAll('[role="tab"]'));
    expect(tabs.map((tab) => tab.textContent)).toEqual(['Beeswarm', 'Mean |value|', 'Dependence', 'Waterfall', 'Force']);
    expect(tabs.map((tab) => tab.getAttribute('aria-selected'))).toEqual(['true', 'false', 'false', 'false', 'false']);
    const plot = view.querySelector('[data-chart="beeswarm"] [role="img"]')!;
    expect(plot.getAttribute('aria-label')).toMatch(/^Beeswarm of SHAP values/);
    expect(document.getElementById(plot.getAttribute('aria-describedby')!)?.textContent).toMatch(/^20 rows × 3 features\. Strongest: age/);
    const drawn = plotly.last();
    expect(drawn.element).toBe(plot);
    // Every point drawn: ratio's ten nulls grey in the second trace.
    expect((drawn.data[0].x as number[]).length + (drawn.data[1].x as number[]).length).toBe(60);
    expect((drawn.data[1].x as number[]).length).toBe(10);
    // No row picker for charts of every row.
    expect(view.querySelector('.opsbook-ExplanationView-rowPicker')).toBeNull();
  });

  it('moves between views with the arrow keys and picks the row of the waterfall', async () => {
    const plotly = new RecordingPlotly();
    const picked: number[] = [];
    await dom.render(<ExplanationView explanation={shapExplanation()} plotly={() => Promise.resolve(plotly)} onRowChange={(row) => picked.push(row)} />);
    const first = dom.container.querySelector<HTMLButtonElement>('[role="tab"][data-tab="beeswarm"]')!;
    first.focus();
    await press(first, 'ArrowRight');
    const bar = dom.container.querySelector<HTMLButtonElement>('[data-tab="bar"]')!;
    expect(bar.getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(bar);
    expect(dom.container.querySelector('[data-chart="bar"]')).not.toBeNull();
    await press(bar, 'End');
    expect(dom.container.querySelector('[data-tab="force"]')?.getAttribute('aria-selected')).toBe('true');
    await press(document.activeElement!, 'ArrowLeft');
    expect(dom.container.querySelector('[data-tab="waterfall"]')?.getAttribute('aria-selected')).toBe('true');

    const select = dom.container.querySelector<HTMLSelectElement>('.opsbook-ExplanationView-rowPicker select')!;
    expect(select.options[3].textContent).toBe('row 103');
    await choose(select, '3');
    expect(picked).toEqual([3]);
    const plot = dom.container.querySelector('[data-chart="waterfall"] [role="img"]')!;
    expect(plot.getAttribute('aria-label')).toMatch(/^Waterfall of row 103/);
    const trace = plotly.last().data[0] as { type: string; y: string[]; x: number[] };
    expect(trace.type).toBe('waterfall');
    expect(trace.y).toEqual(['base value', 'ratio = 0.3', 'plan = 1', 'age = 3', 'prediction']);
    expect(trace.x[0]).toBe(1.5);
    expect(dom.container.querySelector('.opsbook-ExplanationView-rowPicker')?.textContent).toContain(`prediction ${Number((1.5 - 3.25 - 0.2 - 0.1).toPrecision(4))}`);

    const next = dom.container.querySelector<HTMLButtonElement>('button[aria-label="Next row"]')!;
    await act(async () => {
      next.click();
      for (let i = 0; i < 5; i++) await tick();
    });
    expect(select.value).toBe('4');
    expect(plot.getAttribute('aria-label')).toMatch(/^Waterfall of row 104/);
  });

  it('starts on the waterfall of the row it is given, and draws the force plot of that row', async () => {
    const plotly = new RecordingPlotly();
    await dom.render(<ExplanationView explanation={shapExplanation()} row={5} plotly={() => Promise.resolve(plotly)} />);
    expect(dom.container.querySelector('[data-tab="waterfall"]')?.getAttribute('aria-selected')).toBe('true');
    expect(dom.container.querySelector<HTMLSelectElement>('.opsbook-ExplanationView-rowPicker select')?.value).toBe('5');
    const force = dom.container.querySelector<HTMLButtonElement>('[data-tab="force"]')!;
    await act(async () => {
      force.click();
      for (let i = 0; i < 5; i++) await tick();
    });
    const summary = dom.container.querySelector('[data-chart="force"] figcaption')?.textContent;
    expect(summary).toMatch(/^Prediction -?[\d.]+ against a base value of 1\.5: pushed higher by .*; pushed lower by age = 5/);
  });

  it('colours the dependence plot by the strongest interaction, and by the feature the user picks', async () => {
    const plotly = new RecordingPlotly();
    await dom.render(<ExplanationView explanation={shapExplanation()} plotly={() => Promise.resolve(plotly)} />);
    await act(async () => {
      dom.container.querySelector<HTMLButtonElement>('[data-tab="dependence"]')!.click();
      for (let i = 0; i < 5; i++) await tick();
    });
    const [feature, colour] = Array.from(dom.container.querySelectorAll<HTMLSelectElement>('.opsbook-ExplanationView-pickers select'));
    expect(feature.value).toBe('0');
    expect(colour.options[0].textContent).toMatch(/^strongest interaction \((plan|ratio)\)$/);
    await choose(colour, '1');
    expect(dom.container.querySelector('[data-chart="dependence"] [role="img"]')?.getAttribute('aria-label')).toBe(
      'Dependence plot of age: its SHAP value against its value, coloured by plan',
    );
    expect((plotly.last().data[0].x as number[]).length).toBe(20);
    await choose(feature, '2');
    // ratio's own nulls are left out, and said so.
    expect(dom.container.querySelector('[data-chart="dependence"] figcaption')?.textContent).toContain('10 rows with no value left out');
  });

  it('shows LIME weight bars with the local fit for a lime explanation of one row, and no row picker', async () => {
    const plotly = new RecordingPlotly();
    const base = shapExplanation();
    const lime = validator.assert<Explanation>('explanation.schema.json', {
      ...base,
      tree_mode: undefined,
      method: 'lime',
      rows: [7],
      features: [base.features[7]],
      values: [[0.4, 0, -0.1]],
      base_values: [0.3],
      predictions: [0.62],
      lime: [{ intercept: 0.3, local_prediction: 0.6, score: 0.7, weights: [{ feature: 'age', condition: 'age > 5.00', weight: 0.4 }, { feature: 'ratio', condition: 'ratio <= 0.50', weight: -0.1 }] }],
    });
    await dom.render(<ExplanationView explanation={lime} plotly={() => Promise.resolve(plotly)} />);
    expect(Array.from(dom.container.querySelectorAll('[role="tab"]'), (tab) => tab.textContent)).toEqual(['LIME weights', 'Waterfall']);
    expect(dom.container.querySelector('.opsbook-ExplanationView-rowPicker')).toBeNull();
    expect(dom.container.querySelector('[data-chart="lime"] figcaption')?.textContent).toContain('local prediction 0.6, fit R² 0.7');
    expect((plotly.last().data[0] as { y: string[] }).y).toEqual(['ratio &lt;= 0.50', 'age &gt; 5.00']);
  });

  it('names a model given as a file by its file name, and its output by class', async () => {
    const base = shapExplanation();
    const fromFile = { ...base, model: { ref: '/w/.opsbook/handoff/lab-1/clf.onnx', path: '/w/.opsbook/handoff/lab-1/clf.onnx' }, output: { name: 'probabilities', index: 1, label: 'yes' } };
    await dom.render(<ExplanationView explanation={fromFile} plotly={() => Promise.resolve(new RecordingPlotly())} />);
    expect(dom.container.querySelector('h2')?.textContent).toBe('TreeSHAP of clfprobabilities[1] (class yes)');
    expect(dom.container.querySelector('h2 span')?.getAttribute('title')).toBe('/w/.opsbook/handoff/lab-1/clf.onnx');
  });

  it('says why when plotly cannot be loaded', async () => {
    await dom.render(<ExplanationView explanation={shapExplanation()} plotly={() => Promise.reject(new Error('offline'))} />);
    expect(dom.container.querySelector('.opsbook-error-text')?.textContent).toBe('Chart unavailable: offline');
    // The summary still says what the chart would have shown.
    expect(dom.container.querySelector('figcaption')?.textContent).toMatch(/^20 rows/);
  });
});
