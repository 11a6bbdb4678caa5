import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { followEvents, type OpsbookClient } from '@opsbook/core/client';
import type { ExplainProgress, Explanation } from '@opsbook/schema';
import { ExplainPanel, type ExplainApi } from './ExplainPanel';
import { CurrentNotebookKernel } from './qualityPlugin';
import { IOpsbookRuns } from './tokens';

/** Shows the Explain sidebar panel. */
export const OPEN_EXPLAIN_COMMAND = 'opsbook:open-explain';

/** Bars of contributions rising from a base line: the Explain panel. */
const EXPLAIN_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7 13h4v4H7z M9 8h5v4H9z M12 5h7v2h-7z M14 15h3v2h-3z"/>
  </g>
</svg>`;

export const explainIcon = new LabIcon({ name: 'opsbook:explain', svgstr: EXPLAIN_SVG });

/**
 * Follows the daemon's event stream for the `event: explain` messages of one job, on a stream of its
 * own held only while the job runs (the shared stream of {@link IOpsbookRuns} passes on quality
 * progress only). A stream that cannot be opened leaves the progress bar indeterminate.
 */
function followExplainProgress(client: OpsbookClient, jobId: string, onProgress: (progress: ExplainProgress) => void): () => void {
  const followed = followEvents(client, {
    onEvent: () => undefined,
    onExplain: (event) => {
      if (event.data.job_id === jobId) onProgress(event.data);
    },
  });
  return () => followed.close();
}

/** The explanation operations over the lab's API client. */
export function createExplainApi(runs: IOpsbookRuns): ExplainApi {
  const client = runs.client;
  let workspace: Promise<string> | null = null;
  return {
    // The OpenAPI types read feature_names as string[]; explanation.schema.json (the same body) as non-empty.
    explain: async (request) => (await client.explainModel(request)) as Explanation,
    cancel: async (jobId) => {
      await client.cancelExplainJob(jobId);
    },
    follow: (jobId, onProgress) => followExplainProgress(client, jobId, onProgress),
    listModels: () => client.listModels(),
    workspace: () => {
      workspace ??= client.health().then(
        (info) => info.workspace.replace(/\/+$/, ''),
        (reason: unknown) => {
          workspace = null;
          throw reason;
        },
      );
      return workspace;
    },
  };
}

/** The Explain panel of the left sidebar, with its command. */
export const explainPlugin: JupyterFrontEndPlugin<void> = {
  id: '@opsbook/jupyterlab:explain',
  description: 'The Opsbook Explain panel: SHAP and LIME explanations of registry or kernel models on dataframes and files.',
  autoStart: true,
  requires: [IOpsbookRuns, INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, runs: IOpsbookRuns, notebooks: INotebookTracker, palette: ICommandPalette | null, restorer: ILayoutRestorer | null): void => {
    const panel = new ExplainPanel(createExplainApi(runs), new CurrentNotebookKernel(notebooks));
    panel.title.icon = explainIcon;
    app.shell.add(panel, 'left', { rank: 870 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(OPEN_EXPLAIN_COMMAND, {
      label: 'Open the Explain Panel',
      caption: 'Explain a model on rows of a dataframe or file (TreeSHAP, KernelSHAP, LIME)',
      icon: explainIcon,
      execute: () => app.shell.activateById(panel.id),
    });
    palette?.addItem({ command: OPEN_EXPLAIN_COMMAND, category: 'Opsbook' });
  },
};
