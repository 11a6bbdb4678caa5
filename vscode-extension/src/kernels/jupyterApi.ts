import {
  BRIDGE_MIMETYPE,
  KernelBridge,
  KernelBridgeError,
  type ExecuteResult,
  type KernelTransport,
  type UserExpressionResult,
} from '@opsbook/kernel-bridge';
import * as vscode from 'vscode';

/**
 * The part of the Jupyter extension's API (`ms-toolsai.jupyter`, `@vscode/jupyter-extension`) this
 * extension uses: the kernel of a notebook, which runs code without touching the notebook's cells.
 */
export interface JupyterKernelsApi {
  kernels: { getKernel(uri: vscode.Uri): Thenable<JupyterKernel | undefined> };
}

export interface JupyterKernel {
  executeCode(code: string, token: vscode.CancellationToken): AsyncIterable<{ items: { mime: string; data: Uint8Array }[] }>;
}

/** The mimetype the evaluation code below displays an exception under. */
const EVALUATION_ERROR = 'application/vnd.opsbook.evaluation-error+json';

/** Python that displays an expression's rich value, or the exception it raised. */
export function evaluationCode(expression: string): string {
  return [
    'def __opsbook_evaluate():',
    '    import IPython.display as d',
    '    try:',
    `        d.display(${expression})`,
    '    except Exception as e:',
    `        d.display({${JSON.stringify(EVALUATION_ERROR)}: {"ename": type(e).__name__, "evalue": str(e)}}, raw=True)`,
    '__opsbook_evaluate()',
    'del __opsbook_evaluate',
  ].join('\n');
}

/**
 * A bridge transport over the Jupyter extension's kernel API: the API has no `user_expressions`, so an
 * expression is evaluated by code that displays its value (the bridge reply is displayed under its
 * mimetype), read back from the outputs the API streams.
 */
export class JupyterApiTransport implements KernelTransport {
  constructor(private readonly kernel: JupyterKernel) {}

  async evaluate(expressions: Record<string, string>): Promise<Record<string, UserExpressionResult>> {
    const results: Record<string, UserExpressionResult> = {};
    for (const [name, expression] of Object.entries(expressions)) {
      const source = new vscode.CancellationTokenSource();
      const data: Record<string, unknown> = {};
      try {
        for await (const output of this.kernel.executeCode(evaluationCode(expression), source.token)) {
          for (const item of output.items) data[item.mime] = decode(item.mime, item.data);
        }
      } catch (error) {
        throw new KernelBridgeError('kernel_error', `the Jupyter kernel failed: ${(error as Error).message}`);
      } finally {
        source.dispose();
      }
      const failure = data[EVALUATION_ERROR] as { ename: string; evalue: string } | undefined;
      results[name] = failure ? { status: 'error', ename: failure.ename, evalue: failure.evalue, traceback: [] } : { status: 'ok', data, metadata: {} };
    }
    return results;
  }

  execute(): Promise<ExecuteResult> {
    return Promise.reject(new KernelBridgeError('kernel_error', "the Jupyter extension's kernels run cells themselves"));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function decode(mime: string, bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes);
  if (mime === BRIDGE_MIMETYPE || mime === EVALUATION_ERROR || /json$/.test(mime)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** A bridge to the notebook's kernel through the Jupyter extension, when it is installed and has one. */
export async function jupyterExtensionBridge(uri: vscode.Uri): Promise<KernelBridge | null> {
  const extension = vscode.extensions.getExtension<JupyterKernelsApi>('ms-toolsai.jupyter');
  if (!extension) return null;
  const api = extension.isActive ? extension.exports : await extension.activate();
  const kernel = await api?.kernels?.getKernel(uri);
  return kernel ? new KernelBridge(new JupyterApiTransport(kernel)) : null;
}
