import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { createRoot, type Root } from 'react-dom/client';
import { OPEN_RUN_EVENT, type OpenRunEventDetail } from './tokens';

/** A React root in a widget, with the way an output asks the sidebar to open a run. */
export abstract class OpsbookRenderer extends Widget implements IRenderMime.IRenderer {
  private root: Root | null = null;

  constructor(
    protected readonly options: IRenderMime.IRendererOptions,
    className: string,
  ) {
    super();
    this.addClass(className);
  }

  abstract renderModel(model: IRenderMime.IMimeModel): Promise<void>;

  override dispose(): void {
    this.root?.unmount();
    this.root = null;
    super.dispose();
  }

  protected renderView(element: JSX.Element): Promise<void> {
    this.root ??= createRoot(this.node);
    this.root.render(element);
    return Promise.resolve();
  }

  protected requestOpen(runId: string): void {
    const event = new CustomEvent<OpenRunEventDetail>(OPEN_RUN_EVENT, { detail: { runId }, bubbles: true, cancelable: true });
    const handled = !this.node.dispatchEvent(event);
    if (!handled) {
      window.alert('The Opsbook sidebar is not available in this application.');
    }
  }
}
