import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import type { ModelList, ModelVersion } from '@opsbook/schema';
import { ModelsList } from '@opsbook/core/views';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';
import type { IOpsbookRuns, RunsState } from './tokens';

type ModelsState = { kind: 'loading' } | { kind: 'ready'; list: ModelList } | { kind: 'error'; message: string };

/**
 * The "Models" section of the Opsbook sidebar: registered models with their versions, aliases and
 * parity figures. It has no poll of its own: it reads the registry when shown and again whenever
 * the run list changes while it is visible (a model is registered from a run, whose end changes it).
 */
export class ModelsPanel extends ReactWidget {
  private state: ModelsState = { kind: 'loading' };
  private releaseWatch: (() => void) | null = null;
  private readonly reading = new RepeatingTask(
    () => this.read(),
    () => this.isDisposed,
  );

  constructor(
    private readonly runs: IOpsbookRuns,
    private readonly openRun: (runId: string) => void,
  ) {
    super();
    this.id = 'opsbook-models';
    this.addClass('opsbook-ModelsPanel');
    this.title.label = 'Models';
    this.title.caption = 'Registered models: versions, aliases and ONNX parity';
    this.loadFigure = this.loadFigure.bind(this);
  }

  /** Reads the registry now (a read under way is followed by one more). Never rejects. */
  refresh(): Promise<void> {
    return this.reading.run();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.runs.runsChanged.connect(this.onRunsChanged, this);
    this.releaseWatch ??= this.runs.watch();
    void this.refresh();
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
    const state = this.state;
    return (
      <ModelsList
        models={state.kind === 'ready' ? state.list.models : undefined}
        error={state.kind === 'error' ? state.message : undefined}
        loadFigure={this.loadFigure}
        onOpenRun={this.openRun}
      />
    );
  }

  private loadFigure(version: ModelVersion): Promise<Blob> {
    if (!version.run_id || !version.parity_figure) return Promise.reject(new Error('this version has no parity figure'));
    return this.runs.client.artifactContent(version.run_id, version.parity_figure);
  }

  private onRunsChanged(_sender: IOpsbookRuns, state: RunsState): void {
    if (state.kind === 'ready' && this.isVisible) void this.refresh();
  }

  private async read(): Promise<void> {
    try {
      const list = await this.runs.client.listModels();
      const known = this.state.kind === 'ready' ? JSON.stringify(this.state.list) : null;
      if (known === JSON.stringify(list)) return;
      this.state = { kind: 'ready', list };
    } catch (reason) {
      this.state = { kind: 'error', message: describeError(reason) };
    }
    if (!this.isDisposed) this.update();
  }

  private stopWatching(): void {
    this.runs.runsChanged.disconnect(this.onRunsChanged, this);
    this.releaseWatch?.();
    this.releaseWatch = null;
  }
}
