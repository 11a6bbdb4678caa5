/** A MIME bundle as the Jupyter protocol carries it: mimetype -> data. */
export type MimeBundle = Record<string, unknown>;

/** One output of a cell, shaped like an nbformat output. */
export type KernelOutput =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { output_type: 'display_data'; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: 'execute_result'; data: MimeBundle; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

/** What running a cell's code gave: the reply's status and every output published for it. */
export interface ExecuteResult {
  status: 'ok' | 'error' | 'aborted';
  executionCount: number | null;
  outputs: KernelOutput[];
  /** Set when status is `error`. */
  error?: { ename: string; evalue: string; traceback: string[] };
}

/** One evaluated user expression, as `execute_reply.content.user_expressions[name]`. */
export type UserExpressionResult =
  | { status: 'ok'; data: MimeBundle; metadata: Record<string, unknown> }
  | { status: 'error'; ename: string; evalue: string; traceback: string[] };

/** Options shared by transport calls. */
export interface CallOptions {
  /** Milliseconds to wait for the kernel (default: the transport's own). */
  timeoutMs?: number;
}

/** Options of {@link KernelTransport.execute}. */
export interface ExecuteOptions extends CallOptions {
  /**
   * Called with all outputs so far each time they change while the code runs (a notebook shows them
   * as they come); the list is the one the result will hold, so streams are joined and
   * `clear_output` empties it.
   */
  onOutput?(outputs: readonly KernelOutput[]): void;
}

/**
 * A connection to one running kernel. The bridge needs only `evaluate`; `execute` runs a cell's code
 * (tests, the CLI). Implementations: ZeroMQ connection file (`./zmq`), JupyterLab kernel connection
 * (`./jupyterlab`).
 */
export interface KernelTransport {
  /**
   * Evaluates expressions without running code, printing, or touching the execution counter
   * (`execute_request` with `code: ''`, `silent: true`, `user_expressions`).
   * @throws KernelBridgeError `timeout`, or `kernel_error` when the kernel or connection fails.
   */
  evaluate(expressions: Record<string, string>, options?: CallOptions): Promise<Record<string, UserExpressionResult>>;

  /**
   * Runs code as a cell would and collects its outputs until the kernel is idle again.
   * A Python exception is not a failure of the call: it comes back as `status: 'error'`.
   * @throws KernelBridgeError `timeout`, or `kernel_error` when the kernel or connection fails.
   */
  execute(code: string, options?: ExecuteOptions): Promise<ExecuteResult>;

  /** Releases the connection; pending calls fail with `kernel_error`. Idempotent. */
  close(): Promise<void>;
}
