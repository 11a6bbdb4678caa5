import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker, type MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { SidePanel, ToolbarButton, refreshIcon, tableRowsIcon } from '@jupyterlab/ui-components';
import { createLabClient } from './client';
import { comparePlugin } from './comparePlugin';
import { addDeploySection } from './deployPlugin';
import { explainPlugin } from './explainPlugin';
import { ExperimentsPanel } from './ExperimentsPanel';
import { ModelsPanel } from './ModelsPanel';
import { qualityPlugin } from './qualityPlugin';
import { addServeSection } from './servePlugin';
import { opsbookIcon } from './icon';
import { createRunWidget, runWidgetId, type RunPanel } from './RunPanel';
import { DEFAULT_REFRESH_INTERVAL, RunsModel } from './runs';
import { createRunsTableWidget, type RunsTablePanel } from './RunsTablePanel';
import { CommandIds, IOpsbookRuns, OPEN_RUN_EVENT, type OpenRunEventDetail } from './tokens';

export { IOpsbookRuns, CommandIds, OPEN_RUN_EVENT, type OpenRunEventDetail, type RunsState } from './tokens';

const SIDEBAR_ID = 'opsbook-sidebar';

/** Provides {@link IOpsbookRuns}: the API client and the run list, kept current by the live event stream. */
const runsPlugin: JupyterFrontEndPlugin<IOpsbookRuns> = {
  id: '@opsbook/jupyterlab:runs',
  description: 'The Opsbook API client and the runs of this workspace.',
  autoStart: true,
  provides: IOpsbookRuns,
  activate: (): IOpsbookRuns => new RunsModel(createLabClient()),
};

/** The Opsbook sidebar tab, its Experiments panel, the run view and their commands. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: '@opsbook/jupyterlab:sidebar',
  description: 'The Opsbook sidebar: experiments and runs, with a view per run; registered models; serving endpoints; Kubernetes deployments.',
  autoStart: true,
  requires: [IOpsbookRuns],
  optional: [ICommandPalette, ISettingRegistry, ILayoutRestorer, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    runs: IOpsbookRuns,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
  ): void => {
    const { commands, shell } = app;
    const tracker = new WidgetTracker<MainAreaWidget<RunPanel>>({ namespace: 'opsbook-run' });

    const experiments = new ExperimentsPanel(runs, (runId) => void commands.execute(CommandIds.openRun, { runId }));
    const sidebar = new SidePanel();
    sidebar.id = SIDEBAR_ID;
    sidebar.title.icon = opsbookIcon;
    sidebar.title.caption = 'Opsbook: experiments and runs';
    sidebar.addClass('opsbook-Sidebar');
    const heading = document.createElement('h2');
    heading.className = 'opsbook-Sidebar-heading';
    heading.textContent = 'Opsbook';
    sidebar.header.node.appendChild(heading);
    sidebar.toolbar.addItem(
      'refresh',
      new ToolbarButton({ icon: refreshIcon, tooltip: 'Refresh runs', onClick: () => void commands.execute(CommandIds.refreshRuns) }),
    );
    sidebar.toolbar.addItem(
      'runs-table',
      new ToolbarButton({
        icon: tableRowsIcon,
        tooltip: 'Open the runs table',
        onClick: () => void commands.execute(CommandIds.openRunsTable),
      }),
    );
    sidebar.addWidget(experiments);
    sidebar.addWidget(new ModelsPanel(runs, (runId) => void commands.execute(CommandIds.openRun, { runId })));
    // Serving: one click on a registered or kernel model, the endpoints live, and the palette commands.
    addServeSection({ app, sidebar, runs, notebooks, palette, sidebarId: SIDEBAR_ID });
    // Kubernetes: preview and apply a deployment of a registered or served model, and the deployments live.
    addDeploySection({ sidebar, runs });
    shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, SIDEBAR_ID);

    commands.addCommand(CommandIds.openSidebar, {
      label: 'Open the Opsbook Sidebar',
      caption: 'Show the runs of this workspace',
      icon: opsbookIcon,
      execute: () => shell.activateById(SIDEBAR_ID),
    });

    commands.addCommand(CommandIds.refreshRuns, {
      label: 'Refresh Opsbook Runs',
      icon: refreshIcon,
      execute: () => runs.refresh(),
    });

    commands.addCommand(CommandIds.openRun, {
      label: (args) => (typeof args.runId === 'string' ? 'Open Opsbook Run' : 'Open Latest Opsbook Run'),
      caption: 'Open a run (the newest one when no run id is given) in the main area',
      icon: opsbookIcon,
      execute: async (args) => {
        let runId = typeof args.runId === 'string' ? args.runId : undefined;
        if (!runId) {
          const latest = await runs.client.listRuns({ limit: 1 });
          runId = latest.runs[0]?.id;
          if (!runId) return;
        }
        const existing = tracker.find((widget) => widget.id === runWidgetId(runId));
        if (existing) {
          void existing.content.load();
          shell.activateById(existing.id);
          return;
        }
        const widget = createRunWidget(runs, runId);
        widget.content.openRun = (id) => void commands.execute(CommandIds.openRun, { runId: id });
        widget.content.openSweep = (id) => void commands.execute(CommandIds.openSweep, { runId: id });
        void tracker.add(widget);
        shell.add(widget, 'main');
        shell.activateById(widget.id);
        experiments.currentRunId = runId;
      },
    });

    const tableTracker = new WidgetTracker<MainAreaWidget<RunsTablePanel>>({ namespace: 'opsbook-runs-table' });
    commands.addCommand(CommandIds.openRunsTable, {
      label: 'Open the Opsbook Runs Table',
      caption: 'Every run of this workspace in a sortable, filterable table',
      icon: tableRowsIcon,
      execute: () => {
        const open = tableTracker.currentWidget;
        if (open && !open.isDisposed) {
          shell.activateById(open.id);
          return;
        }
        // Compare and sweep views come from another plugin; their buttons show only once it is there.
        const optional = <T,>(command: string, run: T): (() => T | undefined) => () => (commands.hasCommand(command) ? run : undefined);
        const widget = createRunsTableWidget({
          runs,
          openRun: (runId) => void commands.execute(CommandIds.openRun, { runId }),
          compare: optional(CommandIds.compare, (runIds: string[]) => void commands.execute(CommandIds.compare, { runIds })),
          openSweep: optional(CommandIds.openSweep, (runId: string) => void commands.execute(CommandIds.openSweep, { runId })),
        });
        const onCommandsChanged = (): void => widget.content.update();
        commands.commandChanged.connect(onCommandsChanged);
        widget.disposed.connect(() => commands.commandChanged.disconnect(onCommandsChanged));
        void tableTracker.add(widget);
        shell.add(widget, 'main');
        shell.activateById(widget.id);
      },
    });
    void restorer?.restore(tableTracker, { command: CommandIds.openRunsTable, name: () => 'runs-table' });

    void restorer?.restore(tracker, {
      command: CommandIds.openRun,
      args: (widget) => ({ runId: widget.content.runId }),
      name: (widget) => widget.content.runId,
    });

    if (palette) {
      const category = 'Opsbook';
      for (const command of [CommandIds.openSidebar, CommandIds.refreshRuns, CommandIds.openRun, CommandIds.openRunsTable]) {
        palette.addItem({ command, category });
      }
    }

    // A `%%track` card (mime renderer) asks for its run this way; it cannot reach commands itself.
    document.addEventListener(OPEN_RUN_EVENT, (event) => {
      const detail = (event as CustomEvent<OpenRunEventDetail>).detail;
      if (!detail || typeof detail.runId !== 'string') return;
      event.preventDefault();
      shell.activateById(SIDEBAR_ID);
      void commands.execute(CommandIds.openRun, { runId: detail.runId });
    });

    const applySettings = (settings: ISettingRegistry.ISettings): void => {
      const interval = settings.get('refreshInterval').composite;
      runs.refreshInterval = typeof interval === 'number' ? interval : DEFAULT_REFRESH_INTERVAL;
    };
    if (settingRegistry) {
      settingRegistry
        .load(sidebarPlugin.id)
        .then((settings) => {
          applySettings(settings);
          settings.changed.connect(applySettings);
        })
        .catch((reason: unknown) => console.warn('Opsbook: settings could not be loaded; using defaults.', reason));
    }
  },
};

export default [runsPlugin, sidebarPlugin, comparePlugin, qualityPlugin, explainPlugin];
