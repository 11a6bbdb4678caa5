import { realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { openapiDocument, type DaemonInfo, type DiscoveryFile } from '@opsbook/schema';
import { announcedDaemon } from '../client/announced';
import { Store } from '../store/store';
import { RunStore } from '../tracking/run-store';
import { RunSupervisor } from '../tracking/run-supervisor';
import { readTrackingConfig } from '../tracking/mlflow/config';
import { ArtifactStore } from '../tracking/artifacts';
import { ModelRegistry } from '../tracking/registry';
import { SettingsStore } from '../tracking/settings-store';
import { createToken } from './auth';
import { discoveryPath, readDiscovery, removeDiscovery, runtimeDir, writeDiscovery } from './discovery';
import { EventHub } from './events';
import { apiHandlers } from './handlers';
import { deployEnvironment } from './deploy-env';
import { DeployService } from '../deploy';
import { ExplainJobs } from './explain-jobs';
import { EndpointSupervisor } from './serve-endpoints';
import { cliEntry } from './launch';
import { QualityJobs, refusingRecorder, storeRecorder } from './quality-jobs';
import { withTrackingBackend } from './tracking-backend';
import { Router, type OpenApiDocument } from './router';
import { createApiServer } from './server';
import { CORE_VERSION } from './version';

export interface DaemonOptions {
  /** Workspace folder; its store is `<workspace>/.opsbook/opsbook.duckdb`. */
  workspace: string;
  /** Port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Folder of the discovery file; defaults to the Jupyter runtime dir. */
  runtimeDir?: string;
  /** Milliseconds without a heartbeat after which a supervised run is marked killed (default 60 s). */
  heartbeatTimeoutMs?: number;
  /** Check every success answer against its response schema (for tests). */
  validateResponses?: boolean;
  /** Largest artifact accepted, in bytes (default 2 GiB). */
  maxArtifactBytes?: number;
  /** Where the daemon reports unexpected failures; defaults to stderr. */
  log?: (line: string) => void;
  /**
   * The script that runs the `opsbook` CLI, which the daemon runs as `serve --foreground` for each
   * endpoint it supervises. Default: the CLI that started this process (tests name the built one).
   */
  cliEntry?: string;
  /** How long an endpoint's server may take to be ready before it is killed and marked failed (default 60 s). */
  serveStartTimeoutMs?: number;
}

/** A daemon running in this process. */
export interface RunningDaemon {
  info: DaemonInfo;
  token: string;
  /** Path of its discovery file. */
  discoveryFile: string;
  /** Stops accepting, finishes requests in flight, checkpoints, closes the store, removes the discovery file. */
  close(): Promise<void>;
}

/** How long requests in flight may take to finish once the daemon is told to stop. */
const CLOSE_GRACE_MS = 5000;

/** The port asked for is in use by another process. */
export class PortTakenError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is already in use`);
    this.name = 'PortTakenError';
  }
}

/**
 * Starts the workspace's daemon inside this process (tests, VS Code's extension host): opens the
 * store, listens on 127.0.0.1 and writes the discovery file.
 * @throws StoreLockedError when another process holds the store.
 * @throws PortTakenError when the port asked for is in use.
 * @throws RangeError when the heartbeat timeout is not a positive integer.
 * @throws Error when the workspace folder does not exist.
 * @throws TrackingConfigError when the workspace's tracking settings (.opsbook/config.yaml) are unusable.
 */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const workspace = realpathSync(options.workspace);
  // Read before the store opens: a bad setting stops the daemon before it holds anything.
  const tracking = readTrackingConfig(workspace);
  const store = await Store.open(workspace);
  const runs = new RunStore(store);
  const artifacts = new ArtifactStore(store, { maxBytes: options.maxArtifactBytes });
  const registry = new ModelRegistry(store, artifacts);
  const events = new EventHub(runs, { log: options.log });
  // Quality work runs locally in either mode; with MLflow tracking, recording against a run is refused (400).
  const recorder = tracking.backend === 'mlflow' ? refusingRecorder() : storeRecorder(runs, artifacts);
  const quality = new QualityJobs(workspace, recorder, (progress) => events.quality(progress));
  const explain = new ExplainJobs(workspace, registry, artifacts, (progress) => events.explain(progress));
  const serving = new EndpointSupervisor(workspace, registry, artifacts, (event) => events.serve(event), {
    cliEntry: () => options.cliEntry ?? cliEntry(),
    log: options.log,
    startTimeoutMs: options.serveStartTimeoutMs,
  });
  const deploy = new DeployService(store, deployEnvironment(workspace, store, registry, artifacts, quality, (progress) => events.deploy(progress), (line) => options.log?.(line)));
  let supervisor: RunSupervisor;
  try {
    supervisor = new RunSupervisor(runs, { timeoutMs: options.heartbeatTimeoutMs, log: options.log });
  } catch (error) {
    await store.close();
    throw error;
  }
  const token = createToken();
  // Filled once the server listens; /health cannot be asked before that.
  const listening: { info?: DaemonInfo } = {};
  const server = createApiServer({
    router: new Router(openapiDocument as unknown as OpenApiDocument),
    handlers: withTrackingBackend(tracking, apiHandlers(runs, supervisor, () => {
      if (!listening.info) throw new Error('the daemon is not listening yet');
      return listening.info;
    }, { artifacts, registry }, new SettingsStore(store), events, quality, explain, serving, deploy)),
    token,
    port: () => (server.address() as AddressInfo | null)?.port ?? -1,
    validateResponses: options.validateResponses,
    log: options.log,
    onRefusedBody: (operationId, body) => {
      quality.discard(operationId, body);
      explain.discard(operationId, body);
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new PortTakenError(options.port ?? 0) : error),
      );
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const info: DaemonInfo = {
    version: CORE_VERSION,
    workspace,
    pid: process.pid,
    port,
    url: `http://127.0.0.1:${port}/api/v1`,
    started_at: new Date().toISOString(),
    store: store.path,
    schema_version: store.schemaVersion,
    heartbeat_timeout_ms: supervisor.timeoutMs,
  };
  listening.info = info;
  const discoveryFile = discoveryPath(workspace, options.runtimeDir ?? runtimeDir());
  const discovery: DiscoveryFile = { ...info, token };
  try {
    writeDiscovery(discoveryFile, discovery);
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    throw error;
  }
  supervisor.start();
  let closing: Promise<void> | undefined;
  return {
    info,
    token,
    discoveryFile,
    close: () => {
      closing ??= (async () => {
        removeDiscovery(discoveryFile, process.pid, port);
        // Quality jobs in flight are cancelled (their requests answer 409), so none holds the stop up.
        quality.close();
        explain.close();
        // Endpoints drain and stop (recorded against their runs) while the store is still open.
        const endpointsStopped = serving.close();
        // Event streams never end on their own: end them, or the server would wait out its grace.
        const streamsEnded = events.close();
        await new Promise<void>((resolve) => {
          // Requests in flight may finish; a client that never does must not keep the store open.
          const deadline = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
          server.close(() => {
            clearTimeout(deadline);
            resolve();
          });
          server.closeIdleConnections();
        });
        await streamsEnded;
        await endpointsStopped;
        await supervisor.stop();
        await store.close();
      })();
      return closing;
    },
  };
}

/**
 * Whether the discovery file names a daemon that answers `/health` for `workspace`.
 */
export async function answeringDaemon(discovery: DiscoveryFile, workspace: string): Promise<DaemonInfo | null> {
  return (await announcedDaemon(discovery, realpathSync(workspace)))?.info ?? null;
}

/**
 * Finds the live daemon of a workspace through its discovery file.
 * @returns its info and token, or `null` when none answers.
 */
export async function findDaemon(
  workspace: string,
  dir: string = runtimeDir(),
): Promise<{ info: DaemonInfo; token: string } | null> {
  const discovery = readDiscovery(discoveryPath(workspace, dir));
  if (!discovery) return null;
  const info = await answeringDaemon(discovery, workspace);
  return info ? { info, token: discovery.token } : null;
}
