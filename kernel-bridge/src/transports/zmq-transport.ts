import { readFile } from 'node:fs/promises';
import { Dealer, Subscriber } from 'zeromq';
import { KernelBridgeError } from '../errors';
import { OutputCollector } from '../outputs';
import { withTimeout } from '../timeout';
import type { CallOptions, ExecuteOptions, ExecuteResult, KernelTransport, UserExpressionResult } from '../transport';
import { MessageCodec, WireError, type JupyterMessage } from './wire';

/** The fields of a kernel connection file this client uses. */
export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  control_port: number;
  key: string;
  signature_scheme: string;
}

/** Options of {@link ZmqKernelTransport.fromConnectionFile}. */
export interface ZmqConnectOptions {
  /** Milliseconds to wait for the kernel's first `kernel_info_reply` (default 30 s). */
  connectTimeoutMs?: number;
  /** Default milliseconds for each later call (default 60 s). */
  timeoutMs?: number;
  /** Gives up connecting (e.g. when the kernel process has died). */
  signal?: AbortSignal;
}

type Channel = 'shell' | 'control';
type IopubListener = (message: JupyterMessage) => void;

interface PendingReply {
  resolve: (message: JupyterMessage) => void;
  reject: (error: Error) => void;
}

const HANDSHAKE_RETRY_MS = 500;

function endpoint(info: ConnectionInfo, port: number): string {
  return info.transport === 'ipc' ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`;
}

/**
 * @throws KernelBridgeError `kernel_error` naming the missing or wrong field.
 */
function parseConnectionInfo(text: string, path: string): ConnectionInfo {
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new KernelBridgeError('kernel_error', `connection file ${path} is not JSON`);
  }
  for (const port of ['shell_port', 'iopub_port', 'control_port'] as const) {
    if (!Number.isInteger(info[port])) throw new KernelBridgeError('kernel_error', `connection file ${path}: ${port} is not a port: ${JSON.stringify(info[port])}`);
  }
  return {
    transport: typeof info.transport === 'string' ? info.transport : 'tcp',
    ip: typeof info.ip === 'string' ? info.ip : '127.0.0.1',
    shell_port: info.shell_port as number,
    iopub_port: info.iopub_port as number,
    control_port: info.control_port as number,
    key: typeof info.key === 'string' ? info.key : '',
    signature_scheme: typeof info.signature_scheme === 'string' ? info.signature_scheme : 'hmac-sha256',
  };
}

/**
 * A kernel reached through its connection file: the Jupyter messaging protocol (v5.3) over ZeroMQ,
 * with shell and iopub sockets (control for shutdown). Replies are matched to requests by
 * `parent_header.msg_id`; every call has a timeout.
 */
export class ZmqKernelTransport implements KernelTransport {
  /** The kernel's `kernel_info_reply` content, from the handshake. */
  kernelInfo: Record<string, unknown> = {};
  private readonly shell = new Dealer({ linger: 0 });
  private readonly control = new Dealer({ linger: 0 });
  private readonly iopub = new Subscriber({ linger: 0 });
  private readonly pending = new Map<string, PendingReply>();
  private readonly iopubListeners = new Map<string, IopubListener>();
  private readonly sending = new Map<Channel, Promise<void>>();
  private closed = false;

  private constructor(
    readonly info: ConnectionInfo,
    private readonly codec: MessageCodec,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Connects to the kernel a connection file describes and waits until it answers on shell and
   * publishes on iopub.
   * @throws KernelBridgeError `kernel_error` (unreadable file) or `timeout` (no kernel answered).
   */
  static async fromConnectionFile(path: string, options: ZmqConnectOptions = {}): Promise<ZmqKernelTransport> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new KernelBridgeError('kernel_error', `cannot read connection file ${path}: ${(error as Error).message}`);
    }
    const info = parseConnectionInfo(text, path);
    let codec: MessageCodec;
    try {
      codec = new MessageCodec(info.key, info.signature_scheme);
    } catch (error) {
      throw new KernelBridgeError('kernel_error', `connection file ${path}: ${(error as Error).message}`);
    }
    const transport = new ZmqKernelTransport(info, codec, options.timeoutMs ?? 60_000);
    const abort = (): void => void transport.close();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      if (options.signal?.aborted) throw new KernelBridgeError('kernel_error', 'connecting was aborted');
      transport.open();
      await transport.handshake(options.connectTimeoutMs ?? 30_000);
    } catch (error) {
      await transport.close();
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
    return transport;
  }

  /** {@inheritDoc KernelTransport.evaluate} */
  async evaluate(expressions: Record<string, string>, options: CallOptions = {}): Promise<Record<string, UserExpressionResult>> {
    const request = this.codec.message('execute_request', {
      code: '',
      silent: true,
      store_history: false,
      user_expressions: expressions,
      allow_stdin: false,
      stop_on_error: false,
    });
    const reply = await this.request('shell', request, options.timeoutMs ?? this.timeoutMs, 'evaluating user expressions');
    if (reply.content.status !== 'ok') {
      throw new KernelBridgeError('kernel_error', `the kernel answered ${String(reply.content.status)} to a silent request`);
    }
    return (reply.content.user_expressions ?? {}) as Record<string, UserExpressionResult>;
  }

  /** {@inheritDoc KernelTransport.execute} */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const request = this.codec.message('execute_request', {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    const id = request.header.msg_id;
    const outputs = new OutputCollector();
    const idle = new Promise<void>((resolve) => {
      this.iopubListeners.set(id, (message) => {
        if (message.header.msg_type === 'status' && message.content.execution_state === 'idle') resolve();
        else if (outputs.add(message.header.msg_type, message.content)) options.onOutput?.(outputs.outputs);
      });
    });
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      const done = Promise.all([this.request('shell', request, timeoutMs, 'executing code'), idle]);
      const [reply] = await withTimeout(done, timeoutMs, 'executing code');
      return outputs.result(reply.content);
    } finally {
      this.iopubListeners.delete(id);
    }
  }

  /**
   * Asks the kernel to shut down (`shutdown_request` on control) and waits for its reply.
   * @throws KernelBridgeError `timeout` or `kernel_error`.
   */
  async shutdownKernel(options: CallOptions = {}): Promise<void> {
    const request = this.codec.message('shutdown_request', { restart: false });
    await this.request('control', request, options.timeoutMs ?? 10_000, 'shutting the kernel down');
  }

  /** {@inheritDoc KernelTransport.close} */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = new KernelBridgeError('kernel_error', 'the kernel connection was closed');
    for (const waiter of this.pending.values()) waiter.reject(closing);
    this.pending.clear();
    this.iopubListeners.clear();
    for (const socket of [this.shell, this.control, this.iopub]) socket.close();
    await Promise.allSettled(this.sending.values());
  }

  private open(): void {
    this.shell.connect(endpoint(this.info, this.info.shell_port));
    this.control.connect(endpoint(this.info, this.info.control_port));
    this.iopub.connect(endpoint(this.info, this.info.iopub_port));
    this.iopub.subscribe();
    void this.receive(this.shell, (message) => this.settle(message));
    void this.receive(this.control, (message) => this.settle(message));
    void this.receive(this.iopub, (message) => this.publish(message));
  }

  /**
   * Sends `kernel_info_request` until one is answered on shell and its status is seen on iopub:
   * a subscriber misses what was published before it joined, so waiting for both means no output
   * of the first real request can be lost.
   */
  private async handshake(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let replied = false;
    let published = false;
    while (Date.now() < deadline && !(replied && published)) {
      const request = this.codec.message('kernel_info_request', {});
      this.iopubListeners.set(request.header.msg_id, () => {
        published = true;
      });
      try {
        const reply = await this.request('shell', request, Math.max(1, Math.min(HANDSHAKE_RETRY_MS, deadline - Date.now())), 'kernel_info_request');
        this.kernelInfo = reply.content;
        replied = true;
        if (!published) await new Promise((resolve) => setTimeout(resolve, 50));
      } catch (error) {
        if (!(error instanceof KernelBridgeError && error.code === 'timeout')) throw error;
      } finally {
        this.iopubListeners.delete(request.header.msg_id);
      }
    }
    if (!(replied && published)) {
      const what = replied ? 'the kernel published nothing on iopub' : 'no kernel answered on shell';
      throw new KernelBridgeError('timeout', `${what} at ${this.info.ip} within ${timeoutMs} ms`);
    }
  }

  private request(channel: Channel, message: JupyterMessage, timeoutMs: number, what: string): Promise<JupyterMessage> {
    if (this.closed) return Promise.reject(new KernelBridgeError('kernel_error', 'the kernel connection is closed'));
    const id = message.header.msg_id;
    const reply = new Promise<JupyterMessage>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send(channel, message).catch((error: unknown) => {
      this.pending.get(id)?.reject(new KernelBridgeError('kernel_error', `cannot send ${message.header.msg_type}: ${String(error)}`));
      this.pending.delete(id);
    });
    return withTimeout(reply, timeoutMs, what, () => this.pending.delete(id));
  }

  /** ZeroMQ sockets allow one send at a time; calls on one channel queue behind each other. */
  private send(channel: Channel, message: JupyterMessage): Promise<void> {
    const socket = channel === 'shell' ? this.shell : this.control;
    const previous = this.sending.get(channel) ?? Promise.resolve();
    const next = previous.then(() => socket.send(this.codec.encode(message)));
    this.sending.set(channel, next.catch(() => undefined));
    return next;
  }

  private async receive(socket: Dealer | Subscriber, deliver: (message: JupyterMessage) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: JupyterMessage;
        try {
          message = this.codec.decode(frames);
        } catch (error) {
          if (error instanceof WireError) continue; // unsigned or foreign traffic is dropped, never trusted
          throw error;
        }
        deliver(message);
      }
    } catch (error) {
      if (!this.closed) {
        const failure = new KernelBridgeError('kernel_error', `kernel connection failed: ${String(error)}`);
        for (const waiter of this.pending.values()) waiter.reject(failure);
        this.pending.clear();
      }
    }
  }

  private settle(message: JupyterMessage): void {
    const id = message.parent_header.msg_id;
    if (!id) return;
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    waiter.resolve(message);
  }

  private publish(message: JupyterMessage): void {
    const id = message.parent_header.msg_id;
    if (id) this.iopubListeners.get(id)?.(message);
  }
}
