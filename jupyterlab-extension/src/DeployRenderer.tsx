import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { OpsbookClient } from '@opsbook/core/client';
import { DeployOutputView, classifyDeployOutput } from '@opsbook/core/views';
import type { Deployment } from '@opsbook/schema';
import { useState } from 'react';
import { createLabClient } from './client';
import { OpsbookRenderer } from './OpsbookRenderer';

/** The mimetype of `%deploy` (a DeployPlan, DeployResult, DeploymentList, Deployment or DeploymentActionResult of `schema/deploy.schema.json`). */
export const DEPLOY_MIME_TYPE = 'application/vnd.opsbook.deploy+json';

let labClient: OpsbookClient | undefined;

function client(): OpsbookClient {
  labClient ??= createLabClient();
  return labClient;
}

/**
 * A `%deploy` output. Deployments in it (a list, one, or the one an action answered) keep their
 * Promote / Rollback / Delete buttons, through this Jupyter server's Opsbook API; after one, the
 * deployments are read again with their live status and shown in place of the output's.
 */
function DeployOutput({ value }: { value: unknown }): JSX.Element {
  const [deployments, setDeployments] = useState<Deployment[] | undefined>(undefined);
  const kind = classifyDeployOutput(value).kind;
  const reread = async (): Promise<void> => {
    if (kind !== 'list' && kind !== 'deployment') return;
    const list = (await client().listDeployments({ live: true })).deployments as Deployment[];
    const one = value as Deployment;
    setDeployments(kind === 'list' ? list : list.filter((d) => d.name === one.name && d.namespace === one.namespace));
  };
  const where = (d: Deployment): { namespace: string; context?: string } => ({ namespace: d.namespace, ...(d.context ? { context: d.context } : {}) });
  const after = async <T,>(done: Promise<T>): Promise<T> => {
    try {
      return await done;
    } finally {
      await reread().catch(() => undefined);
    }
  };
  return (
    <DeployOutputView
      value={value}
      deployments={deployments}
      onPromote={(d) => after(client().promoteDeployment(d.name, where(d)))}
      onRollback={(d) => after(client().rollbackDeployment(d.name, where(d)))}
      onDelete={(d) => after(client().deleteDeployment(d.name, where(d)))}
    />
  );
}

/** Renders a deploy plan (gates, diff, YAML), an apply's result with its rollout, or the deployments with their actions. */
export class DeployRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-DeployRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    return this.renderView(<DeployOutput value={model.data[this.options.mimeType]} />);
  }
}
