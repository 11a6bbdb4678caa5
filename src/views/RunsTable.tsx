import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { checkFilter as defaultCheckFilter, type FilterProblem } from './filterCheck';
import { formatDuration, relativeTime, runDuration } from './format';
import { ColumnChooser } from './ColumnChooser';
import { RunDetailsPane, type RunAnnotation } from './RunDetailsPane';
import { BASE_COLUMNS, columnKeysOf, columnText, type RunsTableQuery, type TableRun } from './runColumns';
import { StatusBadge } from './StatusBadge';
import { ensureViewStyles } from './styles';
import { ensureRunsTableStyles } from './runsTableStyles';

export type { RunAnnotation } from './RunDetailsPane';

/** Height of a row in px: fixed, so the virtualizer places rows without measuring them. */
const ROW_HEIGHT = 30;
const HEADER_HEIGHT = 32;
/** Milliseconds of quiet typing before a valid filter is sent. */
const FILTER_DELAY_MS = 400;
/** Rows PageUp/PageDown move the focus by. */
const PAGE_ROWS = 10;

const FIXED_TRACKS = ['32px', '30px', 'minmax(150px, 2fr)', '104px', 'minmax(100px, 1fr)', '100px', '90px'];
const FIXED_MIN_WIDTH = 32 + 30 + 150 + 104 + 100 + 100 + 90;
const EXTRA_WIDTH = 130;

export interface RunsTableProps {
  /** The rows, already filtered and ordered by the host as `query` says. */
  runs: readonly TableRun[];
  /** How many runs match the query in all (when the host loaded only some). */
  total?: number;
  /** The query the rows answer; the table is a controlled view of it. */
  query: RunsTableQuery;
  /** Called with the next query when the user sorts, filters, chooses columns or shows deleted runs. */
  onQueryChange: (query: RunsTableQuery) => void;
  /** Keys the column chooser offers; by default those present in `runs`. */
  columnKeys?: readonly string[];
  /** Opens a run (Enter, double click, the details pane's Open button). */
  onOpen?: (runId: string) => void;
  /** Compares the selected runs; without it there is no Compare button. */
  onCompare?: (runIds: string[]) => void;
  /** Opens the sweep of a run that has child runs; without it the child count is only shown. */
  onOpenSweep?: (runId: string) => void;
  /**
   * Saves an annotation (rename, star, tags, notes, soft delete or restore). Without it the table
   * is read-only. A rejection is shown in the table.
   */
  onUpdate?: (runId: string, change: RunAnnotation) => Promise<void>;
  /** Whether the filter box is shown (a notebook output has no daemon to filter with). */
  showFilter?: boolean;
  /** A line about the host's loading state ("Loading…", an error), shown above the rows. */
  message?: { text: string; error?: boolean };
  /** Checks filter text before it is sent; defaults to the shared grammar's parser. */
  checkFilter?: (text: string) => FilterProblem | null;
  /** Clock for relative times, in ms since the epoch. */
  now?: number;
  /** Accessible name of the grid. */
  label?: string;
}

/**
 * The runs of a workspace as a sortable, filterable, virtualized grid: only the rows in view are
 * in the DOM, so ten thousand runs scroll like ten. One tab stop: arrow keys move the focused row,
 * Enter opens it, Space selects it, F2 renames it; shift-click selects a range.
 */
export function RunsTable(props: RunsTableProps): JSX.Element {
  const { runs, query, onQueryChange, onUpdate, onOpen, onCompare, onOpenSweep, now = Date.now() } = props;
  useEffect(() => {
    ensureViewStyles();
    ensureRunsTableStyles();
  }, []);
  const scrollRef = useRef<HTMLDivElement>(null);
  const [focusedId, setFocusedId] = useState<string | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const [anchor, setAnchor] = useState(0);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const gridId = useMemo(() => `opsbook-runs-${Math.random().toString(36).slice(2, 10)}`, []);

  const focusedIndex = focusedId === null ? -1 : runs.findIndex((run) => run.id === focusedId);
  const focused = focusedIndex >= 0 ? runs[focusedIndex] : undefined;
  const offered = useMemo(() => {
    const keys = new Set(props.columnKeys ?? columnKeysOf(runs));
    for (const column of query.columns) keys.add(column);
    return [...keys];
  }, [props.columnKeys, runs, query.columns]);

  const virtualizer = useVirtualizer({
    count: runs.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    scrollMargin: HEADER_HEIGHT,
    scrollPaddingStart: HEADER_HEIGHT,
    getItemKey: (index) => runs[index]?.id ?? index,
  });

  const columns = query.columns;
  const template = [...FIXED_TRACKS, ...columns.map(() => `${EXTRA_WIDTH}px`)].join(' ');
  const minWidth = FIXED_MIN_WIDTH + columns.length * EXTRA_WIDTH;

  /** Runs an update, showing its failure in the table rather than losing it. */
  const update = (runId: string, change: RunAnnotation): void => {
    if (!onUpdate) return;
    setProblem(null);
    onUpdate(runId, change).catch((reason: unknown) => {
      setProblem(`Could not save: ${reason instanceof Error ? reason.message : String(reason)}`);
    });
  };

  const moveFocus = (index: number): void => {
    if (runs.length === 0) return;
    const next = Math.max(0, Math.min(runs.length - 1, index));
    setFocusedId(runs[next].id);
    virtualizer.scrollToIndex(next, { align: 'auto' });
  };

  const selectRange = (from: number, to: number): void => {
    const [low, high] = from <= to ? [from, to] : [to, from];
    setSelected((current) => {
      const next = new Set(current);
      for (let i = low; i <= high; i++) if (runs[i]) next.add(runs[i].id);
      return next;
    });
  };

  const toggle = (index: number, range: boolean): void => {
    const run = runs[index];
    if (!run) return;
    if (range) {
      selectRange(anchor, index);
    } else {
      setSelected((current) => {
        const next = new Set(current);
        if (next.has(run.id)) next.delete(run.id);
        else next.add(run.id);
        return next;
      });
    }
    setAnchor(index);
  };

  const onRowClick = (event: MouseEvent, index: number): void => {
    setFocusedId(runs[index].id);
    if (event.shiftKey) selectRange(anchor, index);
    else if (event.metaKey || event.ctrlKey) toggle(index, false);
    else setAnchor(index);
    scrollRef.current?.focus({ preventScroll: true });
  };

  const onGridKey = (event: KeyboardEvent<HTMLDivElement>): void => {
    // Keys typed into a rename box or a checkbox are theirs.
    if (event.target !== event.currentTarget) return;
    const at = focusedIndex;
    const handled = (() => {
      switch (event.key) {
        case 'ArrowDown':
          moveFocus(at + 1);
          return true;
        case 'ArrowUp':
          moveFocus(at < 0 ? 0 : at - 1);
          return true;
        case 'PageDown':
          moveFocus(at + PAGE_ROWS);
          return true;
        case 'PageUp':
          moveFocus(at - PAGE_ROWS);
          return true;
        case 'Home':
          moveFocus(0);
          return true;
        case 'End':
          moveFocus(runs.length - 1);
          return true;
        case 'Enter':
          if (focused) onOpen?.(focused.id);
          return focused !== undefined;
        case ' ':
          if (at >= 0) toggle(at, event.shiftKey);
          return at >= 0;
        case 'F2':
          if (focused && onUpdate) setRenaming(focused.id);
          return focused !== undefined;
        default:
          return false;
      }
    })();
    if (handled) event.preventDefault();
  };

  const sortBy = (key: string): void => {
    const order = query.sort === key ? (query.order === 'asc' ? 'desc' : 'asc') : startingOrder(key);
    onQueryChange({ ...query, sort: key, order });
  };

  const allSelected = runs.length > 0 && runs.every((run) => selected.has(run.id));
  const chosen = runs.filter((run) => selected.has(run.id)).map((run) => run.id);
  const finishRename = (run: TableRun, name: string | null): void => {
    setRenaming(null);
    const trimmed = name?.trim();
    if (trimmed && trimmed !== run.name) update(run.id, { name: trimmed });
    scrollRef.current?.focus({ preventScroll: true });
  };

  const header = (
    <div className="opsbook-RunsTable-row opsbook-RunsTable-header" role="row" aria-rowindex={1} style={{ gridTemplateColumns: template, minWidth }}>
      <div role="columnheader" className="opsbook-RunsTable-cell opsbook-RunsTable-check">
        <input
          type="checkbox"
          tabIndex={-1}
          aria-label={allSelected ? 'Clear the selection' : 'Select all runs shown'}
          checked={allSelected}
          onChange={() => setSelected(allSelected ? new Set() : new Set(runs.map((run) => run.id)))}
        />
      </div>
      <div role="columnheader" className="opsbook-RunsTable-cell" aria-label="Starred">
        <span aria-hidden="true">★</span>
      </div>
      {BASE_COLUMNS.map(({ key, label }) => (
        <SortHeader key={key} column={key} label={label} query={query} onSort={sortBy} />
      ))}
      {columns.map((column) => (
        <SortHeader key={column} column={column} label={column} query={query} onSort={sortBy} />
      ))}
    </div>
  );

  return (
    <div className="opsbook-view opsbook-RunsTable">
      <div className="opsbook-RunsTable-toolbar">
        {props.showFilter !== false && (
          <FilterBox
            value={query.filter}
            check={props.checkFilter ?? defaultCheckFilter}
            onApply={(filter) => {
              if (filter !== query.filter) onQueryChange({ ...query, filter });
            }}
          />
        )}
        <ColumnChooser
          offered={offered}
          chosen={columns}
          onChange={(next) => onQueryChange({ ...query, columns: next })}
        />
        {onUpdate && (
          <label className="opsbook-RunsTable-toggle">
            <input
              type="checkbox"
              checked={query.deleted !== 'exclude'}
              onChange={(event) => onQueryChange({ ...query, deleted: event.target.checked ? 'include' : 'exclude' })}
            />
            Show deleted
          </label>
        )}
        <span className="opsbook-RunsTable-count opsbook-muted" aria-live="polite">
          {countText(runs.length, props.total)}
        </span>
        {chosen.length > 0 && (
          <span className="opsbook-RunsTable-selection">
            <span>{chosen.length} selected</span>
            {onCompare && (
              <button
                type="button"
                className="opsbook-button"
                disabled={chosen.length < 2}
                title={chosen.length < 2 ? 'Select two or more runs to compare' : undefined}
                onClick={() => onCompare(chosen)}
              >
                Compare
              </button>
            )}
            <button type="button" className="opsbook-RunsTable-link" onClick={() => setSelected(new Set())}>
              Clear
            </button>
          </span>
        )}
      </div>
      {props.message && (
        <p className={`opsbook-RunsTable-message${props.message.error ? ' opsbook-error-text' : ''}`} role={props.message.error ? 'alert' : 'status'}>
          {props.message.text}
        </p>
      )}
      {problem && (
        <p className="opsbook-RunsTable-message opsbook-error-text" role="alert">
          {problem}
        </p>
      )}
      <div className="opsbook-RunsTable-body">
        <div
          ref={scrollRef}
          id={gridId}
          className="opsbook-RunsTable-scroll"
          role="grid"
          aria-label={props.label ?? 'Runs'}
          aria-rowcount={(props.total ?? runs.length) + 1}
          aria-multiselectable="true"
          aria-activedescendant={focused ? rowId(gridId, focused.id) : undefined}
          tabIndex={0}
          onKeyDown={onGridKey}
        >
          {header}
          <div className="opsbook-RunsTable-rows" role="rowgroup" style={{ height: virtualizer.getTotalSize(), minWidth }}>
            {virtualizer.getVirtualItems().map((item) => {
              const run = runs[item.index];
              if (!run) return null;
              const isSelected = selected.has(run.id);
              const classes = ['opsbook-RunsTable-row'];
              if (run.id === focusedId) classes.push('opsbook-RunsTable-focused');
              if (isSelected) classes.push('opsbook-RunsTable-selected');
              if (run.deleted) classes.push('opsbook-RunsTable-deleted');
              return (
                <div
                  key={item.key}
                  id={rowId(gridId, run.id)}
                  role="row"
                  aria-rowindex={item.index + 2}
                  aria-selected={isSelected}
                  data-run-id={run.id}
                  className={classes.join(' ')}
                  style={{ gridTemplateColumns: template, minWidth, height: ROW_HEIGHT, transform: `translateY(${item.start - HEADER_HEIGHT}px)` }}
                  onClick={(event) => onRowClick(event, item.index)}
                  onDoubleClick={() => onOpen?.(run.id)}
                >
                  <div role="gridcell" className="opsbook-RunsTable-cell opsbook-RunsTable-check">
                    <input
                      type="checkbox"
                      tabIndex={-1}
                      aria-label={`Select run ${run.name}`}
                      checked={isSelected}
                      onClick={(event) => {
                        event.stopPropagation();
                        setFocusedId(run.id);
                        toggle(item.index, event.shiftKey);
                      }}
                      onChange={() => undefined}
                    />
                  </div>
                  <div role="gridcell" className="opsbook-RunsTable-cell">
                    <StarButton run={run} onToggle={onUpdate ? () => update(run.id, { starred: !run.starred }) : undefined} />
                  </div>
                  <div role="gridcell" className="opsbook-RunsTable-cell opsbook-RunsTable-name">
                    {renaming === run.id ? (
                      <RenameBox run={run} onDone={(name) => finishRename(run, name)} />
                    ) : (
                      <>
                        <span className="opsbook-RunsTable-nameText" title={run.name}>
                          {run.name}
                        </span>
                        {run.deleted && <span className="opsbook-RunsTable-tag">deleted</span>}
                        {(run.child_count ?? 0) > 0 && (
                          <SweepButton run={run} onOpenSweep={onOpenSweep} />
                        )}
                      </>
                    )}
                  </div>
                  <div role="gridcell" className="opsbook-RunsTable-cell">
                    <StatusBadge status={run.status} />
                  </div>
                  <div role="gridcell" className="opsbook-RunsTable-cell opsbook-RunsTable-text" title={run.experiment}>
                    {run.experiment}
                  </div>
                  <div role="gridcell" className="opsbook-RunsTable-cell">
                    <time dateTime={run.start_time} title={new Date(run.start_time).toLocaleString()}>
                      {relativeTime(run.start_time, now)}
                    </time>
                  </div>
                  <div role="gridcell" className="opsbook-RunsTable-cell opsbook-num">
                    {formatDuration(runDuration(run, now))}
                  </div>
                  {columns.map((column) => {
                    const text = columnText(run, column);
                    return (
                      <div key={column} role="gridcell" className="opsbook-RunsTable-cell opsbook-RunsTable-text opsbook-num" data-column={column} title={text}>
                        {text}
                      </div>
                    );
                  })}
                </div>
              );
            })}
          </div>
          {runs.length === 0 && !props.message && (
            <p className="opsbook-RunsTable-message opsbook-muted">
              {query.filter ? 'No runs match this filter.' : 'No runs yet.'}
            </p>
          )}
        </div>
        {focused && (
          <RunDetailsPane
            key={focused.id}
            run={focused}
            now={now}
            onOpen={onOpen}
            onOpenSweep={onOpenSweep}
            onUpdate={onUpdate ? (change) => update(focused.id, change) : undefined}
            onRename={onUpdate ? () => setRenaming(focused.id) : undefined}
            onClose={() => setFocusedId(null)}
          />
        )}
      </div>
    </div>
  );
}

function rowId(gridId: string, runId: string): string {
  return `${gridId}-${runId}`;
}

/** Names, statuses and text columns read A→Z first; times, durations and metrics newest/largest first. */
function startingOrder(key: string): 'asc' | 'desc' {
  return ['name', 'status', 'experiment'].includes(key) || key.startsWith('params.') || key.startsWith('tags.') ? 'asc' : 'desc';
}

function countText(shown: number, total: number | undefined): string {
  const runs = (n: number): string => (n === 1 ? '1 run' : `${n.toLocaleString()} runs`);
  return total !== undefined && total > shown ? `${shown.toLocaleString()} of ${runs(total)}` : runs(shown);
}

function SortHeader({ column, label, query, onSort }: { column: string; label: string; query: RunsTableQuery; onSort: (key: string) => void }): JSX.Element {
  const active = query.sort === column;
  const direction = query.order === 'asc' ? 'ascending' : 'descending';
  return (
    <div role="columnheader" className="opsbook-RunsTable-cell" aria-sort={active ? direction : 'none'} data-column={column}>
      <button
        type="button"
        tabIndex={-1}
        className="opsbook-RunsTable-sort"
        title={`Sort by ${label}${active ? ` (now ${direction})` : ''}`}
        onClick={() => onSort(column)}
      >
        <span className="opsbook-RunsTable-text">{label}</span>
        {active && <span aria-hidden="true">{query.order === 'asc' ? '▲' : '▼'}</span>}
      </button>
    </div>
  );
}

function StarButton({ run, onToggle }: { run: TableRun; onToggle?: () => void }): JSX.Element {
  const starred = run.starred === true;
  if (!onToggle) {
    return (
      <span className="opsbook-RunsTable-star" aria-label={starred ? 'Starred' : 'Not starred'}>
        {starred ? '★' : ''}
      </span>
    );
  }
  return (
    <button
      type="button"
      tabIndex={-1}
      className="opsbook-RunsTable-star"
      aria-pressed={starred}
      aria-label={`Star run ${run.name}`}
      title={starred ? 'Unstar' : 'Star'}
      onClick={(event) => {
        event.stopPropagation();
        onToggle();
      }}
    >
      {starred ? '★' : '☆'}
    </button>
  );
}

function SweepButton({ run, onOpenSweep }: { run: TableRun; onOpenSweep?: (runId: string) => void }): JSX.Element {
  const count = run.child_count ?? 0;
  const text = count === 1 ? '1 child run' : `${count} child runs`;
  if (!onOpenSweep) return <span className="opsbook-RunsTable-tag">{text}</span>;
  return (
    <button
      type="button"
      tabIndex={-1}
      className="opsbook-RunsTable-sweep"
      title={`Open the sweep of ${run.name} (${text})`}
      onClick={(event) => {
        event.stopPropagation();
        onOpenSweep(run.id);
      }}
    >
      <span aria-hidden="true">▸</span> {text}
    </button>
  );
}

function RenameBox({ run, onDone }: { run: TableRun; onDone: (name: string | null) => void }): JSX.Element {
  const [name, setName] = useState(run.name);
  const done = useRef(false);
  const finish = (value: string | null): void => {
    if (done.current) return;
    done.current = true;
    onDone(value);
  };
  return (
    <input
      className="opsbook-RunsTable-rename"
      aria-label={`New name for run ${run.name}`}
      value={name}
      maxLength={250}
      autoFocus
      onFocus={(event) => event.target.select()}
      onChange={(event) => setName(event.target.value)}
      onClick={(event) => event.stopPropagation()}
      onKeyDown={(event) => {
        if (event.key === 'Enter') finish(name);
        else if (event.key === 'Escape') finish(null);
        event.stopPropagation();
      }}
      onBlur={() => finish(name)}
    />
  );
}

/**
 * The filter box: shows a syntax error under the text as it is typed, and sends only text that
 * parses (after a pause, or at once on Enter).
 */
function FilterBox({ value, check, onApply }: { value: string; check: (text: string) => FilterProblem | null; onApply: (filter: string) => void }): JSX.Element {
  const [text, setText] = useState(value);
  const [problem, setProblem] = useState<FilterProblem | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const apply = useRef(onApply);
  apply.current = onApply;
  const errorId = useMemo(() => `opsbook-filter-error-${Math.random().toString(36).slice(2, 10)}`, []);

  // The host may change the filter (a restored state): show what it holds.
  useEffect(() => {
    setText((current) => (current.trim() === value ? current : value));
  }, [value]);
  useEffect(() => setProblem(check(text)), [text, check]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const send = (next: string): void => {
    clearTimeout(timer.current);
    if (check(next) === null) apply.current(next.trim());
  };

  return (
    <div className="opsbook-RunsTable-filter">
      <input
        type="search"
        className="opsbook-RunsTable-filterInput"
        placeholder='Filter, e.g. metrics.accuracy > 0.9 and params.model = "sgd"'
        aria-label="Filter runs"
        aria-invalid={problem !== null}
        aria-describedby={problem ? errorId : undefined}
        spellCheck={false}
        value={text}
        onChange={(event) => {
          const next = event.target.value;
          setText(next);
          clearTimeout(timer.current);
          timer.current = setTimeout(() => send(next), FILTER_DELAY_MS);
        }}
        onKeyDown={(event) => {
          if (event.key === 'Enter') send(text);
        }}
      />
      {problem && (
        <div id={errorId} className="opsbook-RunsTable-filterError opsbook-error-text" role="alert">
          <span>{problem.message}</span>
          <pre className="opsbook-RunsTable-caret" aria-hidden="true">
            {`${text}\n${' '.repeat(Math.max(0, Math.min(problem.position, text.length)))}^`}
          </pre>
        </div>
      )}
    </div>
  );
}
