import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { QualityOutputView } from '@opsbook/core/views';
import type { QualityOutput } from '@opsbook/schema';
import { OpsbookRenderer } from './OpsbookRenderer';

/** The mimetype of `%check`, `%%check`, `%drift` and `%opsbook profile` (`schema/quality-output.schema.json`). */
export const QUALITY_MIME_TYPE = 'application/vnd.opsbook.quality+json';

/**
 * Renders a quality output with the view of its kind: a suite's checks with their failing rows and
 * histograms, a profile, or a drift report. A check result recorded on a run opens it in the sidebar.
 */
export class QualityRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-QualityRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const output = model.data[this.options.mimeType] as unknown as QualityOutput;
    return this.renderView(<QualityOutputView output={output} onOpenRun={(runId) => this.requestOpen(runId)} />);
  }
}
