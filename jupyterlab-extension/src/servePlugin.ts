import type { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, type ICommandPalette } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { SidePanel } from '@jupyterlab/ui-components';
import { Signal, type ISignal } from '@lumino/signaling';
import { followEvents, type OpsbookClient } from '@opsbook/core/client';
import type { Endpoint } from '@opsbook/schema';
import type { FrameKernel } from './kernelVariables';
import { CurrentNotebookKernel } from './qualityPlugin';
import { ServePanel, type ServeApi, type ServeChoice } from './ServePanel';
import type { IOpsbookRuns } from './tokens';

/** Serves a model picked from the registry or the kernel (palette: Opsbook › Serve Model…). */
export const SERVE_MODEL_COMMAND = 'opsbook:serve-model';
/** Stops a running endpoint (palette: Opsbook › Stop Endpoint). */
export const STOP_ENDPOINT_COMMAND = 'opsbook:stop-endpoint';

/** The serving operations over the lab's API client; `event: serve` on a stream of the section's own. */
export function createServeApi(client: OpsbookClient): ServeApi {
  return {
    start: (config) => client.startEndpoint(config) as Promise<Endpoint>,
    list: async () => (await client.listEndpoints()).endpoints as Endpoint[],
    stop: (name) => client.stopEndpoint(name) as Promise<Endpoint>,
    test: (name, request) => client.testEndpoint(name, request),
    listModels: () => client.listModels(),
    follow: (onServe, onOpen) => {
      const followed = followEvents(client, { onEvent: () => undefined, onServe: (event) => onServe(event.data), onOpen });
      return () => followed.close();
    },
  };
}

/** No notebook tracker (an application without notebooks): no kernel models to offer. */
class NoKernel implements FrameKernel {
  readonly kernel = null;
  readonly label = 'the notebook';
  readonly changed: ISignal<FrameKernel, void> = new Signal<FrameKernel, void>(this);
}

/** What the Serve section needs from the sidebar plugin that hosts it. */
export interface ServeSectionOptions {
  app: JupyterFrontEnd;
  sidebar: SidePanel;
  runs: IOpsbookRuns;
  notebooks: INotebookTracker | null;
  palette: ICommandPalette | null;
  /** The sidebar's id, activated when a command needs the section seen. */
  sidebarId: string;
}

/**
 * Adds the Serve section to the Opsbook sidebar and its palette commands: "Serve Model…" (pick a
 * registered model or a fitted kernel model; served in one step, as the section's buttons do) and
 * "Stop Endpoint" (pick a running endpoint).
 */
export function addServeSection({ app, sidebar, runs, notebooks, palette, sidebarId }: ServeSectionOptions): ServePanel {
  const panel = new ServePanel(createServeApi(runs.client), notebooks ? new CurrentNotebookKernel(notebooks) : new NoKernel());
  sidebar.addWidget(panel);

  app.commands.addCommand(SERVE_MODEL_COMMAND, {
    label: 'Serve Model…',
    caption: 'Serve a registered model or a fitted model of the notebook over the Open Inference Protocol (V2)',
    execute: async () => {
      app.shell.activateById(sidebarId);
      await panel.refresh();
      const choices = new Map<string, ServeChoice>();
      const variables = panel.variables;
      if (variables.kind === 'ready') for (const v of variables.models) choices.set(`${v.name} (kernel: ${v.type})`, { kind: 'kernel', name: v.name });
      if (panel.registry.kind === 'ready') for (const entry of panel.registry.value) for (const ref of entry.refs) choices.set(ref, { kind: 'registry', ref });
      if (choices.size === 0) {
        await InputDialog.getText({ title: 'Serve Model', label: 'No registered model and no fitted model in the notebook. Model reference or .onnx path:' }).then(async (answer) => {
          if (answer.button.accept && answer.value?.trim()) await panel.serve({ kind: 'registry', ref: answer.value.trim() });
        });
        return;
      }
      const answer = await InputDialog.getItem({ title: 'Serve Model', label: 'Model', items: [...choices.keys()] });
      const choice = answer.button.accept && answer.value ? choices.get(answer.value) : undefined;
      if (choice) await panel.serve(choice);
    },
  });

  app.commands.addCommand(STOP_ENDPOINT_COMMAND, {
    label: 'Stop Endpoint',
    caption: 'Stop an endpoint the Opsbook daemon runs (it drains, then exits)',
    execute: async () => {
      await panel.refresh();
      const live = panel.liveEndpoints();
      if (live.length === 0) {
        await InputDialog.getText({ title: 'Stop Endpoint', label: 'No endpoint is running.', text: '' });
        return;
      }
      const names = live.map((e) => e.name);
      const answer = await InputDialog.getItem({ title: 'Stop Endpoint', label: 'Endpoint', items: names });
      if (!answer.button.accept || !answer.value) return;
      try {
        await panel.stop(answer.value);
      } catch (reason) {
        app.shell.activateById(sidebarId);
        throw reason;
      }
    },
  });
  for (const command of [SERVE_MODEL_COMMAND, STOP_ENDPOINT_COMMAND]) palette?.addItem({ command, category: 'Opsbook' });
  return panel;
}
