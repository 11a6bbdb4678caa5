import type { Run } from '@opsbook/schema';
import { formatMetric, runDuration } from './format';

/**
 * A run as the runs table shows it: the list item of `schema/run.schema.json` with its annotations,
 * nesting and params. The extra fields are optional here so that outputs written before they existed
 * (a notebook saved last month) still render.
 */
export type TableRun = Run &
  Partial<{
    parent_run_id: string | null;
    child_count: number;
    starred: boolean;
    notes: string;
    deleted: boolean;
    tags: Record<string, string>;
    params: Record<string, string>;
  }>;

/** Which deleted runs a query lists, as `listRuns` takes it. */
export type DeletedFilter = 'exclude' | 'include' | 'only';
export type SortOrder = 'asc' | 'desc';

/**
 * What the runs table shows, as one value the host persists and turns into a `listRuns` query:
 * the filter text (the grammar of docs/filter.md), the sort key and order, the chosen
 * `params.<k>` / `metrics.<k>` / `tags.<k>` columns, and whether deleted runs are listed.
 */
export interface RunsTableQuery {
  filter: string;
  sort: string;
  order: SortOrder;
  columns: string[];
  deleted: DeletedFilter;
}

export const DEFAULT_RUNS_TABLE_QUERY: RunsTableQuery = {
  filter: '',
  sort: 'start_time',
  order: 'desc',
  columns: [],
  deleted: 'exclude',
};

/** The fixed columns that sort, by their `listRuns` sort key, with the header the user reads. */
export const BASE_COLUMNS: readonly { key: string; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'experiment', label: 'Experiment' },
  { key: 'start_time', label: 'Started' },
  { key: 'duration', label: 'Duration' },
];

const SECTIONS = ['params', 'metrics', 'tags'] as const;
type Section = (typeof SECTIONS)[number];

/** `params.lr` → `{section: 'params', name: 'lr'}`; anything else → undefined. */
export function splitColumnKey(column: string): { section: Section; name: string } | undefined {
  const dot = column.indexOf('.');
  const section = column.slice(0, dot) as Section;
  if (dot <= 0 || !SECTIONS.includes(section) || dot === column.length - 1) return undefined;
  return { section, name: column.slice(dot + 1) };
}

function sectionOf(run: TableRun, section: Section): Record<string, string | number | null> | undefined {
  return section === 'metrics' ? run.metrics_latest : run[section];
}

/**
 * Every `params.<k>`, `metrics.<k>` and `tags.<k>` key present in the runs, params first, each
 * section sorted by name: what the column chooser offers.
 */
export function columnKeysOf(runs: readonly TableRun[]): string[] {
  const keys: string[] = [];
  for (const section of SECTIONS) {
    const names = new Set<string>();
    for (const run of runs) for (const name of Object.keys(sectionOf(run, section) ?? {})) names.add(name);
    keys.push(...[...names].sort((a, b) => a.localeCompare(b)).map((name) => `${section}.${name}`));
  }
  return keys;
}

/** The raw value of a chosen column for one run (undefined when the run has none). */
export function columnValue(run: TableRun, column: string): string | number | null | undefined {
  const key = splitColumnKey(column);
  if (!key) return undefined;
  return sectionOf(run, key.section)?.[key.name];
}

/** The text a chosen column shows: metrics with four significant digits, params and tags as logged. */
export function columnText(run: TableRun, column: string): string {
  const value = columnValue(run, column);
  if (value === undefined) return '';
  if (splitColumnKey(column)?.section === 'metrics') return formatMetric(value as number | null);
  return String(value);
}

/** A sort key's value for one run, for hosts that sort rows themselves (a notebook output). */
function sortValue(run: TableRun, sort: string, now: number): string | number | null | undefined {
  switch (sort) {
    case 'name':
    case 'status':
    case 'experiment':
      return run[sort];
    case 'start_time':
    case 'end_time': {
      const time = run[sort];
      return time ? Date.parse(time) : null;
    }
    case 'duration':
      return runDuration(run, now);
    default: {
      const value = columnValue(run, sort);
      // Params are text in the store; numbers among them still order as numbers.
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      return value;
    }
  }
}

/**
 * The runs ordered as the daemon's `listRuns` orders them: by `sort` in `order`, runs without a
 * value last either way, ties newest first. For hosts that hold every row already.
 */
export function sortRuns(runs: readonly TableRun[], sort: string, order: SortOrder, now: number = Date.now()): TableRun[] {
  const sign = order === 'asc' ? 1 : -1;
  const keyed = runs.map((run) => ({ run, value: sortValue(run, sort, now), start: Date.parse(run.start_time) }));
  keyed.sort((a, b) => {
    const missingA = a.value === null || a.value === undefined;
    const missingB = b.value === null || b.value === undefined;
    if (missingA || missingB) return missingA === missingB ? b.start - a.start : missingA ? 1 : -1;
    const byValue =
      typeof a.value === 'number' && typeof b.value === 'number'
        ? a.value - b.value
        : String(a.value).localeCompare(String(b.value));
    return byValue !== 0 ? sign * byValue : b.start - a.start;
  });
  return keyed.map(({ run }) => run);
}
