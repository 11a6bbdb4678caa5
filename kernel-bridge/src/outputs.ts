import type { ExecuteResult, KernelOutput, MimeBundle } from './transport';

type Content = Record<string, unknown>;

const asRecord = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const asString = (value: unknown): string => (typeof value === 'string' ? value : '');
const asStrings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
const asCount = (value: unknown): number | null => (typeof value === 'number' ? value : null);

/**
 * Turns the iopub messages of one execution into nbformat-shaped outputs, the way a notebook shows
 * them: consecutive stream text of one name is joined, `clear_output` empties what came before.
 */
export class OutputCollector {
  readonly outputs: KernelOutput[] = [];

  /**
   * Records one iopub message; types that are no output (status, execute_input…) are ignored.
   * @returns whether the outputs changed.
   */
  add(msgType: string, content: Content): boolean {
    switch (msgType) {
      case 'stream': {
        const name = content.name === 'stderr' ? 'stderr' : 'stdout';
        const last = this.outputs[this.outputs.length - 1];
        if (last?.output_type === 'stream' && last.name === name) last.text += asString(content.text);
        else this.outputs.push({ output_type: 'stream', name, text: asString(content.text) });
        return true;
      }
      case 'display_data':
        this.outputs.push({ output_type: 'display_data', data: asRecord(content.data) as MimeBundle, metadata: asRecord(content.metadata) });
        return true;
      case 'execute_result':
        this.outputs.push({
          output_type: 'execute_result',
          data: asRecord(content.data) as MimeBundle,
          metadata: asRecord(content.metadata),
          execution_count: asCount(content.execution_count),
        });
        return true;
      case 'error':
        this.outputs.push({ output_type: 'error', ename: asString(content.ename), evalue: asString(content.evalue), traceback: asStrings(content.traceback) });
        return true;
      case 'clear_output':
        this.outputs.length = 0;
        return true;
      default:
        return false;
    }
  }

  /** The result of the execution, given the content of its `execute_reply`. */
  result(replyContent: object): ExecuteResult {
    const reply = replyContent as Content;
    const status = reply.status === 'ok' || reply.status === 'error' ? reply.status : 'aborted';
    const result: ExecuteResult = { status, executionCount: asCount(reply.execution_count), outputs: this.outputs };
    if (status === 'error') {
      result.error = { ename: asString(reply.ename), evalue: asString(reply.evalue), traceback: asStrings(reply.traceback) };
    }
    return result;
  }
}
