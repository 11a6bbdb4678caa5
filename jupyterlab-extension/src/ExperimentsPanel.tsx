import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { RunList } from '@opsbook/core/views';
import { useEffect, useState } from 'react';
import type { IOpsbookRuns, RunsState } from './tokens';

/**
 * The "Experiments" section of the Opsbook sidebar: the workspace's runs, following the live event
 * stream while visible.
 */
export class ExperimentsPanel extends ReactWidget {
  private releaseWatch: (() => void) | null = null;
  private selectedRunId: string | undefined;

  constructor(
    private readonly runs: IOpsbookRuns,
    private readonly openRun: (runId: string) => void,
  ) {
    super();
    this.id = 'opsbook-experiments';
    this.addClass('opsbook-ExperimentsPanel');
    this.title.label = 'Experiments';
    this.title.caption = 'Runs of this workspace, grouped by experiment';
  }

  /** Marks the run whose view is open. */
  set currentRunId(runId: string | undefined) {
    this.selectedRunId = runId;
    this.update();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.releaseWatch ??= this.runs.watch();
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopWatching();
  }

  override dispose(): void {
    this.stopWatching();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.runs.runsChanged} initialArgs={this.runs.state}>
        {(_, state) => (
          <RunsView
            state={state ?? this.runs.state}
            interval={this.runs.refreshInterval}
            selectedRunId={this.selectedRunId}
            onOpen={(runId) => {
              this.currentRunId = runId;
              this.openRun(runId);
            }}
            onRetry={() => void this.runs.refresh()}
          />
        )}
      </UseSignal>
    );
  }

  private stopWatching(): void {
    this.releaseWatch?.();
    this.releaseWatch = null;
  }
}

function RunsView({
  state,
  interval,
  selectedRunId,
  onOpen,
  onRetry,
}: {
  state: RunsState;
  interval: number;
  selectedRunId: string | undefined;
  onOpen: (runId: string) => void;
  onRetry: () => void;
}): JSX.Element {
  const now = useClock(Math.max(interval, 1000));
  switch (state.kind) {
    case 'loading':
      return (
        <p className="opsbook-ExperimentsPanel-message" role="status">
          Loading runs…
        </p>
      );
    case 'error':
      return (
        <div className="opsbook-ExperimentsPanel-message opsbook-ExperimentsPanel-error" role="alert">
          <p>Opsbook is unreachable: {state.message}</p>
          <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={onRetry}>
            Retry
          </button>
        </div>
      );
    case 'ready':
      if (state.runs.length === 0) {
        return (
          <p className="opsbook-ExperimentsPanel-message opsbook-ExperimentsPanel-empty">
            No runs yet — run a cell with <code>%%track</code>.
          </p>
        );
      }
      return <RunList runs={state.runs} now={now} selectedRunId={selectedRunId} onOpenRun={(run) => onOpen(run.id)} />;
  }
}

/** The current time, ticking every `intervalMs`, so relative times and running durations move. */
function useClock(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
