/** The deploy views: the form, a plan (gates, per-manifest diff, YAML), an apply's result and rollout, progress, and the deployments with live status and actions. */
export { DeployForm, type DeployFormProps, type ModelChoice } from './DeployForm';
export { DeployPlanView, ActionBadge, ChangeRow, DiffView, GateRow, GatesList, type DeployPlanViewProps } from './DeployPlanView';
export { DeployResultView, DeployProgressView, ConfirmButton, PodEventsList, RolloutView, type DeployResultViewProps } from './DeployResultView';
export {
  DeploymentsView,
  DeploymentCard,
  DeploymentState,
  DeploymentActionView,
  canaryLine,
  type DeploymentActions,
  type DeploymentCardProps,
  type DeploymentsViewProps,
} from './DeploymentsView';
export { DeployOutputView, type DeployOutputViewProps } from './DeployOutputView';
export {
  EMPTY_DEPLOY_FORM,
  NO_CLUSTER_HINT,
  PHASE_TEXT,
  STATE_TEXT,
  classifyDeployOutput,
  contextsSummary,
  deployRequest,
  deploymentState,
  diffLines,
  diffStat,
  formatSeconds,
  manifestsYaml,
  modelChoices,
  progressText,
  suggestedName,
  toYaml,
  type DeployField,
  type DeployFormValues,
  type DeployOutput,
  type DiffLine,
} from './deployData';
export { DEPLOY_CSS, ensureDeployStyles } from './deployStyles';
