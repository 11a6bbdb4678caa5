import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelBridgeError } from '../errors';
import { ZmqKernelTransport, type ZmqConnectOptions } from './zmq-transport';

/** Options of {@link startKernel}. */
export interface StartKernelOptions {
  /** The Python that has ipykernel installed. */
  python: string;
  cwd?: string;
  /** The kernel's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Interpreter flags put before `-m ipykernel_launcher` (e.g. `['-I']`). */
  pythonArgs?: string[];
  /** Where to write the connection file (default: a fresh temp folder, removed on shutdown). */
  connectionDir?: string;
}

/** How the kernel process ended. */
export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const STDERR_LIMIT = 64 * 1024;
const EXIT_GRACE_MS = 1000;
const PORTS = ['shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'] as const;

/** Free TCP ports on 127.0.0.1, held together while chosen so they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/**
 * An ipykernel this process started from a connection file it wrote (random key, free ports on
 * 127.0.0.1). Used by the CLI and by tests that need a real kernel.
 */
export class KernelProcess {
  /** Settles when the process has exited. */
  readonly exited: Promise<KernelExit>;
  private stderrText = '';
  private exit: KernelExit | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly connectionFile: string,
    private readonly ownedDir: string | null,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrText = (this.stderrText + chunk).slice(-STDERR_LIMIT);
    });
    child.stdout?.resume();
    this.exited = new Promise<KernelExit>((resolve) => {
      // 'close' comes after the last stderr bytes, which say why a kernel died; a grandchild that
      // kept the pipe open must not hold shutdown up, hence the grace period after 'exit'.
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        setTimeout(() => resolve({ code, signal }), EXIT_GRACE_MS).unref();
      });
      child.once('close', (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
      child.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  /**
   * Writes a connection file and spawns `python -m ipykernel_launcher -f <file>`.
   * @throws KernelBridgeError `kernel_error` when the process cannot be spawned.
   */
  static async start(options: StartKernelOptions): Promise<KernelProcess> {
    const ownedDir = options.connectionDir ? null : await mkdtemp(join(tmpdir(), 'opsbook-kernel-'));
    const dir = options.connectionDir ?? (ownedDir as string);
    const ports = await freePorts(PORTS.length);
    const connection = {
      ...Object.fromEntries(PORTS.map((name, i) => [name, ports[i]])),
      ip: '127.0.0.1',
      transport: 'tcp',
      key: randomBytes(32).toString('hex'),
      signature_scheme: 'hmac-sha256',
      kernel_name: 'python3',
    };
    const connectionFile = join(dir, `kernel-opsbook-${randomBytes(6).toString('hex')}.json`);
    await writeFile(connectionFile, JSON.stringify(connection, null, 2), { mode: 0o600 });
    const child = spawn(options.python, [...(options.pythonArgs ?? []), '-m', 'ipykernel_launcher', '-f', connectionFile], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kernel = new KernelProcess(child, connectionFile, ownedDir);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new KernelBridgeError('kernel_error', `cannot start ${options.python}: ${error.message}`)));
    }).catch(async (error: unknown) => {
      await kernel.removeConnectionFile();
      throw error;
    });
    return kernel;
  }

  /** Process id of the kernel. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last 64 KiB the kernel wrote to stderr (why it failed to start, usually). */
  get stderr(): string {
    return this.stderrText;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exit === null;
  }

  /** Interrupts the code the kernel runs (SIGINT: ipykernel's default interrupt mode raises KeyboardInterrupt). */
  interrupt(): void {
    if (this.running) this.child.kill('SIGINT');
  }

  /**
   * Connects to the kernel; fails fast, with its stderr, if the kernel exits first.
   * @throws KernelBridgeError `kernel_error` (the kernel died) or `timeout`.
   */
  async connect(options: ZmqConnectOptions = {}): Promise<ZmqKernelTransport> {
    const abort = new AbortController();
    const died = this.exited.then((exit) => {
      abort.abort();
      return new KernelBridgeError('kernel_error', `the kernel exited (code ${exit.code}, signal ${exit.signal}) before answering:\n${this.stderrText.slice(-2000)}`);
    });
    try {
      return await ZmqKernelTransport.fromConnectionFile(this.connectionFile, { ...options, signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted) throw await died;
      throw error;
    }
  }

  /**
   * Stops the kernel: a `shutdown_request` through `transport` when given, else SIGTERM; SIGKILL
   * when it is still alive after `timeoutMs`. Removes the connection file. Idempotent.
   */
  async shutdown(options: { transport?: ZmqKernelTransport; timeoutMs?: number } = {}): Promise<KernelExit> {
    const timeoutMs = options.timeoutMs ?? 5000;
    if (this.running && options.transport) {
      await options.transport.shutdownKernel({ timeoutMs }).catch(() => undefined);
    }
    if (this.running && !(await this.exitsWithin(options.transport ? timeoutMs : 0))) {
      this.child.kill('SIGTERM');
      if (!(await this.exitsWithin(timeoutMs))) this.child.kill('SIGKILL');
    }
    const exit = await this.exited;
    await this.removeConnectionFile();
    return exit;
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.exited.then(() => true), waited]);
    clearTimeout(timer);
    return result;
  }

  private async removeConnectionFile(): Promise<void> {
    await rm(this.ownedDir ?? this.connectionFile, { recursive: true, force: true });
  }
}

/** Starts a kernel; see {@link KernelProcess.start}. @throws KernelBridgeError `kernel_error`. */
export function startKernel(options: StartKernelOptions): Promise<KernelProcess> {
  return KernelProcess.start(options);
}
