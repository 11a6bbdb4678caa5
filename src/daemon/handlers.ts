import type { IncomingMessage } from 'node:http';
import type { DeployRequest, DeploymentAction, CheckRequest, CompareRequest, DaemonInfo, DriftRequest, EndpointTestRequest, ExplainRequest, ProfileRequest, ServeConfig, SuggestRequest, Heartbeat, WorkspaceSettingPut, MetricsBatch, ModelAliasSet, ModelVersionCreate, ParamsBatch, RunCreate, RunUpdate } from '@opsbook/schema';
import { Readable } from 'node:stream';
import type { RunFilter, RunStore, RunStatus } from '../tracking/run-store';
import type { RunSupervisor } from '../tracking/run-supervisor';
import type { TrackingService } from '../tracking/tracking-service';
import type { SeriesX } from '../tracking/downsample';
import type { EventHub } from './events';
import type { SettingsStore } from '../tracking/settings-store';
import type { DeletedFilter } from '../tracking/run-filter';
import { contentHeadersFor, type ArtifactKind, type ArtifactStore } from '../tracking/artifacts';
import type { ModelRegistry } from '../tracking/registry';
import type { ExplainJobs } from './explain-jobs';
import type { QualityJobs } from './quality-jobs';
import type { EndpointSupervisor } from './serve-endpoints';
import { RawAnswer } from './raw';
import { HttpError } from './errors';
import { kubeContexts, NoClusterError, type DeployService } from '../deploy';

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
    listRuns: ({ params }) => tracking.listRuns(runListQuery(params)),
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
        x: params.x as SeriesX | undefined,
      }),
  };
}

/**
 * The data-quality operations: they run on the quality capability's own DuckDB whatever the
 * tracking backend (recording a result against a run goes through the backend's recorder).
 */
export const QUALITY_OPERATIONS = ['runQualityCheck', 'profileData', 'compareDrift', 'suggestSuite', 'cancelQualityJob'] as const;

/** The handlers of {@link QUALITY_OPERATIONS}, served by `quality`. */
export function qualityHandlers(quality: QualityJobs): Record<(typeof QUALITY_OPERATIONS)[number], Handler> {
  return {
    runQualityCheck: ({ body }) => quality.check(body as CheckRequest),
    profileData: ({ body }) => quality.profile(body as ProfileRequest),
    compareDrift: ({ body }) => quality.drift(body as DriftRequest),
    suggestSuite: ({ body }) => quality.suggest(body as SuggestRequest),
    cancelQualityJob: ({ params }) => Promise.resolve(quality.cancel(params.job_id as string)),
  };
}

/** The serving operations: inference servers the daemon starts and supervises as child processes. */
export const SERVE_OPERATIONS = ['startEndpoint', 'listEndpoints', 'getEndpoint', 'stopEndpoint', 'getEndpointLogs', 'testEndpoint'] as const;

/** The handlers of {@link SERVE_OPERATIONS}, served by `serving`. */
export function serveHandlers(serving: EndpointSupervisor): Record<(typeof SERVE_OPERATIONS)[number], Handler> {
  return {
    startEndpoint: ({ body }) => serving.start(body as ServeConfig),
    listEndpoints: () => Promise.resolve(serving.list()),
    getEndpoint: ({ params }) => Promise.resolve(serving.get(params.name as string)),
    stopEndpoint: ({ params }) => serving.stop(params.name as string),
    getEndpointLogs: ({ params }) => Promise.resolve(serving.logs(params.name as string, params.tail as number | undefined)),
    testEndpoint: ({ params, body }) => serving.test(params.name as string, body as EndpointTestRequest),
  };
}

/** The query of `listRuns` from its validated parameters. */
function runListQuery(params: Record<string, unknown>): RunFilter {
  return {
    experiment: params.experiment as string | undefined,
    status: params.status as RunStatus | undefined,
    limit: params.limit as number | undefined,
    filter: params.filter as string | undefined,
    sort: params.sort as string | undefined,
    order: params.order as 'asc' | 'desc' | undefined,
    offset: params.offset as number | undefined,
    deleted: params.deleted as DeletedFilter | undefined,
    parent: params.parent as string | undefined,
  };
}

/** JSON text sent as it is (the store wrote it), so a list of 10,000 runs is not parsed and serialized again. */
function jsonText(text: string): RawAnswer {
  const bytes = Buffer.from(text, 'utf8');
  return new RawAnswer(Readable.from([bytes]), bytes.length, { 'Content-Type': 'application/json; charset=utf-8' });
}

/**
 * The operations of `schema/openapi.json`, keyed by operationId. Handlers are thin: the router has
 * validated their input, the services do the work, and errors are mapped in `errors.ts`.
 */
export function apiHandlers(
  runs: RunStore,
  supervisor: RunSupervisor,
  info: () => DaemonInfo,
  models: { artifacts: ArtifactStore; registry: ModelRegistry },
  settings: SettingsStore,
  events: EventHub,
  quality: QualityJobs,
  explain: ExplainJobs,
  serving: EndpointSupervisor,
  deploy: DeployService,
): Record<string, Handler> {
  const { artifacts, registry } = models;
  return {
    getHealth: () => Promise.resolve(info()),
    ...trackingHandlers(runs),
    listRuns: async ({ params }) => jsonText(await runs.listRunsText(runListQuery(params))),
    getMetricSeries: ({ params }) =>
      runs.metricSeries(params.runs as string[], params.key as string, {
        maxPoints: params.max_points as number | undefined,
        x: params.x as SeriesX | undefined,
      }),
    compareRuns: ({ body }) => runs.compareRuns((body as CompareRequest).run_ids),
    streamEvents: () => Promise.resolve(events.answer()),
    heartbeat: ({ body }) => supervisor.beat((body as Heartbeat).runs),
    uploadArtifact: ({ params, body }) => {
      const request = body as IncomingMessage;
      const declared = request.headers['content-length'];
      return artifacts.upload(
        params.run_id as string,
        {
          name: params.name as string,
          kind: params.kind as ArtifactKind,
          mediaType: params.media_type as string | undefined,
          declaredBytes: declared === undefined ? undefined : Number(declared),
        },
        request,
      );
    },
    listArtifacts: ({ params }) => artifacts.list(params.run_id as string),
    getArtifactContent: async ({ params }) => {
      const opened = await artifacts.open(params.run_id as string, params.name as string);
      return new RawAnswer(opened.stream, opened.size, contentHeadersFor(opened.artifact));
    },
    listModels: () => registry.list(),
    getModel: ({ params }) => registry.get(params.name as string),
    registerModelVersion: ({ params, body }) => registry.register(params.name as string, body as ModelVersionCreate),
    getModelVersion: ({ params }) => registry.getVersion(params.name as string, params.version as number),
    setModelAlias: ({ params, body }) =>
      registry.setAlias(params.name as string, params.alias as string, (body as ModelAliasSet).version),
    deleteModelAlias: ({ params }) => registry.deleteAlias(params.name as string, params.alias as string),
    resolveModel: ({ params }) => registry.resolve(params.ref as string),
    getWorkspaceSetting: ({ params }) => settings.get(params.key as string),
    putWorkspaceSetting: ({ params, body }) => settings.put(params.key as string, (body as WorkspaceSettingPut).value),
    ...qualityHandlers(quality),
    explainModel: ({ body }) => explain.explain(body as ExplainRequest),
    cancelExplainJob: ({ params }) => Promise.resolve(explain.cancel(params.job_id as string)),
    ...serveHandlers(serving),
    ...deployHandlers(deploy),
  };
}

/** The deploy operations: Kubernetes through the user's kubeconfig; no cluster answers 503 (unavailable). */
export const DEPLOY_OPERATIONS = [
  'planDeployment',
  'applyDeployment',
  'listKubeContexts',
  'listDeployments',
  'getDeployment',
  'deleteDeployment',
  'promoteDeployment',
  'rollbackDeployment',
] as const;

/** The handlers of {@link DEPLOY_OPERATIONS}, served by `deploy`. */
export function deployHandlers(deploy: DeployService): Record<(typeof DEPLOY_OPERATIONS)[number], Handler> {
  const noCluster = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof NoClusterError) throw new HttpError(503, 'unavailable', error.message);
      throw error;
    }
  };
  const where = (params: Record<string, unknown>) => ({ namespace: params.namespace as string | undefined, context: params.context as string | undefined });
  return {
    planDeployment: ({ body }) => noCluster(() => deploy.plan(body as DeployRequest)),
    applyDeployment: ({ body }) => noCluster(() => deploy.apply(body as DeployRequest)),
    listKubeContexts: () => Promise.resolve(kubeContexts()),
    listDeployments: ({ params }) => deploy.list({ live: params.live === true, runId: params.run_id as string | undefined }),
    getDeployment: ({ params }) => noCluster(() => deploy.get(params.name as string, params.namespace as string | undefined)),
    deleteDeployment: ({ params }) => noCluster(() => deploy.delete(params.name as string, where(params))),
    promoteDeployment: ({ params, body }) => noCluster(() => deploy.promote(params.name as string, body as DeploymentAction)),
    rollbackDeployment: ({ params, body }) => noCluster(() => deploy.rollback(params.name as string, body as DeploymentAction)),
  };
}
