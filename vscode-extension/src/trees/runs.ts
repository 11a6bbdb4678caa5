import type { Run } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { WorkspaceDaemon } from '../services';
import { ago, DaemonTree } from './tree';

const STATUS_ICONS: Record<Run['status'], [string, string]> = {
  running: ['sync~spin', 'charts.blue'],
  finished: ['pass', 'charts.green'],
  failed: ['error', 'errorForeground'],
  killed: ['circle-slash', 'charts.orange'],
};

/** An experiment of the Runs tree: its runs are its children. */
export class ExperimentItem extends vscode.TreeItem {
  constructor(
    readonly experiment: string,
    readonly runs: RunItem[],
  ) {
    super(experiment, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `experiment:${experiment}`;
    this.description = `${runs.length} run${runs.length === 1 ? '' : 's'}`;
    this.iconPath = new vscode.ThemeIcon('beaker');
    this.contextValue = 'opsbook.experiment';
  }
}

/** A run of the Runs tree: opens its view when chosen. */
export class RunItem extends vscode.TreeItem {
  constructor(
    readonly run: Run,
    now = Date.now(),
  ) {
    super(run.name || run.id.slice(0, 8), vscode.TreeItemCollapsibleState.None);
    this.id = `run:${run.id}`;
    const metrics = Object.entries(run.metrics_latest ?? {})
      .filter(([key]) => !key.startsWith('quality.'))
      .slice(0, 3)
      .map(([key, value]) => `${key}=${formatNumber(value)}`);
    this.description = [run.status, ...metrics].join(' · ');
    const [icon, colour] = STATUS_ICONS[run.status];
    this.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
    const params = Object.entries(run.params ?? {}).map(([key, value]) => `${key} = ${value}`);
    const allMetrics = Object.entries(run.metrics_latest ?? {}).map(([key, value]) => `${key} = ${formatNumber(value)}`);
    this.tooltip = new vscode.MarkdownString(
      [
        `**${run.name || run.id}** — ${run.status}, started ${ago(run.start_time, now)}`,
        params.length ? `Params: ${params.join(', ')}` : '',
        allMetrics.length ? `Metrics: ${allMetrics.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
    this.contextValue = 'opsbook.run';
    this.command = { command: 'opsbook.openRun', title: 'Open Run', arguments: [run.id] };
  }
}

function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return 'NaN';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, '');
}

/** Groups runs by experiment, experiments and runs newest first, as the Runs tree shows them. */
export function groupRuns(runs: readonly Run[], now = Date.now()): ExperimentItem[] {
  const byExperiment = new Map<string, Run[]>();
  for (const run of runs) {
    if (run.deleted) continue;
    byExperiment.set(run.experiment, [...(byExperiment.get(run.experiment) ?? []), run]);
  }
  const newest = (list: Run[]): number => Math.max(...list.map((run) => Date.parse(run.start_time)));
  return [...byExperiment.entries()]
    .sort(([, a], [, b]) => newest(b) - newest(a))
    .map(
      ([experiment, list]) =>
        new ExperimentItem(
          experiment,
          [...list].sort((a, b) => Date.parse(b.start_time) - Date.parse(a.start_time)).map((run) => new RunItem(run, now)),
        ),
    );
}

/**
 * The Runs tree: runs grouped by experiment, live from the daemon's event stream. A `run` event
 * replaces or adds that run without a request; a `metrics` event has the list read again, at most
 * once a second; the list is read again each time the stream (re)opens.
 */
export class RunsTree extends DaemonTree<ExperimentItem | RunItem> {
  private runs = new Map<string, Run>();

  constructor(daemon: WorkspaceDaemon) {
    super(daemon);
    this.subscriptions.push(
      daemon.onEvent(({ name, data }) => {
        if (name === 'run') {
          const run = data as Run;
          this.runs.set(run.id, run);
          this.changedItems();
        } else if (name === 'metrics') {
          this.refreshSoon();
        }
      }),
      daemon.onConnected(() => this.refresh()),
    );
  }

  /** The runs the tree shows, by id (for Compare Selected Runs). */
  run(id: string): Run | undefined {
    return this.runs.get(id);
  }

  protected async roots(reread: boolean): Promise<ExperimentItem[]> {
    if (reread) {
      const { runs } = await (await this.daemon.client()).listRuns({ limit: 500 });
      this.runs = new Map(runs.map((run) => [run.id, run]));
    }
    return groupRuns([...this.runs.values()]);
  }

  protected override children(item: ExperimentItem | RunItem): RunItem[] {
    return item instanceof ExperimentItem ? item.runs : [];
  }
}
