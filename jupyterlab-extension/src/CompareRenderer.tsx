import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { CompareView, type SeriesLoader } from '@opsbook/core/views';
import type { RunComparison } from '@opsbook/schema';
import { createRoot, type Root } from 'react-dom/client';
import { createLabClient } from './client';
import { seriesLoader } from './ComparePanel';
import { COMPARE_EVENT, type CompareEventDetail } from './tokens';

/** The mimetype of `%opsbook runs compare` (`schema/compare.schema.json`). */
export const COMPARE_MIME_TYPE = 'application/vnd.opsbook.compare+json';

let labSeries: SeriesLoader | undefined;

/**
 * Renders `%opsbook runs compare` output with the compare view. The table is the output's own data;
 * the overlay chart reads series through this Jupyter server's Opsbook API (and says so when it
 * cannot). A button opens the same runs in the live compare view of the main area.
 */
export class CompareRenderer extends Widget implements IRenderMime.IRenderer {
  private root: Root | null = null;

  constructor(private readonly options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('opsbook-CompareRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const comparison = model.data[this.options.mimeType] as unknown as RunComparison;
    labSeries ??= seriesLoader(createLabClient());
    const runIds = comparison.runs.map((run) => run.id);
    const options = model.metadata[this.options.mimeType] as { only_differences?: unknown } | undefined;
    this.root ??= createRoot(this.node);
    this.root.render(
      <>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-accept opsbook-CompareRenderer-open" onClick={() => this.requestCompare(runIds)}>
          Open in the compare view
        </button>
        <CompareView comparison={comparison} loadSeries={labSeries} initialOnlyDifferences={options?.only_differences === true} />
      </>,
    );
    return Promise.resolve();
  }

  override dispose(): void {
    this.root?.unmount();
    this.root = null;
    super.dispose();
  }

  private requestCompare(runIds: string[]): void {
    const event = new CustomEvent<CompareEventDetail>(COMPARE_EVENT, { detail: { runIds }, bubbles: true, cancelable: true });
    if (this.node.dispatchEvent(event)) window.alert('The Opsbook compare view is not available in this application.');
  }
}
