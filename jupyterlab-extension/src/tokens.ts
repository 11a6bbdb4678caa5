import type { LiveEvent, OpsbookClient } from '@opsbook/core/client';
import type { QualityProgress, Run } from '@opsbook/schema';
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

/** Where the run list stands: loading before the first answer, then ready or error. */
export type RunsState =
  | { kind: 'loading' }
  | { kind: 'ready'; runs: readonly Run[] }
  | { kind: 'error'; message: string };

/**
 * What the live stream reports: a {@link LiveEvent} (a run as listed, or new metric points of a
 * run), or `opened` when the stream (re)opened, after which a view reads what it shows afresh.
 */
export type RunsEvent = LiveEvent | { type: 'opened' };

/**
 * The runs of this workspace as the Opsbook sidebar sees them, shared with other extensions.
 * Provided by `@opsbook/jupyterlab:runs`.
 */
export interface IOpsbookRuns {
  /** Typed client of the Opsbook API, routed through the Jupyter server (its auth and XSRF). */
  readonly client: OpsbookClient;
  /** The latest list (newest first) or why there is none. */
  readonly state: RunsState;
  /** Emitted after each change of the list (new run, status, annotations, metrics) or its state. */
  readonly runsChanged: ISignal<IOpsbookRuns, RunsState>;
  /** Each event of the daemon's live stream, while someone is watching (see {@link watch}). */
  readonly events: ISignal<IOpsbookRuns, RunsEvent>;
  /** The progress of quality jobs (`event: quality`), while someone is watching (see {@link watch}). */
  readonly qualityProgress: ISignal<IOpsbookRuns, QualityProgress>;
  /** Least milliseconds between reads of the list while metrics stream in. */
  refreshInterval: number;
  /**
   * Fetches the list now. Never rejects: a failure becomes the `error` state.
   */
  refresh(): Promise<void>;
  /**
   * Declares interest in live updates: while at least one watcher holds it and the page is visible,
   * the page keeps one event stream open and the list follows it (no polling).
   * @returns a function that releases this watch
   */
  watch(): () => void;
}

/** The Lumino token for {@link IOpsbookRuns}. */
export const IOpsbookRuns = new Token<IOpsbookRuns>(
  '@opsbook/jupyterlab:IOpsbookRuns',
  'The runs of the workspace, the Opsbook API client, and a signal when runs change.',
);

/** Commands this extension registers. */
export const CommandIds = {
  openSidebar: 'opsbook:open-sidebar',
  refreshRuns: 'opsbook:refresh-runs',
  openRun: 'opsbook:open-run',
  openRunsTable: 'opsbook:open-runs-table',
  /** Opens runs side by side; args `{runIds: string[]}`. */
  compare: 'opsbook:compare',
  /** Opens a sweep (a parent run and its children); args `{runId}`. */
  openSweep: 'opsbook:open-sweep',
  /** Shows the Data Quality sidebar panel. */
  openQuality: 'opsbook:open-quality',
} as const;

/**
 * DOM event a rendered `%%track` card dispatches to ask for its run to be opened. Mime renderer
 * extensions get no access to the app's commands, so the card bubbles this up to the sidebar plugin.
 */
export const OPEN_RUN_EVENT = 'opsbook-open-run';

/** Detail of {@link OPEN_RUN_EVENT}. */
export interface OpenRunEventDetail {
  runId: string;
}

/**
 * DOM event a rendered `%opsbook runs compare` output dispatches to open its runs in the compare
 * view of the main area (as {@link OPEN_RUN_EVENT}, since a mime renderer cannot reach commands).
 */
export const COMPARE_EVENT = 'opsbook-compare';

/** Detail of {@link COMPARE_EVENT}. */
export interface CompareEventDetail {
  runIds: string[];
}
