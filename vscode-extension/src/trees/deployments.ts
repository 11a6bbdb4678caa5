import type { Deployment, DeployProgress, LiveStatus } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { WorkspaceDaemon } from '../services';
import { ago, DaemonTree } from './tree';

/** How often the deployments are read while the view is visible: pods change on the cluster's own time. */
export const POLL_MS = 10_000;

/** A deployment's state as the tree shows it: the live state, or `unknown` when the cluster was not reached. */
export type DeploymentTreeState = LiveStatus['state'];

const STATE_ICONS: Record<DeploymentTreeState, [string, string]> = {
  available: ['pass-filled', 'charts.green'],
  progressing: ['loading~spin', 'charts.blue'],
  failed: ['error', 'errorForeground'],
  absent: ['circle-slash', 'disabledForeground'],
  unknown: ['question', 'disabledForeground'],
};

/** The state of a deployment: its live state, `unknown` when the cluster did not answer. */
export function stateOf(deployment: Deployment): DeploymentTreeState {
  return deployment.live?.state ?? 'unknown';
}

/**
 * A recorded deployment: live state (icon and text), ready/desired pods, its canary; the context value
 * says what its menu offers (`opsbook.deployment` or `opsbook.deployment.canary`: Promote needs a canary).
 */
export class DeploymentItem extends vscode.TreeItem {
  constructor(readonly deployment: Deployment) {
    super(deployment.name, vscode.TreeItemCollapsibleState.None);
    this.id = `deployment:${deployment.context ?? ''}:${deployment.namespace}:${deployment.name}`;
    const live = deployment.live;
    const state = stateOf(deployment);
    const canary = live?.canary ?? (deployment.canary ? { ...deployment.canary, ready: null, desired: null } : null);
    const pods = live ? `${live.ready}/${live.desired}` : '';
    const canaryText = canary ? `canary ${canary.percent}%${canary.ready === null ? '' : ` ${canary.ready}/${canary.desired}`}` : '';
    this.description = [state, pods, canaryText, deployment.model_ref].filter(Boolean).join(' · ');
    const [icon, colour] = STATE_ICONS[state];
    this.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
    const where = `${deployment.context ?? 'current context'} / ${deployment.namespace}`;
    this.tooltip = [
      `${deployment.name}: ${state}${pods ? ` (${pods} pods ready)` : ''} — ${where}`,
      `model ${deployment.model_ref} · image ${deployment.image} · ${deployment.target}${deployment.gpu ? ` · ${deployment.gpu} GPU` : ''}`,
      ...(canary ? [`canary ${canary.percent}%: ${canary.model_ref}`] : []),
      ...(live?.message ? [live.message] : []),
      // The newest warning events say why pods fail (an image that cannot be pulled, a crash loop).
      ...(live?.events ?? []).slice(0, 3).map((event) => `${event.reason}: ${event.message}`),
      ...(deployment.forced ? [`deployed with force over ${deployment.failed_gates.map((gate) => gate.gate).join(', ') || 'a failed gate'}`] : []),
      `updated ${ago(deployment.updated_at)}`,
    ].join('\n');
    this.contextValue = canary ? 'opsbook.deployment.canary' : 'opsbook.deployment';
    this.command = { command: 'opsbook.showDeployment', title: 'Show Status', arguments: [this] };
  }

  /** Where the deployment is, as its actions take it. */
  get where(): { namespace: string; context?: string } {
    return { namespace: this.deployment.namespace, ...(this.deployment.context ? { context: this.deployment.context } : {}) };
  }
}

/**
 * The Deployments tree: what Opsbook deployed, with live status from each cluster
 * (`listDeployments?live=true`). Read again on `event: deploy` (a deploy, promote or rollback under way)
 * and every {@link POLL_MS} while the view is visible, since rollouts and failing pods change without
 * any event of the daemon.
 */
export class DeploymentsTree extends DaemonTree<DeploymentItem> {
  private deployments: Deployment[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    daemon: WorkspaceDaemon,
    private readonly pollMs = POLL_MS,
  ) {
    super(daemon);
    this.subscriptions.push(
      daemon.onEvent(({ name, data }) => {
        if (name !== 'deploy') return;
        // Each phase may change what the cluster shows; `done`/`failed` ends a job: read at once.
        const phase = (data as DeployProgress).phase;
        if (phase === 'done' || phase === 'failed') this.refresh();
        else this.refreshSoon();
      }),
      daemon.onConnected(() => this.refresh()),
    );
  }

  /** The deployments of the last read. */
  get current(): readonly Deployment[] {
    return this.deployments;
  }

  /**
   * Polls while `view` is visible: reads on becoming visible, then every {@link POLL_MS}; stops when
   * hidden. @returns the subscription (disposing it stops polling).
   */
  followVisibility(view: Pick<vscode.TreeView<vscode.TreeItem>, 'visible' | 'onDidChangeVisibility'>): vscode.Disposable {
    const update = (visible: boolean): void => {
      if (visible && !this.timer) {
        this.timer = setInterval(() => this.refresh(), this.pollMs);
      } else if (!visible && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    update(view.visible);
    const subscription = view.onDidChangeVisibility(({ visible }) => {
      if (visible) this.refresh();
      update(visible);
    });
    return new vscode.Disposable(() => {
      subscription.dispose();
      update(false);
    });
  }

  protected async roots(reread: boolean): Promise<DeploymentItem[]> {
    if (reread) {
      const { deployments } = await (await this.daemon.client()).listDeployments({ live: true });
      // The API's answer type is openapi-typescript's rendering of deploy.schema.json's Deployment.
      this.deployments = deployments as unknown as Deployment[];
    }
    return this.deployments.map((deployment) => new DeploymentItem(deployment));
  }

  override dispose(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    super.dispose();
  }
}
