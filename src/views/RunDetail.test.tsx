/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import { SchemaValidator, type Run, type RunDetail as RunDetailData } from '@opsbook/schema';
import { RunDetail } from './index';
import { useTestRoot } from './testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const NOW = Date.parse('2025-06-01T12:00:00Z');
const PARENT = '22222222-2222-4222-8222-222222222222';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

// Only the fields this view reads; the list item grows with other parts' columns.
const run = {
  id: '11111111-1111-4111-8111-111111111111',
  experiment_id: 'e1',
  experiment: 'tuning',
  name: 'trial-3',
  status: 'finished',
  start_time: '2025-06-01T11:58:00Z',
  end_time: '2025-06-01T11:58:12Z',
  duration_ms: 12_000,
  source_type: 'api',
  metrics_latest: {},
} as Run;

const detail: RunDetailData = {
  run,
  params: [{ key: 'lr', value: '0.01' }],
  metrics: [],
  tags: {},
  source: { type: 'cell', code: 'model.fit(X, y)' },
  parent_run_id: PARENT,
  child_count: 3,
  provenance: {
    notebook: 'experiments/churn.ipynb',
    cell_id: 'cell-7f3a',
    cell_source: '%%track --parent study\nmodel.fit(X, y)',
    python_version: '3.11.7',
    packages: { pandas: '3.1.1', numpy: '2.4.6', opsbook: '0.1.0' },
    git: { commit: COMMIT, dirty: true, branch: 'main' },
    host: 'workbench-1',
  },
};

const dom = useTestRoot();
const { render } = dom;

/** The definition list of a section as [term, description] pairs. */
function facts(section: Element | null): [string, string][] {
  const terms = Array.from(section?.querySelectorAll('dt') ?? []);
  return terms.map((dt) => [dt.textContent ?? '', dt.nextElementSibling?.textContent ?? '']);
}

describe('RunDetail: nesting and provenance', () => {
  it('is a detail the schema accepts', () => {
    expect(new SchemaValidator().check('provenance.schema.json', detail.provenance)).toBeNull();
  });

  it('links the parent and the children through callbacks', async () => {
    const opened: string[] = [];
    const children: string[] = [];
    await render(<RunDetail detail={detail} now={NOW} onOpenRun={(id) => opened.push(id)} onOpenChildren={(id) => children.push(id)} />);
    const parent = dom.container.querySelector<HTMLButtonElement>('button.opsbook-RunDetail-parent');
    const kids = dom.container.querySelector<HTMLButtonElement>('button.opsbook-RunDetail-children');
    expect(parent?.textContent).toBe(PARENT);
    expect(kids?.textContent).toBe('3 child runs');
    act(() => parent?.click());
    act(() => kids?.click());
    expect(opened).toEqual([PARENT]);
    expect(children).toEqual([run.id]);
  });

  it('shows parent and children as text without callbacks, and neither for a top-level run without children', async () => {
    await render(<RunDetail detail={{ ...detail, child_count: 1 }} now={NOW} />);
    expect(dom.container.querySelector('button')).toBeNull();
    expect(dom.container.querySelector('.opsbook-RunDetail-children')?.textContent).toBe('1 child run');
    await render(<RunDetail detail={{ ...detail, parent_run_id: null, child_count: 0 }} now={NOW} onOpenRun={() => undefined} />);
    const header = facts(dom.container.querySelector('.opsbook-RunDetail-facts')).map(([term]) => term);
    expect(header).not.toContain('Parent');
    expect(header).not.toContain('Children');
  });

  it('shows where the run was made: notebook, cell, git with its dirty flag, python, packages by name, host', async () => {
    await render(<RunDetail detail={detail} now={NOW} />);
    const section = dom.container.querySelector('.opsbook-RunDetail-provenance');
    expect(section?.querySelector('h3')?.textContent).toBe('Provenance');
    expect(facts(section)).toEqual([
      ['Notebook', 'experiments/churn.ipynb'],
      ['Cell', 'cell-7f3a'],
      ['Git', `${COMMIT.slice(0, 12)} on mainuncommitted changes`],
      ['Python', '3.11.7'],
      ['Packages', 'numpy 2.4.6opsbook 0.1.0pandas 3.1.1'],
      ['Host', 'workbench-1'],
    ]);
    expect(section?.querySelector('[title]')?.getAttribute('title')).toBe(COMMIT);
    // The %%track cell's body is the Source section already: its cell source is not repeated.
    expect(section?.querySelector('details')).toBeNull();
  });

  it('offers the cell source when the run was started by code inside the cell, and leaves out what was not captured', async () => {
    const started = {
      ...detail,
      source: { type: 'api' as const },
      provenance: { python_version: '3.12.1', cell_source: 'with opsbook.run():\n    fit()', git: { commit: COMMIT, dirty: false } },
    };
    await render(<RunDetail detail={started} now={NOW} />);
    const section = dom.container.querySelector('.opsbook-RunDetail-provenance');
    expect(facts(section)).toEqual([
      ['Git', COMMIT.slice(0, 12)],
      ['Python', '3.12.1'],
    ]);
    expect(section?.querySelector('details code')?.textContent).toBe('with opsbook.run():\n    fit()');
    await render(<RunDetail detail={{ ...detail, provenance: undefined }} now={NOW} />);
    expect(dom.container.querySelector('.opsbook-RunDetail-provenance')).toBeNull();
  });
});
