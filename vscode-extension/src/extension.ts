import * as vscode from 'vscode';
import { connectDaemon } from './daemon';

/**
 * The VS Code extension, first cut: `Opsbook: Show Runs` lists the runs of the workspace's daemon in
 * a quick pick. Views, webviews and the notebook renderer come with the VS Code issue, on the same core.
 */
export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand('opsbook.showRuns', showRuns));
}

async function showRuns(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    await vscode.window.showWarningMessage('Opsbook: open a folder first; runs are kept per workspace folder.');
    return;
  }
  const client = await connectDaemon(folder.uri.fsPath);
  if (!client) {
    await vscode.window.showWarningMessage(
      `Opsbook: no daemon runs for ${folder.name}. Run a %%track cell, or \`npx opsbook daemon\` in the folder.`,
    );
    return;
  }
  const { runs } = await client.listRuns();
  const picked = await vscode.window.showQuickPick(
    runs.map((run) => ({
      label: run.name || run.id.slice(0, 8),
      description: `${run.experiment} · ${run.status}`,
      detail: Object.entries(run.metrics_latest ?? {})
        .map(([key, value]) => `${key}=${value ?? 'NaN'}`)
        .join('  '),
      id: run.id,
    })),
    { placeHolder: runs.length ? 'Opsbook runs, newest first' : 'No runs yet' },
  );
  if (picked) {
    const detail = await client.getRun(picked.id);
    const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(detail, null, 2) });
    await vscode.window.showTextDocument(doc);
  }
}

export function deactivate(): void {}
