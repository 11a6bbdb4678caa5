import type { DaemonInfo, Heartbeat, MetricsBatch, ParamsBatch, RunCreate, RunUpdate } from '@opsbook/schema';
import type { RunStore, RunStatus } from '../tracking/run-store';
import type { RunSupervisor } from '../tracking/run-supervisor';

/** What a handler gets: validated parameters (path + query) and the validated body. */
export interface HandlerInput {
  params: Record<string, unknown>;
  body: unknown;
}

export type Handler = (input: HandlerInput) => Promise<unknown>;

/**
 * The operations of `schema/openapi.json`, keyed by operationId. Handlers are thin: the router has
 * validated their input, the services do the work, and errors are mapped in `errors.ts`.
 */
export function apiHandlers(runs: RunStore, supervisor: RunSupervisor, info: () => DaemonInfo): Record<string, Handler> {
  return {
    getHealth: () => Promise.resolve(info()),
    listExperiments: () => runs.listExperiments(),
    listRuns: ({ params }) =>
      runs.listRuns({
        experiment: params.experiment as string | undefined,
        status: params.status as RunStatus | undefined,
        limit: params.limit as number | undefined,
      }),
    createRun: ({ body }) => runs.createRun(body as RunCreate),
    getRun: ({ params }) => runs.getRun(params.run_id as string),
    updateRun: ({ params, body }) => runs.updateRun(params.run_id as string, body as RunUpdate),
    logParams: ({ params, body }) => runs.logParams(params.run_id as string, (body as ParamsBatch).params),
    logMetrics: async ({ params, body }) => ({
      accepted: await runs.logMetrics(params.run_id as string, (body as MetricsBatch).metrics, (body as MetricsBatch).batch_id),
    }),
    getMetricHistory: ({ params }) =>
      runs.metricHistory(params.run_id as string, {
        key: params.key as string | undefined,
        maxPoints: params.max_points as number | undefined,
      }),
    heartbeat: ({ body }) => supervisor.beat((body as Heartbeat).runs),
  };
}
