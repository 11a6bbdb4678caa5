import { AccordionPanel } from '@lumino/widgets';
import type { SidePanel } from '@jupyterlab/ui-components';
import { followEvents, type OpsbookClient } from '@opsbook/core/client';
import type { Deployment, DeploymentActionResult, DeployPlan, DeployResult, Endpoint, KubeContexts } from '@opsbook/schema';
import { DeployPanel, type DeployApi } from './DeployPanel';
import type { IOpsbookRuns } from './tokens';

/** The deploy operations over the lab's API client; `event: deploy` on a stream of the section's own, open while a deploy runs. */
export function createDeployApi(client: OpsbookClient): DeployApi {
  return {
    plan: (request) => client.planDeployment(request) as Promise<DeployPlan>,
    apply: (request) => client.applyDeployment(request) as Promise<DeployResult>,
    contexts: () => client.listKubeContexts() as Promise<KubeContexts>,
    list: async () => (await client.listDeployments({ live: true })).deployments as Deployment[],
    promote: (name, body) => client.promoteDeployment(name, body) as Promise<DeploymentActionResult>,
    rollback: (name, body) => client.rollbackDeployment(name, body) as Promise<DeploymentActionResult>,
    remove: (name, where) => client.deleteDeployment(name, where) as Promise<DeploymentActionResult>,
    listModels: () => client.listModels(),
    listEndpoints: async () => (await client.listEndpoints()).endpoints as Endpoint[],
    follow: (onDeploy, onOpen) => {
      const followed = followEvents(client, { onEvent: () => undefined, onDeploy: (event) => onDeploy(event.data), onOpen });
      return () => followed.close();
    },
  };
}

/** Adds the Deploy section to the Opsbook sidebar. */
export function addDeploySection({ sidebar, runs }: { sidebar: SidePanel; runs: IOpsbookRuns }): DeployPanel {
  const panel = new DeployPanel(createDeployApi(runs.client));
  sidebar.addWidget(panel);
  // Collapsed until opened: expanded, its form took the height the Experiments and Models sections
  // share, and pushed their rows out of reach.
  const content = sidebar.content;
  if (content instanceof AccordionPanel) content.collapse(sidebar.widgets.indexOf(panel));
  return panel;
}
