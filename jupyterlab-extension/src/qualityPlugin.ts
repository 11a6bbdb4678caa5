import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, type Notebook, type NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import { Signal, type ISignal } from '@lumino/signaling';
import { qualityIcon } from './icon';
import type { FrameKernel } from './kernelVariables';
import { QualityPanel } from './QualityPanel';
import { CommandIds, IOpsbookRuns } from './tokens';

/**
 * The kernel of the notebook last focused in the main area. It reports a change when another notebook
 * becomes current, when that notebook's kernel changes, and after cells of it ran (once per run
 * command, not per cell), which is when its dataframes may have changed.
 */
export class CurrentNotebookKernel implements FrameKernel {
  private readonly signal = new Signal<FrameKernel, void>(this);
  private watched: NotebookPanel | null = null;

  constructor(private readonly notebooks: INotebookTracker) {
    notebooks.currentChanged.connect(this.onCurrentChanged, this);
    NotebookActions.selectionExecuted.connect(this.onExecuted, this);
    this.onCurrentChanged();
  }

  get kernel(): Kernel.IKernelConnection | null {
    return this.notebooks.currentWidget?.sessionContext.session?.kernel ?? null;
  }

  get label(): string {
    return this.notebooks.currentWidget?.context.localPath.split('/').pop() ?? 'the notebook';
  }

  get changed(): ISignal<FrameKernel, void> {
    return this.signal;
  }

  private onCurrentChanged(): void {
    this.watched?.sessionContext.kernelChanged.disconnect(this.onKernelChanged, this);
    this.watched = this.notebooks.currentWidget;
    this.watched?.sessionContext.kernelChanged.connect(this.onKernelChanged, this);
    this.signal.emit();
  }

  private onKernelChanged(): void {
    this.signal.emit();
  }

  private onExecuted(_: unknown, args: { notebook: Notebook }): void {
    if (args.notebook === this.notebooks.currentWidget?.content) this.signal.emit();
  }
}

/** The Data Quality panel of the left sidebar, with its command. */
export const qualityPlugin: JupyterFrontEndPlugin<void> = {
  id: '@opsbook/jupyterlab:quality',
  description: 'The Opsbook Data Quality panel: check suites, profiles and failing rows of kernel dataframes and files.',
  autoStart: true,
  requires: [IOpsbookRuns, INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    runs: IOpsbookRuns,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
  ): void => {
    const panel = new QualityPanel(runs, new CurrentNotebookKernel(notebooks), {
      openRun: (runId) => void app.commands.execute(CommandIds.openRun, { runId }),
      readTextFile: async (path) => {
        const model = await app.serviceManager.contents.get(path, { type: 'file', format: 'text', content: true });
        if (typeof model.content !== 'string') throw new Error(`${path} is not a text file`);
        return model.content;
      },
    });
    panel.title.icon = qualityIcon;
    app.shell.add(panel, 'left', { rank: 860 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(CommandIds.openQuality, {
      label: 'Open the Data Quality Panel',
      caption: 'Check a dataframe of the kernel, or a file, against a suite',
      icon: qualityIcon,
      execute: () => app.shell.activateById(panel.id),
    });
    palette?.addItem({ command: CommandIds.openQuality, category: 'Opsbook' });
  },
};
