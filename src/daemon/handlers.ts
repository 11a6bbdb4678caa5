import type { DaemonInfo, Heartbeat, MetricsBatch, ParamsBatch, RunCreate, RunUpdate } from '@opsbook/schema';
import type { RunStore, RunStatus } from '../tracking/run-store';
import type { RunSupervisor } from '../tracking/run-supervisor';
import type { TrackingService } from '../tracking/tracking-service';

/** What a handler gets: validated parameters (path + query) and the validated body. */
export interface HandlerInput {
  params: Record<string, unknown>;
  body: unknown;
}

export type Handler = (input: HandlerInput) => Promise<unknown>;

/** The operations every tracking backend serves (the local store, or MLflow: see `tracking-backend.ts`). */
export const TRACKING_OPERATIONS = [
  'listExperiments',
  'listRuns',
  'createRun',
  'getRun',
  'updateRun',
  'logParams',
  'logMetrics',
  'getMetricHistory',
] as const;

/** The handlers of {@link TRACKING_OPERATIONS}, served by `tracking`. */
export function trackingHandlers(tracking: TrackingService): Record<(typeof TRACKING_OPERATIONS)[number], Handler> {
  return {
    listExperiments: () => tracking.listExperiments(),
    listRuns: ({ params }) =>
      tracking.listRuns({
        experiment: params.experiment as string | undefined,
        status: params.status as RunStatus | undefined,
        limit: params.limit as number | undefined,
      }),
    createRun: ({ body }) => tracking.createRun(body as RunCreate),
    getRun: ({ params }) => tracking.getRun(params.run_id as string),
    updateRun: ({ params, body }) => tracking.updateRun(params.run_id as string, body as RunUpdate),
    logParams: ({ params, body }) => tracking.logParams(params.run_id as string, (body as ParamsBatch).params),
    logMetrics: async ({ params, body }) => ({
      accepted: await tracking.logMetrics(params.run_id as string, (body as MetricsBatch).metrics, (body as MetricsBatch).batch_id),
    }),
    getMetricHistory: ({ params }) =>
      tracking.metricHistory(params.run_id as string, {
        key: params.key as string | undefined,
        maxPoints: params.max_points as number | undefined,
      }),
  };
}

/**
 * The operations of `schema/openapi.json`, keyed by operationId. Handlers are thin: the router has
 * validated their input, the services do the work, and errors are mapped in `errors.ts`.
 */
export function apiHandlers(runs: RunStore, supervisor: RunSupervisor, info: () => DaemonInfo): Record<string, Handler> {
  return {
    getHealth: () => Promise.resolve(info()),
    ...trackingHandlers(runs),
    heartbeat: ({ body }) => supervisor.beat((body as Heartbeat).runs),
  };
}
