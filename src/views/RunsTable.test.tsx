/**
 * @jest-environment jsdom
 */
import { act, useState } from 'react';
import {
  DEFAULT_RUNS_TABLE_QUERY,
  RunsTable,
  columnKeysOf,
  filterRuns,
  sortRuns,
  type RunAnnotation,
  type RunsTableProps,
  type RunsTableQuery,
  type TableRun,
} from './index';
import { useTestRoot } from './testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const NOW = Date.parse('2025-06-01T12:00:00Z');
/** jsdom lays nothing out; the scroll area gets the height a browser would give it. */
const VIEW_HEIGHT = 600;

function makeRun(i: number, overrides: Partial<TableRun> = {}): TableRun {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    experiment_id: 'e1',
    experiment: i % 2 ? 'odd' : 'even',
    name: `run-${i}`,
    status: 'finished',
    start_time: new Date(NOW - i * 60_000).toISOString(),
    end_time: new Date(NOW - i * 60_000 + 5000).toISOString(),
    duration_ms: 5000,
    source_type: 'api',
    metrics_latest: { loss: 1 / (i + 1), accuracy: i / 10 },
    params: { lr: String(0.1 * (i + 1)), model: i % 2 ? 'sgd' : 'tree' },
    tags: {},
    starred: false,
    notes: '',
    deleted: false,
    child_count: 0,
    parent_run_id: null,
    ...overrides,
  };
}

const dom = useTestRoot();
const { render } = dom;
let clientHeight: PropertyDescriptor | undefined;

beforeAll(() => {
  clientHeight = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight');
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return this.classList.contains('opsbook-RunsTable-scroll') ? VIEW_HEIGHT : 0;
    },
  });
});

afterAll(() => {
  if (clientHeight) Object.defineProperty(HTMLElement.prototype, 'clientHeight', clientHeight);
});

/** A host that keeps the query as state, as the JupyterLab panel does, and records each change. */
function Host(props: Partial<RunsTableProps> & { runs: readonly TableRun[]; changes?: RunsTableQuery[] }): JSX.Element {
  const [query, setQuery] = useState<RunsTableQuery>(props.query ?? DEFAULT_RUNS_TABLE_QUERY);
  return (
    <RunsTable
      {...props}
      now={NOW}
      query={query}
      onQueryChange={(next) => {
        props.changes?.push(next);
        setQuery(next);
      }}
    />
  );
}

const rows = (): HTMLElement[] => Array.from(dom.container.querySelectorAll<HTMLElement>('.opsbook-RunsTable-rows [role="row"]'));
const grid = (): HTMLElement => dom.container.querySelector<HTMLElement>('[role="grid"]')!;
const row = (name: string): HTMLElement => rows().find((r) => r.textContent?.includes(name) && r.querySelector('.opsbook-RunsTable-nameText')?.textContent === name)!;

async function click(element: Element, init: MouseEventInit = {}): Promise<void> {
  await act(async () => {
    element.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, ...init }));
    await Promise.resolve();
  });
}

async function key(element: Element, keyName: string, init: KeyboardEventInit = {}): Promise<void> {
  await act(async () => {
    element.dispatchEvent(new KeyboardEvent('keydown', { key: keyName, bubbles: true, cancelable: true, ...init }));
    await Promise.resolve();
  });
}

/** Types into a React-controlled input the way a user's keystrokes reach it. */
async function type(input: HTMLInputElement | HTMLTextAreaElement, text: string): Promise<void> {
  const prototype = input instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(prototype, 'value')!.set!.call(input, text);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    await Promise.resolve();
  });
}

function button(text: string | RegExp): HTMLButtonElement {
  const found = Array.from(dom.container.querySelectorAll('button')).find((b) =>
    typeof text === 'string' ? b.textContent?.trim() === text : text.test(b.textContent ?? ''),
  );
  if (!found) throw new Error(`no button ${String(text)}`);
  return found;
}

describe('RunsTable', () => {
  it('puts only the rows in view in the DOM, for ten thousand runs too', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => makeRun(i));
    await render(<Host runs={many} />);
    expect(grid().getAttribute('aria-rowcount')).toBe('10001');
    const first = rows();
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThan(100);
    expect(first[0].textContent).toContain('run-0');

    // Scrolled far down, other rows replace them; there are still as few.
    await act(async () => {
      grid().scrollTop = 5000 * 30;
      grid().dispatchEvent(new Event('scroll'));
      await Promise.resolve();
    });
    const later = rows();
    expect(later.length).toBeLessThan(100);
    expect(later.some((r) => r.textContent?.includes('run-5000'))).toBe(true);
    expect(later.some((r) => r.textContent?.includes('run-0'))).toBe(false);
  });

  it('sorts through the query: a header click asks for the key, a second click flips the order', async () => {
    const changes: RunsTableQuery[] = [];
    await render(<Host runs={[makeRun(1), makeRun(2)]} changes={changes} query={{ ...DEFAULT_RUNS_TABLE_QUERY, columns: ['metrics.loss'] }} />);
    const header = (): HTMLElement => dom.container.querySelector<HTMLElement>('[role="columnheader"][data-column="metrics.loss"]')!;
    expect(header().getAttribute('aria-sort')).toBe('none');
    expect(dom.container.querySelector('[data-column="start_time"]')!.getAttribute('aria-sort')).toBe('descending');

    await click(header().querySelector('button')!);
    expect(changes.at(-1)).toMatchObject({ sort: 'metrics.loss', order: 'desc' });
    expect(header().getAttribute('aria-sort')).toBe('descending');
    await click(header().querySelector('button')!);
    expect(changes.at(-1)).toMatchObject({ sort: 'metrics.loss', order: 'asc' });
    expect(header().getAttribute('aria-sort')).toBe('ascending');

    await click(dom.container.querySelector('[data-column="name"] button')!);
    expect(changes.at(-1)).toMatchObject({ sort: 'name', order: 'asc' });
  });

  it('shows a filter syntax error under the box and sends only filters that parse', async () => {
    jest.useFakeTimers();
    try {
      const changes: RunsTableQuery[] = [];
      await render(<Host runs={[makeRun(1)]} changes={changes} />);
      const input = dom.container.querySelector<HTMLInputElement>('input[aria-label="Filter runs"]')!;

      await type(input, 'metrics.loss >');
      const alert = dom.container.querySelector('.opsbook-RunsTable-filterError')!;
      expect(alert.getAttribute('role')).toBe('alert');
      expect(alert.textContent).toMatch(/position/);
      expect(input.getAttribute('aria-invalid')).toBe('true');
      await act(async () => {
        jest.advanceTimersByTime(1000);
        await Promise.resolve();
      });
      await key(input, 'Enter');
      expect(changes).toEqual([]);

      await type(input, 'metrics.loss > 0.5');
      expect(dom.container.querySelector('.opsbook-RunsTable-filterError')).toBeNull();
      await act(async () => {
        jest.advanceTimersByTime(1000);
        await Promise.resolve();
      });
      expect(changes).toEqual([{ ...DEFAULT_RUNS_TABLE_QUERY, filter: 'metrics.loss > 0.5' }]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('offers the params, metrics and tags of the runs as columns, searchable, and shows the chosen ones', async () => {
    const changes: RunsTableQuery[] = [];
    await render(<Host runs={[makeRun(1, { tags: { team: 'vision' } }), makeRun(2)]} changes={changes} />);
    const open = button('Columns');
    expect(open.getAttribute('aria-expanded')).toBe('false');
    await click(open);
    expect(open.getAttribute('aria-expanded')).toBe('true');
    const dialog = dom.container.querySelector('[role="dialog"]')!;
    const offered = (): string[] => Array.from(dialog.querySelectorAll('input[type="checkbox"]')).map((box) => box.getAttribute('data-column')!);
    expect(offered()).toEqual(['params.lr', 'params.model', 'metrics.accuracy', 'metrics.loss', 'tags.team']);
    const search = dialog.querySelector<HTMLInputElement>('input[type="search"]')!;
    expect(document.activeElement).toBe(search);
    await type(search, 'LR');
    expect(offered()).toEqual(['params.lr']);

    await click(dialog.querySelector('input[data-column="params.lr"]')!);
    expect(changes.at(-1)!.columns).toEqual(['params.lr']);
    expect(row('run-1').querySelector('[data-column="params.lr"]')!.textContent).toBe('0.2');
    expect(dom.container.querySelector('[role="columnheader"][data-column="params.lr"]')).not.toBeNull();

    await key(search, 'Escape');
    expect(dom.container.querySelector('[role="dialog"]')).toBeNull();
    expect(document.activeElement).toBe(button('Columns (1)'));
  });

  it('moves the focus with the arrow keys, opens with Enter, selects with Space and shift-click, and compares', async () => {
    const opened: string[] = [];
    const compared: string[][] = [];
    const runs = [0, 1, 2, 3, 4].map((i) => makeRun(i));
    await render(<Host runs={runs} onOpen={(id) => opened.push(id)} onCompare={(ids) => compared.push(ids)} />);
    const focusedName = (): string | null | undefined =>
      dom.container.querySelector('.opsbook-RunsTable-focused .opsbook-RunsTable-nameText')?.textContent;

    await key(grid(), 'ArrowDown');
    expect(focusedName()).toBe('run-0');
    await key(grid(), 'ArrowDown');
    expect(focusedName()).toBe('run-1');
    expect(grid().getAttribute('aria-activedescendant')).toBe(row('run-1').id);
    await key(grid(), 'Enter');
    expect(opened).toEqual([runs[1].id]);
    await key(grid(), ' ');
    expect(row('run-1').getAttribute('aria-selected')).toBe('true');

    await click(row('run-3'), { shiftKey: true });
    expect(rows().filter((r) => r.getAttribute('aria-selected') === 'true').map((r) => r.getAttribute('data-run-id'))).toEqual([
      runs[1].id,
      runs[2].id,
      runs[3].id,
    ]);
    expect(dom.container.textContent).toContain('3 selected');
    await click(button('Compare'));
    expect(compared).toEqual([[runs[1].id, runs[2].id, runs[3].id]]);

    await key(grid(), 'End');
    expect(focusedName()).toBe('run-4');
  });

  it('stars, renames, tags, notes and soft-deletes through onUpdate, and shows a failure', async () => {
    const updates: [string, RunAnnotation][] = [];
    let fail = false;
    const onUpdate = (runId: string, change: RunAnnotation): Promise<void> => {
      updates.push([runId, change]);
      return fail ? Promise.reject(new Error('the daemon said no')) : Promise.resolve();
    };
    const run = makeRun(7, { tags: { stage: 'dev' }, notes: 'first try' });
    await render(<Host runs={[run]} onUpdate={onUpdate} />);

    await click(row('run-7').querySelector('button[aria-label="Star run run-7"]')!);
    expect(updates.pop()).toEqual([run.id, { starred: true }]);

    await click(row('run-7'));
    const pane = (): HTMLElement => dom.container.querySelector<HTMLElement>('.opsbook-RunDetailsPane')!;
    expect(pane().textContent).toContain('stage=dev');
    await key(grid(), 'F2');
    const rename = dom.container.querySelector<HTMLInputElement>('input[aria-label="New name for run run-7"]')!;
    await type(rename, 'renamed');
    await key(rename, 'Enter');
    expect(updates.pop()).toEqual([run.id, { name: 'renamed' }]);

    await type(pane().querySelector<HTMLInputElement>('input[aria-label="New tag"]')!, 'owner = ana');
    await click(button('Add tag'));
    expect(updates.pop()).toEqual([run.id, { tags: { owner: 'ana' } }]);
    await click(pane().querySelector('button[aria-label="Remove tag stage"]')!);
    expect(updates.pop()).toEqual([run.id, { tags: { stage: null } }]);

    const notes = pane().querySelector<HTMLTextAreaElement>('textarea')!;
    expect(notes.value).toBe('first try');
    await type(notes, 'lr too high');
    await click(button('Save notes'));
    expect(updates.pop()).toEqual([run.id, { notes: 'lr too high' }]);

    fail = true;
    await click(button('Delete'));
    expect(updates.pop()).toEqual([run.id, { deleted: true }]);
    expect(dom.container.querySelector('[role="alert"]')!.textContent).toContain('the daemon said no');
  });

  it('restores a deleted run, lists deleted runs on request, and is read-only without onUpdate', async () => {
    const changes: RunsTableQuery[] = [];
    const updates: RunAnnotation[] = [];
    const deleted = makeRun(1, { deleted: true });
    await render(<Host runs={[deleted]} changes={changes} onUpdate={(_, change) => Promise.resolve(void updates.push(change))} />);
    expect(row('run-1').className).toContain('opsbook-RunsTable-deleted');
    const toggle = Array.from(dom.container.querySelectorAll('label')).find((l) => l.textContent?.includes('Show deleted'))!;
    await click(toggle.querySelector('input')!);
    expect(changes.at(-1)!.deleted).toBe('include');
    await click(row('run-1'));
    await click(button('Restore'));
    expect(updates).toEqual([{ deleted: false }]);

    await render(<Host runs={[makeRun(2, { starred: true })]} />);
    expect(dom.container.querySelector('button[aria-label^="Star run"]')).toBeNull();
    expect(dom.container.textContent).not.toContain('Show deleted');
    await click(row('run-2'));
    expect(dom.container.querySelector('.opsbook-RunDetailsPane textarea')).toBeNull();
    expect(() => button('Delete')).toThrow();
  });

  it('shows a run with child runs as a sweep that opens', async () => {
    const sweeps: string[] = [];
    const parent = makeRun(1, { child_count: 12 });
    await render(<Host runs={[parent, makeRun(2)]} onOpenSweep={(id) => sweeps.push(id)} />);
    await click(button(/12 child runs/));
    expect(sweeps).toEqual([parent.id]);
    expect(row('run-2').textContent).not.toContain('child');
  });
});

describe('runs table helpers', () => {
  const runs = [makeRun(0), makeRun(1, { metrics_latest: {} }), makeRun(2), makeRun(3)];

  it('sorts like the daemon: by the key, runs without a value last', () => {
    expect(sortRuns(runs, 'metrics.loss', 'asc', NOW).map((r) => r.name)).toEqual(['run-3', 'run-2', 'run-0', 'run-1']);
    expect(sortRuns(runs, 'metrics.loss', 'desc', NOW).map((r) => r.name)).toEqual(['run-0', 'run-2', 'run-3', 'run-1']);
    expect(sortRuns(runs, 'params.lr', 'desc', NOW).map((r) => r.name)).toEqual(['run-3', 'run-2', 'run-1', 'run-0']);
    expect(sortRuns(runs, 'start_time', 'asc', NOW).map((r) => r.name)).toEqual(['run-3', 'run-2', 'run-1', 'run-0']);
  });

  it('lists the column keys present and filters with the shared grammar', () => {
    expect(columnKeysOf(runs)).toEqual(['params.lr', 'params.model', 'metrics.accuracy', 'metrics.loss']);
    expect(filterRuns(runs, 'params.model = sgd').map((r) => r.name)).toEqual(['run-1', 'run-3']);
    expect(filterRuns(runs, 'metrics.loss >').length).toBe(4);
  });
});
