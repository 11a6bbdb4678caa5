import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { KernelBridgeError } from '../errors';
import { OutputCollector } from '../outputs';
import { withTimeout } from '../timeout';
import type { CallOptions, ExecuteOptions, ExecuteResult, KernelTransport, UserExpressionResult } from '../transport';

/**
 * A kernel reached through JupyterLab's own connection (`@jupyterlab/services`), as the JupyterLab
 * extension has it from a notebook's session context. The connection stays JupyterLab's: `close`
 * only stops this transport from sending.
 */
export class JupyterLabKernelTransport implements KernelTransport {
  private closed = false;

  constructor(
    readonly kernel: Kernel.IKernelConnection,
    private readonly timeoutMs = 60_000,
  ) {}

  /** {@inheritDoc KernelTransport.evaluate} */
  async evaluate(expressions: Record<string, string>, options: CallOptions = {}): Promise<Record<string, UserExpressionResult>> {
    const future = this.start({ code: '', silent: true, store_history: false, user_expressions: expressions, allow_stdin: false, stop_on_error: false });
    const reply = await this.wait(future, options, 'evaluating user expressions');
    if (reply.content.status !== 'ok') {
      throw new KernelBridgeError('kernel_error', `the kernel answered ${reply.content.status} to a silent request`);
    }
    return reply.content.user_expressions as Record<string, UserExpressionResult>;
  }

  /** {@inheritDoc KernelTransport.execute} */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const outputs = new OutputCollector();
    const future = this.start({ code, silent: false, store_history: true, allow_stdin: false, stop_on_error: true });
    future.onIOPub = (message) => {
      if (outputs.add(message.header.msg_type, message.content as Record<string, unknown>)) options.onOutput?.(outputs.outputs);
    };
    const reply = await this.wait(future, options, 'executing code');
    return outputs.result(reply.content);
  }

  /** {@inheritDoc KernelTransport.close} */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private start(content: KernelMessage.IExecuteRequestMsg['content']): Kernel.IShellFuture<KernelMessage.IExecuteRequestMsg, KernelMessage.IExecuteReplyMsg> {
    if (this.closed) throw new KernelBridgeError('kernel_error', 'the kernel transport is closed');
    try {
      return this.kernel.requestExecute(content, true);
    } catch (error) {
      throw new KernelBridgeError('kernel_error', `cannot send to kernel ${this.kernel.id}: ${(error as Error).message}`);
    }
  }

  private async wait(
    future: Kernel.IShellFuture<KernelMessage.IExecuteRequestMsg, KernelMessage.IExecuteReplyMsg>,
    options: CallOptions,
    what: string,
  ): Promise<KernelMessage.IExecuteReplyMsg> {
    try {
      return await withTimeout(future.done, options.timeoutMs ?? this.timeoutMs, what, () => future.dispose());
    } catch (error) {
      if (error instanceof KernelBridgeError) throw error;
      throw new KernelBridgeError('kernel_error', `kernel ${this.kernel.id}: ${(error as Error).message}`);
    }
  }
}
