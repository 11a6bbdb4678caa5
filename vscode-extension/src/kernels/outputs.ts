import type { KernelOutput } from '@opsbook/kernel-bridge';
import * as vscode from 'vscode';

/** Mimetypes VS Code's notebook shows that carry text rather than JSON or bytes. */
const TEXT_MIMES = /^(text\/|image\/svg\+xml$|application\/javascript$)/;
/** Images that Jupyter sends base64-encoded. */
const BASE64_MIMES = /^image\/(png|jpeg|gif|webp|bmp)$/;

/** One nbformat output as a VS Code notebook cell output (one item per mimetype). */
export function toCellOutput(output: KernelOutput): vscode.NotebookCellOutput {
  switch (output.output_type) {
    case 'stream':
      return new vscode.NotebookCellOutput([
        output.name === 'stderr' ? vscode.NotebookCellOutputItem.stderr(output.text) : vscode.NotebookCellOutputItem.stdout(output.text),
      ]);
    case 'error':
      return new vscode.NotebookCellOutput([
        vscode.NotebookCellOutputItem.error({ name: output.ename, message: output.evalue, stack: output.traceback.join('\n') }),
      ]);
    case 'display_data':
    case 'execute_result':
      return new vscode.NotebookCellOutput(
        Object.entries(output.data).map(([mime, value]) => toOutputItem(mime, value)),
        output.metadata,
      );
  }
}

/** One mimetype's data as an output item: JSON mimetypes as JSON, images decoded, text as text. */
export function toOutputItem(mime: string, value: unknown): vscode.NotebookCellOutputItem {
  if (BASE64_MIMES.test(mime) && typeof value === 'string') {
    return new vscode.NotebookCellOutputItem(Buffer.from(value, 'base64'), mime);
  }
  if (TEXT_MIMES.test(mime) || typeof value === 'string') {
    return vscode.NotebookCellOutputItem.text(Array.isArray(value) ? value.join('') : String(value), mime);
  }
  return vscode.NotebookCellOutputItem.json(value, mime);
}
