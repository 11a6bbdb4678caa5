import { useEffect } from 'react';
import { classifyDeployOutput } from './deployData';
import { ensureDeployStyles } from './deployStyles';
import { DeployPlanView } from './DeployPlanView';
import { DeployResultView } from './DeployResultView';
import { DeploymentActionView, DeploymentsView, type DeploymentActions, type DeploymentsViewProps } from './DeploymentsView';

export interface DeployOutputViewProps extends DeploymentActions {
  /** A DeployPlan, DeployResult, DeploymentList, Deployment or DeploymentActionResult (the `%deploy` outputs). */
  value: unknown;
  /** The deployments as read again (e.g. after an action), in place of the output's own list. */
  deployments?: DeploymentsViewProps['deployments'];
}



/** A `%deploy` output with the view of what it holds: a plan, an apply's result, the deployments (or one), or an action's result. */
export function DeployOutputView({ value, deployments, ...actions }: DeployOutputViewProps): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const output = classifyDeployOutput(value);
  return (
    <div className="opsbook-view opsbook-DeployOutput">
      {output.kind === 'plan' && <DeployPlanView plan={output.value} />}
      {output.kind === 'result' && <DeployResultView result={output.value} planOpen={output.value.status !== 'applied'} />}
      {output.kind === 'list' && <DeploymentsView deployments={deployments ?? output.value.deployments} {...actions} />}
      {output.kind === 'deployment' && <DeploymentsView deployments={deployments ?? [output.value]} empty={`${output.value.name} is deleted.`} {...actions} />}
      {output.kind === 'action' && <DeploymentActionView result={output.value} {...actions} />}
      {output.kind === 'unknown' && <p className="opsbook-Deploy-error">This output holds no deploy document Opsbook knows.</p>}
    </div>
  );
}
