import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { OpsbookKernels } from './kernels/kernels';
import { listenToRenderer } from './kernels/rendererMessaging';
import { EndpointsStatus } from './statusBar';
import { DeploymentsTree } from './trees/deployments';
import { EndpointsTree } from './trees/endpoints';
import { ModelsTree } from './trees/models';
import { QualityTree } from './trees/quality';
import { RunsTree } from './trees/runs';
import { OpsbookPanels } from './webviews/panels';
import { OpsbookDaemon } from './workspaceDaemon';

/**
 * Opsbook in VS Code: the activity-bar container's trees (Runs, Models, Data Quality, Endpoints, Deployments),
 * the commands, the webview panels, the notebook renderer's host side and the "Opsbook: Python
 * (ipykernel)" controller, all on the workspace's daemon. Activation is cheap: the daemon is looked
 * for (and started if none runs) only when a view or a command needs it.
 */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Opsbook', { log: true });
  const daemon = new OpsbookDaemon(context, log);
  const panels = new OpsbookPanels(context, daemon, log);
  const kernels = new OpsbookKernels(context, log);
  const runs = new RunsTree(daemon);
  const models = new ModelsTree(daemon);
  const quality = new QualityTree(daemon);
  const endpoints = new EndpointsTree(daemon);
  const deployments = new DeploymentsTree(daemon);
  const status = new EndpointsStatus();
  const runsView = vscode.window.createTreeView('opsbook.runs', { treeDataProvider: runs, canSelectMany: true, showCollapseAll: true });
  const deploymentsView = vscode.window.createTreeView('opsbook.deployments', { treeDataProvider: deployments });
  context.subscriptions.push(
    log,
    daemon,
    panels,
    kernels,
    runs,
    models,
    quality,
    endpoints,
    deployments,
    status,
    runsView,
    deploymentsView,
    deployments.followVisibility(deploymentsView),
    vscode.window.createTreeView('opsbook.models', { treeDataProvider: models, showCollapseAll: true }),
    vscode.window.createTreeView('opsbook.quality', { treeDataProvider: quality }),
    vscode.window.createTreeView('opsbook.endpoints', { treeDataProvider: endpoints }),
    endpoints.onDidChangeEndpoints((list) => status.update(list)),
    listenToRenderer(panels, daemon, log),
    ...registerCommands({
      daemon,
      panels,
      kernels,
      log,
      runsView: runsView as vscode.TreeView<vscode.TreeItem>,
      endpoints,
      deployments,
      refresh: () => {
        for (const tree of [runs, models, quality, endpoints, deployments]) tree.refresh();
      },
    }),
  );
}

export function deactivate(): void {}
