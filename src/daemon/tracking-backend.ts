import type { Heartbeat, HeartbeatReply } from '@opsbook/schema';
import { BadInputError, NotFoundError } from '../store/errors';
import { MlflowClient, MlflowError } from '../tracking/mlflow/client';
import { MlflowBackend, NotWithMlflowError } from '../tracking/mlflow/backend';
import type { TrackingConfig } from '../tracking/mlflow/config';
import { HttpError } from './errors';
import { QUALITY_OPERATIONS, trackingHandlers, type Handler } from './handlers';

/**
 * Operations about the daemon or the workspace itself, and data-quality work (which runs locally; its
 * recorder refuses a run_id), served the same whatever the backend.
 */
const WORKSPACE_OPERATIONS = new Set<string>(['getHealth', 'getWorkspaceSetting', 'putWorkspaceSetting', ...QUALITY_OPERATIONS]);

/** The daemon's handlers for the workspace's tracking backend: `base` itself for the local store. */
export function withTrackingBackend(config: TrackingConfig, base: Record<string, Handler>): Record<string, Handler> {
  return config.backend === 'mlflow' ? mlflowHandlers(base, new MlflowBackend(new MlflowClient(config.uri))) : base;
}

/**
 * The handlers of a daemon whose workspace tracks to MLflow (`tracking.backend: mlflow`): the core
 * tracking operations and heartbeats go to `backend`, the workspace's own operations and quality work stay as `base` has them, and
 * every other operation (compare, series, events, artifacts, registry …) answers 400 naming
 * `tracking.backend`. MLflow's failures become 404 (unknown run), 400 (a value MLflow refused) or
 * 503 (the server cannot be reached or failed).
 */
export function mlflowHandlers(base: Record<string, Handler>, backend: MlflowBackend): Record<string, Handler> {
  const core: Record<string, Handler> = {
    ...trackingHandlers(backend),
    // The local supervisor answers for the timeout and interval; the backend for its MLflow runs.
    heartbeat: async (input) => {
      const reply = (await base.heartbeat(input)) as HeartbeatReply;
      const ours = await backend.beat((input.body as Heartbeat).runs, reply.timeout_ms);
      return { ...reply, runs: [...reply.runs, ...ours] };
    },
  };
  const handlers: Record<string, Handler> = {};
  for (const operation of Object.keys(base)) {
    if (WORKSPACE_OPERATIONS.has(operation)) handlers[operation] = base[operation];
    else if (core[operation]) {
      const handler = core[operation];
      handlers[operation] = (input) => handler(input).catch((error: unknown) => Promise.reject(fromMlflow(error)));
    } else handlers[operation] = () => Promise.reject(new NotWithMlflowError(operation));
  }
  return handlers;
}

function fromMlflow(error: unknown): unknown {
  if (!(error instanceof MlflowError)) return error;
  if (error.status === 0) return new HttpError(503, 'unavailable', error.message);
  if (error.errorCode === 'RESOURCE_DOES_NOT_EXIST') return new NotFoundError('run_id', '', error.message);
  if (error.errorCode === 'INVALID_PARAMETER_VALUE' || error.status === 400) return new BadInputError('', undefined, error.message);
  return new HttpError(503, 'unavailable', `the MLflow tracking server failed: ${error.message}`);
}
