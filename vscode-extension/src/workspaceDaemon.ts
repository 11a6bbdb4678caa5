import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  announcedDaemon,
  discoveryFileName,
  followEvents,
  jupyterRuntimeDir,
  OpsbookClient,
  type FollowedEvents,
} from '@opsbook/core/client';
import * as vscode from 'vscode';
import { describeError } from './errors';
import type { ApiAnswer, DaemonEvent, WorkspaceDaemon } from './services';

/** How long a daemon this extension starts gets to announce itself. */
const START_TIMEOUT_MS = 30_000;

/** The daemon cannot be reached or started; the message says why and what to do. */
export class DaemonUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonUnavailableError';
  }
}

interface Connection {
  client: OpsbookClient;
  url: string;
  token: string;
}

/** The discovery file's path for a workspace folder (its real path), as the core names it. */
export function discoveryPath(workspace: string, env: NodeJS.ProcessEnv = process.env): string {
  const digest = createHash('sha256').update(workspace).digest('hex');
  return join(jupyterRuntimeDir(env, process.platform, homedir()), discoveryFileName(digest));
}

/** The daemon announced for `workspace` when it answers for that folder. */
export async function attachDaemon(workspace: string, env: NodeJS.ProcessEnv = process.env): Promise<Connection | null> {
  let announced: { url?: unknown; token?: unknown };
  try {
    announced = JSON.parse(await readFile(discoveryPath(workspace, env), 'utf8')) as typeof announced;
  } catch {
    return null;
  }
  if (typeof announced.url !== 'string' || typeof announced.token !== 'string') return null;
  const found = await announcedDaemon({ url: announced.url, token: announced.token }, workspace);
  return found ? { client: found.client, url: announced.url, token: announced.token } : null;
}

/** What starts a daemon: the setting's command, else the core bundled with the extension (or a checkout's build). */
export function daemonCommand(
  setting: readonly string[],
  extensionPath: string,
  execPath: string = process.execPath,
): { command: string; args: string[]; env: Record<string, string> } | null {
  if (setting.length > 0) return { command: setting[0], args: [...setting.slice(1), 'daemon'], env: {} };
  const candidates = [join(extensionPath, 'core', 'opsbook.cjs'), join(extensionPath, '..', 'src', 'dist', 'cli', 'main.js')];
  const script = candidates.find((path) => existsSync(path));
  if (!script) return null;
  // VS Code's extension host is Electron: ELECTRON_RUN_AS_NODE makes its binary a plain Node.
  return { command: execPath, args: [script, 'daemon'], env: { ELECTRON_RUN_AS_NODE: '1' } };
}

/**
 * The workspace daemon as the extension reaches it: attached through the discovery file, or started
 * with the `opsbook.daemon.command` setting (by default the bundled core). One event stream serves every
 * listener, open while there are listeners.
 */
export class OpsbookDaemon implements WorkspaceDaemon {
  private connection: Promise<Connection> | undefined;
  private readonly events = new vscode.EventEmitter<DaemonEvent>();
  private readonly connected = new vscode.EventEmitter<void>();
  private listeners = 0;
  private stream: FollowedEvents | undefined;

  readonly onConnected = this.connected.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  readonly onEvent: vscode.Event<DaemonEvent> = (listener, thisArgs, disposables) => {
    const subscription = this.events.event(listener, thisArgs);
    this.listeners += 1;
    this.follow();
    const disposable = new vscode.Disposable(() => {
      subscription.dispose();
      this.listeners -= 1;
      if (this.listeners === 0) {
        this.stream?.close();
        this.stream = undefined;
      }
    });
    disposables?.push(disposable);
    return disposable;
  };

  async client(): Promise<OpsbookClient> {
    return (await this.connect()).client;
  }

  async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiAnswer> {
    let connection: Connection;
    try {
      connection = await this.connect();
    } catch (error) {
      return unavailable(error);
    }
    try {
      const response = await fetch(connection.url + path, {
        method,
        signal,
        headers: {
          Accept: 'application/json',
          Authorization: `Bearer ${connection.token}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const mediaType = response.headers.get('content-type') ?? '';
      if (response.ok && mediaType && !/^application\/(?:[\w.+-]*\+)?json\b/i.test(mediaType)) {
        // An artifact's file: its bytes travel base64 (webview messages carry JSON only).
        const bytes = Buffer.from(await response.arrayBuffer());
        return { status: response.status, body: null, content: { media_type: mediaType, base64: bytes.toString('base64') } };
      }
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
    } catch (error) {
      // The daemon may have stopped: the next call looks for one again.
      this.connection = undefined;
      return unavailable(error);
    }
  }

  dispose(): void {
    this.stream?.close();
    this.events.dispose();
    this.connected.dispose();
  }

  private follow(): void {
    if (this.stream || this.listeners === 0) return;
    const controller = new AbortController();
    const source = {
      openEventStream: async (signal?: AbortSignal) => (await this.connect()).client.openEventStream(signal),
    };
    this.stream = followEvents(source, {
      signal: controller.signal,
      onEvent: (event) => this.events.fire({ name: event.type, data: event.data }),
      onQuality: (event) => this.events.fire({ name: 'quality', data: event.data } as DaemonEvent),
      onExplain: (event) => this.events.fire({ name: 'explain', data: event.data } as DaemonEvent),
      onServe: (event) => this.events.fire({ name: 'serve', data: event.data } as DaemonEvent),
      onDeploy: (event) => this.events.fire({ name: 'deploy', data: event.data } as DaemonEvent),
      onOpen: () => this.connected.fire(),
      onError: (error, retryMs) => {
        this.connection = undefined;
        this.log.debug(`event stream: ${describeError(error)}; again in ${retryMs} ms`);
      },
    });
  }

  private connect(): Promise<Connection> {
    if (!this.connection) {
      this.connection = this.findOrStart();
      this.connection.catch(() => (this.connection = undefined));
    }
    return this.connection;
  }

  private async findOrStart(): Promise<Connection> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) throw new DaemonUnavailableError('Open a folder first: Opsbook keeps runs per workspace folder.');
    const workspace = await realpath(folder.uri.fsPath);
    const attached = await attachDaemon(workspace);
    if (attached) return attached;
    const settings = vscode.workspace.getConfiguration('opsbook');
    const command = daemonCommand(settings.get<string[]>('daemon.command') ?? [], this.context.extensionPath);
    if (!command) {
      throw new DaemonUnavailableError(
        'No Opsbook core to start: set "opsbook.daemon.command" (e.g. ["opsbook"] after `pip install opsbook`).',
      );
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...command.env };
    const backend = settings.get<string>('tracking.backend');
    if (backend === 'mlflow') {
      env.OPSBOOK_TRACKING_BACKEND = 'mlflow';
      env.OPSBOOK_MLFLOW_URI = settings.get<string>('tracking.mlflowUri') ?? '';
    }
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'Opsbook: starting the workspace daemon' },
      () => this.start(command.command, [...command.args, '--workspace', workspace], env, workspace),
    );
  }

  private async start(command: string, args: string[], env: NodeJS.ProcessEnv, workspace: string): Promise<Connection> {
    this.log.info(`starting the daemon: ${[command, ...args].join(' ')}`);
    // Its output goes to the workspace's daemon log, as when the CLI starts it: the daemon outlives this
    // window (JupyterLab and kernels share it), so it must not write into pipes this host owns.
    const logPath = join(workspace, '.opsbook', 'daemon.log');
    await mkdir(dirname(logPath), { recursive: true });
    const output = openSync(logPath, 'a');
    let exited: string | undefined;
    try {
      const child = spawn(command, args, { cwd: workspace, env, detached: true, stdio: ['ignore', output, output] });
      child.on('error', (error) => (exited = `could not run ${command}: ${error.message}`));
      child.on('exit', (code) => (exited = `it exited with code ${code}`));
      child.unref();
    } finally {
      closeSync(output);
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const found = await attachDaemon(workspace, env);
      if (found) return found;
      if (exited) throw new DaemonUnavailableError(`The Opsbook daemon did not start: ${exited}. See ${logPath}.`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new DaemonUnavailableError(`The Opsbook daemon did not announce itself within ${START_TIMEOUT_MS / 1000} s. See ${logPath}.`);
  }
}

function unavailable(error: unknown): ApiAnswer {
  return { status: 0, body: { error: { code: 'unavailable', message: describeError(error) } } };
}
