import type { DataSource } from '@opsbook/schema';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import type { NotebookKernels } from '../services';

/** Data for a check, a profile or an explanation, and the active run of the kernel it came from. */
export interface PickedData {
  source: DataSource;
  label: string;
  runId?: string;
}

const DATA_FILTERS = { 'Data files': ['parquet', 'csv'] };

/**
 * The data a command runs on: the file it was invoked on (explorer context menu), else a choice of
 * the active notebook kernel's dataframes (handed off as Parquet by the bridge) and a file to browse.
 * @returns undefined when the user cancelled.
 * @throws Error with a message naming what failed (a kernel without opsbook, a frame that cannot be written).
 */
export async function pickData(workspace: string, kernels: NotebookKernels, uri?: vscode.Uri): Promise<PickedData | undefined> {
  if (uri) return { source: { path: uri.fsPath }, label: basename(uri.fsPath) };
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  const bridge = notebook ? await kernels.bridgeFor(notebook) : null;
  type Choice = vscode.QuickPickItem & { frame?: string; browse?: true };
  const choices: Choice[] = [];
  if (bridge) {
    const { variables } = await bridge.inventory({ kinds: ['dataframe'] });
    for (const variable of variables) {
      const shape = (variable as { shape?: number[] }).shape;
      choices.push({ label: variable.name, description: shape ? `${shape.join(' × ')} · kernel dataframe` : 'kernel dataframe', frame: variable.name });
    }
  }
  choices.push({ label: '$(folder-opened) Browse for a Parquet or CSV file…', browse: true });
  const picked = await vscode.window.showQuickPick(choices, {
    title: 'Opsbook: data',
    placeHolder: bridge ? "A dataframe of the notebook's kernel, or a file" : 'A Parquet or CSV file (no notebook kernel is running)',
  });
  if (!picked) return undefined;
  if (picked.browse) {
    const files = await vscode.window.showOpenDialog({ canSelectMany: false, filters: DATA_FILTERS, defaultUri: vscode.Uri.file(workspace) });
    return files?.[0] ? { source: { path: files[0].fsPath }, label: basename(files[0].fsPath) } : undefined;
  }
  const pushed = await bridge!.request('push_frame', { name: picked.frame!, folder: join(workspace, '.opsbook', 'handoff') });
  return {
    source: { path: pushed.path, handoff: true, label: picked.frame!, fingerprint: pushed.fingerprint },
    label: picked.frame!,
    runId: pushed.active_run_id,
  };
}
