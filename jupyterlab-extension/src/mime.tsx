import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { RunCard } from '@opsbook/core/views';
import type { TrackOutput } from '@opsbook/schema';
import { createRoot, type Root } from 'react-dom/client';
import { OPEN_RUN_EVENT, type OpenRunEventDetail } from './tokens';

/** The mimetype of the card a `%%track` cell displays (`schema/track-output.schema.json`). */
export const RUN_MIME_TYPE = 'application/vnd.opsbook.run+json';

/** Renders a tracked run as a compact card with a button that opens it in the Opsbook sidebar view. */
export class RunCardRenderer extends Widget implements IRenderMime.IRenderer {
  private root: Root | null = null;

  constructor(private readonly options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('opsbook-RunCardRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const output = model.data[this.options.mimeType] as unknown as TrackOutput;
    this.root ??= createRoot(this.node);
    this.root.render(<RunCard output={output} onOpenRun={(runId) => this.requestOpen(runId)} />);
    return Promise.resolve();
  }

  override dispose(): void {
    this.root?.unmount();
    this.root = null;
    super.dispose();
  }

  private requestOpen(runId: string): void {
    const event = new CustomEvent<OpenRunEventDetail>(OPEN_RUN_EVENT, { detail: { runId }, bubbles: true, cancelable: true });
    const handled = !this.node.dispatchEvent(event);
    if (!handled) {
      window.alert('The Opsbook sidebar is not available in this application.');
    }
  }
}

const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [RUN_MIME_TYPE],
  defaultRank: 0,
  createRenderer: (options) => new RunCardRenderer(options),
};

const extension: IRenderMime.IExtension = {
  id: '@opsbook/jupyterlab:run-renderer',
  description: 'Renders the card a %%track cell displays.',
  rendererFactory,
  rank: 0,
  dataType: 'json',
};

export default extension;
