import { KernelBridge } from '@opsbook/kernel-bridge';
import { startKernel, type KernelProcess, type ZmqKernelTransport } from '@opsbook/kernel-bridge/zmq';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { NotebookKernels } from '../services';
import { jupyterExtensionBridge } from './jupyterApi';
import { toCellOutput } from './outputs';

/** The id of the notebook controller Opsbook contributes. */
export const CONTROLLER_ID = 'opsbook-ipykernel';
/** Longest a cell may run: no limit a user would meet (setTimeout's largest delay, ~24.8 days). */
const CELL_TIMEOUT_MS = 2 ** 31 - 1;

/** A kernel this extension started for one notebook. */
interface NotebookKernel {
  process: KernelProcess;
  transport: ZmqKernelTransport;
  /** Cells run one after another, as in Jupyter. */
  queue: Promise<unknown>;
}

/** The Python the controller starts: the setting, else the workspace's `.venv`, else `python3`. */
export function kernelPython(setting: string | undefined, workspace: string | undefined): string {
  if (setting) return setting;
  if (workspace) {
    const venv = process.platform === 'win32' ? join(workspace, '.venv', 'Scripts', 'python.exe') : join(workspace, '.venv', 'bin', 'python');
    if (existsSync(venv)) return venv;
  }
  return process.platform === 'win32' ? 'python' : 'python3';
}

/**
 * The kernels of notebooks: Opsbook's own "Opsbook: Python (ipykernel)" controller, which starts the
 * workspace's ipykernel and runs cells over the ZeroMQ bridge (so magics work in plain VS Code and
 * code-server, where the Jupyter extension may be missing), and — for notebooks on the Jupyter
 * extension's kernels — that extension's API.
 */
export class OpsbookKernels implements NotebookKernels {
  private readonly controller: vscode.NotebookController;
  private readonly kernels = new Map<string, Promise<NotebookKernel>>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private executionOrder = 0;

  constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.controller = vscode.notebooks.createNotebookController(CONTROLLER_ID, 'jupyter-notebook', 'Opsbook: Python (ipykernel)');
    this.controller.supportedLanguages = ['python'];
    this.controller.supportsExecutionOrder = true;
    this.controller.description = "the workspace's ipykernel, with Opsbook's magics";
    this.controller.executeHandler = (cells, notebook) => this.executeCells(cells, notebook);
    this.controller.interruptHandler = (notebook) => this.interrupt(notebook);
    this.subscriptions.push(
      this.controller,
      vscode.workspace.onDidCloseNotebookDocument((notebook) => void this.shutdown(notebook.uri.toString())),
      vscode.workspace.onDidOpenNotebookDocument((notebook) => this.prefer(notebook)),
    );
    for (const notebook of vscode.workspace.notebookDocuments) this.prefer(notebook);
    void context;
  }

  async bridgeFor(notebook: vscode.NotebookDocument): Promise<KernelBridge | null> {
    const ours = this.kernels.get(notebook.uri.toString());
    if (ours) return new KernelBridge((await ours).transport);
    return jupyterExtensionBridge(notebook.uri);
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    for (const key of [...this.kernels.keys()]) void this.shutdown(key);
  }

  /** Without the Jupyter extension, a notebook's only Python kernel is ours: offer it first. */
  private prefer(notebook: vscode.NotebookDocument): void {
    if (notebook.notebookType !== 'jupyter-notebook') return;
    if (vscode.extensions.getExtension('ms-toolsai.jupyter')) return;
    this.controller.updateNotebookAffinity(notebook, vscode.NotebookControllerAffinity.Preferred);
  }

  private kernelFor(notebook: vscode.NotebookDocument): Promise<NotebookKernel> {
    const key = notebook.uri.toString();
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = this.start(notebook);
      this.kernels.set(key, kernel);
      kernel.catch(() => this.kernels.delete(key));
    }
    return kernel;
  }

  private async start(notebook: vscode.NotebookDocument): Promise<NotebookKernel> {
    const folder = vscode.workspace.getWorkspaceFolder(notebook.uri)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const cwd = folder ?? (notebook.uri.scheme === 'file' ? dirname(notebook.uri.fsPath) : undefined);
    const python = kernelPython(vscode.workspace.getConfiguration('opsbook').get<string>('python.path') || undefined, folder);
    this.log.info(`starting an ipykernel for ${vscode.workspace.asRelativePath(notebook.uri)} with ${python} in ${cwd ?? '(no folder)'}`);
    let process: KernelProcess;
    try {
      process = await startKernel({ python, cwd });
    } catch (error) {
      throw new Error(
        `Could not start a Python kernel with ${python}: ${(error as Error).message}. Set "opsbook.python.path" to a Python with ipykernel and opsbook (pip install ipykernel opsbook).`,
      );
    }
    const transport = await process.connect();
    const key = notebook.uri.toString();
    void process.exited.then(async (exit) => {
      // A kernel that dies (a crash, os._exit, out of memory) answers nothing more: closing the
      // connection fails the cell that waits, and the next cell starts a new kernel.
      await transport.close();
      if (this.kernels.get(key)) {
        this.kernels.delete(key);
        this.log.warn(`the kernel of ${vscode.workspace.asRelativePath(notebook.uri)} exited (${exit.signal ?? exit.code}); the next cell starts a new one`);
      }
    });
    return { process, transport, queue: Promise.resolve() };
  }

  private async executeCells(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument): Promise<void> {
    for (const cell of cells) await this.executeCell(cell, notebook);
  }

  private async executeCell(cell: vscode.NotebookCell, notebook: vscode.NotebookDocument): Promise<void> {
    const execution = this.controller.createNotebookCellExecution(cell);
    execution.executionOrder = ++this.executionOrder;
    execution.start(Date.now());
    await execution.clearOutput();
    let kernel: NotebookKernel;
    try {
      kernel = await this.kernelFor(notebook);
    } catch (error) {
      await execution.replaceOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error(error as Error)]));
      execution.end(false, Date.now());
      return;
    }
    let shown = Promise.resolve();
    const run = kernel.queue.then(() =>
      kernel.transport.execute(cell.document.getText(), {
        timeoutMs: CELL_TIMEOUT_MS,
        onOutput: (outputs) => {
          const cellOutputs = outputs.map(toCellOutput);
          shown = shown.then(() => execution.replaceOutput(cellOutputs)).catch(() => undefined);
        },
      }),
    );
    kernel.queue = run.catch(() => undefined);
    try {
      const result = await run;
      await shown;
      await execution.replaceOutput(result.outputs.map(toCellOutput));
      if (result.executionCount !== null) execution.executionOrder = result.executionCount;
      execution.end(result.status === 'ok', Date.now());
    } catch (error) {
      await shown;
      const died = !kernel.process.running
        ? new Error('The kernel died while the cell ran (its variables are gone). Run the cell again to start a new kernel.')
        : (error as Error);
      await execution.appendOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error(died)]));
      execution.end(false, Date.now());
    }
  }

  private async interrupt(notebook: vscode.NotebookDocument): Promise<void> {
    const kernel = this.kernels.get(notebook.uri.toString());
    if (kernel) (await kernel).process.interrupt();
  }

  private async shutdown(key: string): Promise<void> {
    const kernel = this.kernels.get(key);
    this.kernels.delete(key);
    if (!kernel) return;
    try {
      const { process, transport } = await kernel;
      await process.shutdown({ transport, timeoutMs: 3000 });
    } catch (error) {
      this.log.debug(`kernel shutdown: ${(error as Error).message}`);
    }
  }
}
