import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ExplanationView } from '@opsbook/core/views';
import type { Explanation } from '@opsbook/schema';
import { OpsbookRenderer } from './OpsbookRenderer';

/** The mimetype of `%explain` and `opsbook.explain()` (`schema/explanation.schema.json`). */
export const EXPLAIN_MIME_TYPE = 'application/vnd.opsbook.explanation+json';

/**
 * Renders an explanation with its views: the beeswarm, mean |SHAP| and dependence plots of many
 * rows, the waterfall and force plot of a picked row, or LIME's weight bars.
 */
export class ExplainRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-ExplainRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const explanation = model.data[this.options.mimeType] as unknown as Explanation;
    return this.renderView(<ExplanationView explanation={explanation} />);
  }
}
