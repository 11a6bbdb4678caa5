import * as vscode from 'vscode';

/**
 * Skeleton of the VS Code extension: it registers the Opsbook commands. The views, webviews and
 * the notebook renderer come with the VS Code issue; they will call the same core as JupyterLab.
 */
export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('opsbook.showRuns', async () => {
      await vscode.window.showInformationMessage('Opsbook: the runs view arrives with the VS Code extension issue.');
    }),
  );
}

export function deactivate(): void {}
