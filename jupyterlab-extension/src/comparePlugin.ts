import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { WidgetTracker, type MainAreaWidget } from '@jupyterlab/apputils';
import { compareWidgetId, createCompareWidget, type ComparePanel } from './ComparePanel';
import { opsbookIcon } from './icon';
import { createSweepWidget, sweepWidgetId, type SweepPanel } from './SweepPanel';
import { CommandIds, COMPARE_EVENT, IOpsbookRuns, type CompareEventDetail } from './tokens';

/** Most runs one comparison takes (the API's limit). */
const MAX_COMPARED = 1000;

/**
 * The run ids of a command's `runIds` argument, once each, in order.
 * @throws Error naming the argument when it is not a non-empty list of strings or holds too many
 */
function runIdsOf(args: Record<string, unknown>): string[] {
  const value = args.runIds;
  if (!Array.isArray(value) || value.length === 0 || !value.every((id) => typeof id === 'string' && id.length > 0)) {
    throw new Error(`${CommandIds.compare}: runIds must be a non-empty list of run ids, got ${JSON.stringify(value)}`);
  }
  const ids = [...new Set(value as string[])];
  if (ids.length > MAX_COMPARED) throw new Error(`${CommandIds.compare}: at most ${MAX_COMPARED} runs can be compared, got ${ids.length}`);
  return ids;
}

/** Compare and sweep views in the main area, with their commands; restored with the layout. */
export const comparePlugin: JupyterFrontEndPlugin<void> = {
  id: '@opsbook/jupyterlab:compare',
  description: 'Opsbook runs side by side, and sweeps with parallel coordinates.',
  autoStart: true,
  requires: [IOpsbookRuns],
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, runs: IOpsbookRuns, restorer: ILayoutRestorer | null): void => {
    const { commands, shell } = app;
    const compareTracker = new WidgetTracker<MainAreaWidget<ComparePanel>>({ namespace: 'opsbook-compare' });
    const sweepTracker = new WidgetTracker<MainAreaWidget<SweepPanel>>({ namespace: 'opsbook-sweep' });
    const openRun = (runId: string): void => void commands.execute(CommandIds.openRun, { runId });

    commands.addCommand(CommandIds.compare, {
      label: (args) => (Array.isArray(args.runIds) ? `Compare ${args.runIds.length} Opsbook Runs` : 'Compare Opsbook Runs'),
      caption: 'Show runs side by side: params, metrics (best highlighted) and their charts overlaid',
      icon: opsbookIcon,
      execute: (args) => {
        const runIds = runIdsOf(args);
        const existing = compareTracker.find((widget) => widget.id === compareWidgetId(runIds));
        if (existing) {
          void existing.content.load();
          shell.activateById(existing.id);
          return;
        }
        const widget = createCompareWidget(runs, runIds, openRun);
        void compareTracker.add(widget);
        shell.add(widget, 'main');
        shell.activateById(widget.id);
      },
    });

    commands.addCommand(CommandIds.openSweep, {
      label: 'Open Opsbook Sweep',
      caption: 'Show a parent run’s children: a sortable table, parallel coordinates and param vs metric',
      icon: opsbookIcon,
      execute: (args) => {
        const runId = args.runId;
        if (typeof runId !== 'string' || runId.length === 0) {
          throw new Error(`${CommandIds.openSweep}: runId must be a run id, got ${JSON.stringify(runId)}`);
        }
        const existing = sweepTracker.find((widget) => widget.id === sweepWidgetId(runId));
        if (existing) {
          void existing.content.load();
          shell.activateById(existing.id);
          return;
        }
        const widget = createSweepWidget(runs, runId, openRun);
        void sweepTracker.add(widget);
        shell.add(widget, 'main');
        shell.activateById(widget.id);
      },
    });

    void restorer?.restore(compareTracker, {
      command: CommandIds.compare,
      args: (widget) => ({ runIds: [...widget.content.runIds] }),
      name: (widget) => widget.id,
    });
    void restorer?.restore(sweepTracker, {
      command: CommandIds.openSweep,
      args: (widget) => ({ runId: widget.content.runId }),
      name: (widget) => widget.content.runId,
    });

    // The compare output of `%opsbook runs compare` asks for the live view this way (a mime
    // renderer cannot reach commands).
    document.addEventListener(COMPARE_EVENT, (event) => {
      const detail = (event as CustomEvent<CompareEventDetail>).detail;
      if (!detail || !Array.isArray(detail.runIds)) return;
      event.preventDefault();
      void commands.execute(CommandIds.compare, { runIds: detail.runIds });
    });
  },
};
