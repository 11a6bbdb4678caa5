import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { OpsbookApiError } from '@opsbook/core/client';
import {
  DEFAULT_RUNS_TABLE_QUERY,
  filterRuns,
  RunsTable,
  type RunAnnotation,
  type RunsTableQuery,
  type TableRun,
} from '@opsbook/core/views';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';
import { opsbookIcon } from './icon';
import type { IOpsbookRuns, RunsEvent } from './tokens';

/** The workspace setting that keeps the table's columns, sort and filter (a contract with the daemon). */
export const RUNS_TABLE_SETTING = 'runs-table';
/** The most runs one read lists: the API's cap, which the virtualized table scrolls through easily. */
const PAGE_LIMIT = 10_000;
/** Milliseconds of quiet after the last change before the state is saved. */
const SAVE_DELAY_MS = 500;
/** Shortest time between two reads caused by changes pushed from the daemon. */
const REREAD_SPACING_MS = 500;

/** What the user chose that outlives a reload (the show-deleted switch does not). */
type SavedState = Pick<RunsTableQuery, 'columns' | 'sort' | 'order' | 'filter'>;

/** What the panel needs of the application: the runs service and the commands it may call. */
export interface RunsTableHost {
  runs: IOpsbookRuns;
  openRun: (runId: string) => void;
  /** Undefined while no extension provides comparing (the button is hidden). */
  compare: () => ((runIds: string[]) => void) | undefined;
  /** Undefined while no extension provides sweep views (child counts are only shown). */
  openSweep: () => ((runId: string) => void) | undefined;
}

/**
 * The runs table in the main area: a `listRuns` query kept in the workspace setting `runs-table`,
 * read again whenever the runs service reports a change (pushed by the daemon), and only while the
 * panel is visible. Annotations go through `updateRun`.
 */
export class RunsTablePanel extends ReactWidget {
  private query: RunsTableQuery = DEFAULT_RUNS_TABLE_QUERY;
  private rows: readonly TableRun[] = [];
  private total: number | undefined;
  private message: { text: string; error?: boolean } | undefined = { text: 'Loading runs…' };
  private releaseWatch: (() => void) | null = null;
  private restored: Promise<void>;
  private readonly reading = new RepeatingTask(
    () => this.read(),
    () => this.isDisposed,
  );
  private lastReadAt = 0;
  private rereadTimer: ReturnType<typeof setTimeout> | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: RunsTableHost) {
    super();
    this.id = 'opsbook-runs-table';
    this.addClass('opsbook-RunsTablePanel');
    this.restored = this.restore();
  }

  /** The query the table shows now. */
  get currentQuery(): RunsTableQuery {
    return this.query;
  }

  /**
   * Reads the runs for the current query now. Never rejects: a failure shows in the table.
   */
  async refresh(): Promise<void> {
    await this.restored;
    return this.reading.run();
  }

  /** One read of the current query; an answer to a query the user has since changed is dropped. */
  private async read(): Promise<void> {
    const query = this.query;
    this.lastReadAt = Date.now();
    try {
      const list = await this.host.runs.client.listRuns({
        filter: query.filter,
        sort: query.sort,
        order: query.order,
        deleted: query.deleted,
        limit: PAGE_LIMIT,
      });
      if (query !== this.query) return;
      this.rows = list.runs as TableRun[];
      this.total = list.total;
      this.message = undefined;
    } catch (reason) {
      if (query !== this.query) return;
      this.message = { text: `Could not list the runs: ${describeError(reason)}`, error: true };
    }
    this.update();
  }

  override dispose(): void {
    this.stopWatching();
    clearTimeout(this.rereadTimer);
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      void this.save();
    }
    super.dispose();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this.releaseWatch) {
      this.releaseWatch = this.host.runs.watch();
      this.host.runs.events.connect(this.onEvent, this);
    }
    void this.refresh();
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopWatching();
  }

  protected render(): JSX.Element {
    return (
      <RunsTable
        runs={this.rows}
        total={this.total}
        query={this.query}
        message={this.message}
        onQueryChange={(query) => this.setQuery(query)}
        onOpen={this.host.openRun}
        onCompare={this.host.compare()}
        onOpenSweep={this.host.openSweep()}
        onUpdate={(runId, change) => this.annotate(runId, change)}
        label="Runs of this workspace"
      />
    );
  }

  private stopWatching(): void {
    this.releaseWatch?.();
    this.releaseWatch = null;
    this.host.runs.events.disconnect(this.onEvent, this);
  }

  /**
   * Reads again only for an event that can change what the table shows: one about a run it lists,
   * or a run its filter takes in (a new run, a restored one), or a stream that (re)opened and may
   * have missed some. A change elsewhere in the workspace costs no request.
   */
  private onEvent(_sender: IOpsbookRuns, event: RunsEvent): void {
    if (event.type === 'opened') {
      this.onRunsChanged();
      return;
    }
    const runId = event.type === 'run' ? event.data.id : event.data.run_id;
    const listed = this.rows.some((row) => row.id === runId);
    const takenIn =
      event.type === 'run' &&
      (this.query.deleted === 'include' || Boolean(event.data.deleted) === (this.query.deleted === 'only')) &&
      filterRuns([event.data], this.query.filter).length > 0;
    if (listed || takenIn) this.onRunsChanged();
  }

  /** A run changed somewhere: read again, at most every {@link REREAD_SPACING_MS} while changes stream in. */
  private onRunsChanged(): void {
    if (this.rereadTimer !== undefined) return;
    const wait = Math.max(0, this.lastReadAt + REREAD_SPACING_MS - Date.now());
    this.rereadTimer = setTimeout(() => {
      this.rereadTimer = undefined;
      if (this.isVisible) void this.refresh();
    }, wait);
  }

  private setQuery(query: RunsTableQuery): void {
    this.query = query;
    this.update();
    void this.refresh();
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => void this.save(), SAVE_DELAY_MS);
  }

  /** Saves the state; a failure is logged, since the table itself still works. */
  private async save(): Promise<void> {
    this.saveTimer = undefined;
    const { columns, sort, order, filter } = this.query;
    const state: SavedState = { columns, sort, order, filter };
    try {
      await this.host.runs.client.putWorkspaceSetting(RUNS_TABLE_SETTING, state);
    } catch (reason) {
      console.warn(`Opsbook: the runs table's state could not be saved: ${describeError(reason)}`);
    }
  }

  /** Reads the saved state; unset (404) or unreadable, the table starts from the defaults. */
  private async restore(): Promise<void> {
    try {
      const saved = await this.host.runs.client.getWorkspaceSetting(RUNS_TABLE_SETTING);
      this.query = { ...DEFAULT_RUNS_TABLE_QUERY, ...savedState(saved.value) };
    } catch (reason) {
      if (!(reason instanceof OpsbookApiError && reason.status === 404)) {
        console.warn(`Opsbook: the runs table's saved state could not be read: ${describeError(reason)}`);
      }
    }
    this.update();
  }

  /**
   * Saves an annotation, then reads the list again so the row shows it.
   * @throws the API's refusal, which the table shows
   */
  private async annotate(runId: string, change: RunAnnotation): Promise<void> {
    await this.host.runs.client.updateRun(runId, change);
    await this.refresh();
  }
}

/** The fields of a saved value that have the right shape; others fall back to the defaults. */
function savedState(value: unknown): Partial<SavedState> {
  if (typeof value !== 'object' || value === null) return {};
  const saved = value as Record<string, unknown>;
  const state: Partial<SavedState> = {};
  if (Array.isArray(saved.columns)) state.columns = saved.columns.filter((column): column is string => typeof column === 'string');
  if (typeof saved.sort === 'string' && saved.sort) state.sort = saved.sort;
  if (saved.order === 'asc' || saved.order === 'desc') state.order = saved.order;
  if (typeof saved.filter === 'string') state.filter = saved.filter;
  return state;
}

/** Wraps a {@link RunsTablePanel} for the main area, titled "Runs". */
export function createRunsTableWidget(host: RunsTableHost): MainAreaWidget<RunsTablePanel> {
  const content = new RunsTablePanel(host);
  const widget = new MainAreaWidget({ content });
  widget.id = 'opsbook-runs-table-widget';
  widget.title.label = 'Runs';
  widget.title.caption = 'Opsbook: every run of this workspace';
  widget.title.icon = opsbookIcon;
  widget.title.closable = true;
  return widget;
}
