import type { Deployment, DeploymentActionResult, DeployProgress, WebviewView } from '@opsbook/schema';
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { WebviewPanels, WorkspaceDaemon } from '../services';
import type { DeploymentItem, DeploymentsTree } from '../trees/deployments';
import { ModelItem, ModelVersionItem } from '../trees/models';

/** What the deploy commands act on. */
export interface DeployCommandContext {
  daemon: WorkspaceDaemon;
  panels: WebviewPanels;
  deployments: DeploymentsTree;
  refresh(): void;
}

/**
 * How long promote and rollback let the rollout take before the daemon answers: under the 300 s after
 * which Node's fetch (undici) gives up waiting for an answer's headers. A slower rollout goes on, and
 * the tree keeps showing it.
 */
export const ACTION_TIMEOUT_S = 240;

/** What a command was invoked on: an `.onnx` file of the explorer, a Models item, a Deployments item, or nothing (palette). */
type DeployTarget = vscode.Uri | ModelItem | ModelVersionItem | undefined;

/**
 * The view `Opsbook: Deploy Model…` opens: the deploy form, starting with the model the command was
 * invoked on (a registered version, a registered model's latest, an `.onnx` file) when there is one.
 */
export function deployView(target: DeployTarget): WebviewView {
  let model: string | undefined;
  if (target instanceof vscode.Uri) model = target.fsPath;
  else if (target instanceof ModelVersionItem) model = target.reference;
  else if (target instanceof ModelItem) model = target.model.name;
  return { kind: 'deploy', ...(model ? { model } : {}) };
}

export function deployModel(ctx: DeployCommandContext, target?: DeployTarget): void {
  ctx.panels.open(deployView(target));
}

/** Show Status: the deploy panel with this deployment first (its live state, events and actions). */
export async function showDeployment(ctx: DeployCommandContext, item?: DeploymentItem): Promise<void> {
  const deployment = item?.deployment ?? (await pickDeployment(ctx, 'show'));
  if (!deployment) return;
  ctx.panels.open({ kind: 'deploy', name: deployment.name });
}

/** The deployment a palette invocation acts on: picked from the tree's last read. */
async function pickDeployment(ctx: DeployCommandContext, verb: string, only?: (deployment: Deployment) => boolean): Promise<Deployment | undefined> {
  const candidates = ctx.deployments.current.filter((deployment) => !only || only(deployment));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`Opsbook: no deployment to ${verb}${only ? ' (promote needs a canary)' : ''}.`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((deployment) => ({
      label: deployment.name,
      description: `${deployment.namespace} · ${deployment.model_ref}${deployment.canary ? ` · canary ${deployment.canary.percent}% ${deployment.canary.model_ref}` : ''}`,
      deployment,
    })),
    { title: `Opsbook: ${verb} which deployment?` },
  );
  return picked?.deployment;
}

function where(deployment: Deployment): { namespace: string; context?: string } {
  return { namespace: deployment.namespace, ...(deployment.context ? { context: deployment.context } : {}) };
}

/** One line for an action's answer: the daemon's message, and the rollout when it did not end available. */
export function describeAction(name: string, result: DeploymentActionResult): { ok: boolean; text: string } {
  const rollout = result.rollout;
  const failed = rollout !== null && (rollout.state === 'failed' || rollout.state === 'timed_out');
  const done = result.action === 'delete' ? `deleted ${result.deleted.length} object${result.deleted.length === 1 ? '' : 's'}` : `${result.action}d`;
  const parts = [`${name}: ${result.message ?? done}`];
  if (failed) {
    parts.push(`rollout ${rollout.state === 'failed' ? 'failed' : 'timed out'}${rollout.message ? `: ${rollout.message}` : ''}`);
    const event = rollout.events[0];
    if (event) parts.push(`${event.object} ${event.reason}: ${event.message}`);
  }
  return { ok: !failed, text: parts.join(' — ') };
}

/**
 * Promote or Rollback: the daemon applies and waits for the rollout, under a notification that shows
 * the job's `event: deploy` phases; the answer (or the failed rollout's pod event) is shown after.
 */
export async function actOnDeployment(ctx: DeployCommandContext, action: 'promote' | 'rollback', item?: DeploymentItem): Promise<void> {
  const deployment = item?.deployment ?? (await pickDeployment(ctx, action, action === 'promote' ? (d) => d.canary !== null : undefined));
  if (!deployment) return;
  const client = await ctx.daemon.client();
  const jobId = `vscode-${randomUUID()}`;
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Opsbook: ${action === 'promote' ? 'promoting' : 'rolling back'} ${deployment.name}` },
      async (progress) => {
        const events = ctx.daemon.onEvent(({ name, data }) => {
          const event = data as DeployProgress;
          if (name === 'deploy' && event.job_id === jobId) progress.report({ message: event.message ?? event.phase });
        });
        try {
          const body = { ...where(deployment), wait: true, timeout_s: ACTION_TIMEOUT_S, job_id: jobId };
          return (await (action === 'promote' ? client.promoteDeployment(deployment.name, body) : client.rollbackDeployment(deployment.name, body))) as unknown as DeploymentActionResult;
        } finally {
          events.dispose();
        }
      },
    );
    const { ok, text } = describeAction(deployment.name, result);
    if (ok) void vscode.window.showInformationMessage(`Opsbook: ${text}`);
    else void vscode.window.showErrorMessage(`Opsbook: ${text}`);
  } finally {
    ctx.deployments.refresh();
  }
}

/** Delete: asks first (modal), then removes what Opsbook created for the deployment (by its labels). */
export async function deleteDeployment(ctx: DeployCommandContext, item?: DeploymentItem): Promise<void> {
  const deployment = item?.deployment ?? (await pickDeployment(ctx, 'delete'));
  if (!deployment) return;
  const answer = await vscode.window.showWarningMessage(
    `Delete deployment ${deployment.name}?`,
    {
      modal: true,
      detail: `Removes what Opsbook created for it in ${deployment.context ?? 'the current context'} / ${deployment.namespace} (Deployment, Service, autoscaler, disruption budget${deployment.canary ? ', canary' : ''}), selected by its labels; nothing else.`,
    },
    'Delete',
  );
  if (answer !== 'Delete') return;
  try {
    const client = await ctx.daemon.client();
    const result = (await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Opsbook: deleting ${deployment.name}` }, () =>
      client.deleteDeployment(deployment.name, where(deployment)),
    )) as unknown as DeploymentActionResult;
    void vscode.window.showInformationMessage(`Opsbook: ${describeAction(deployment.name, result).text}`);
  } finally {
    ctx.deployments.refresh();
  }
}
