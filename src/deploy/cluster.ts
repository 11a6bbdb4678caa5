import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { ApiException, CoreV1Api, KubeConfig, KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { KubeContexts, KubeObject, LiveStatus, ManifestChange, PodEvent, Rollout } from '@opsbook/schema';
import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import { BadInputError } from '../store/errors';
import { k8s } from './k8s';
import { FIELD_MANAGER, labelSelector } from './manifests';

/** No cluster is configured or reachable: the daemon answers 503 (unavailable), the CLI exits 3. */
export class NoClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoClusterError';
  }
}

/** The cluster refused a manifest (validation, admission): 400 with its message. */
export class ClusterRejectedError extends Error {
  constructor(readonly object: string, message: string) {
    super(`${object}: the cluster refused it: ${message}`);
    this.name = 'ClusterRejectedError';
  }
}

/** A server-side apply conflict: fields another field manager owns. */
export interface ApplyConflict {
  object: string;
  conflicts: { field: string; manager: string }[];
  message: string;
}

const HOW_TO_POINT =
  'point $KUBECONFIG at a kubeconfig file (or write ~/.kube/config, e.g. with your cloud CLI or kind) and pick a context with --context; `opsbook deploy ... --dry-run -o yaml` works without a cluster';

/** The kubeconfig files kubectl would read: $KUBECONFIG's (those that exist), else ~/.kube/config. */
export function kubeconfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter((file) => file !== '' && existsSync(file));
  const file = join(env.HOME ?? homedir(), '.kube', 'config');
  return existsSync(file) ? [file] : [];
}

function loadConfig(env: NodeJS.ProcessEnv = process.env): { kc: KubeConfig; files: string[] } {
  const files = kubeconfigFiles(env);
  const kc = new (k8s().KubeConfig)();
  if (files.length === 0) return { kc, files };
  // Merged as kubectl merges them: the first file's current-context wins.
  kc.loadFromFile(files[0]);
  for (const file of files.slice(1)) {
    const more = new (k8s().KubeConfig)();
    more.loadFromFile(file);
    kc.mergeConfig(more, true);
  }
  return { kc, files };
}

/** The contexts of the user's kubeconfig (an empty list when there is none). */
export function kubeContexts(env: NodeJS.ProcessEnv = process.env): KubeContexts {
  try {
    const { kc, files } = loadConfig(env);
    return {
      contexts: kc.getContexts().map((c) => ({ name: c.name, cluster: c.cluster, namespace: c.namespace ?? null })),
      current: files.length > 0 ? kc.getCurrentContext() || null : null,
      kubeconfig: files.length > 0 ? files.join(delimiter) : null,
    };
  } catch (error) {
    throw new BadInputError('kubeconfig', kubeconfigFiles(env).join(delimiter), `kubeconfig does not parse: ${(error as Error).message}`);
  }
}

/**
 * The cluster of a kubeconfig context (the current one by default).
 * @throws NoClusterError when there is no kubeconfig or it has no context.
 * @throws BadInputError (field context) for a context the kubeconfig does not have.
 */
export function openCluster(context?: string, env: NodeJS.ProcessEnv = process.env): Cluster {
  const { kc, files } = loadConfig(env);
  if (files.length === 0) {
    throw new NoClusterError(`no Kubernetes cluster configured: ${env.KUBECONFIG ? `no file of $KUBECONFIG (${env.KUBECONFIG}) exists` : 'no ~/.kube/config and $KUBECONFIG is unset'}; ${HOW_TO_POINT}`);
  }
  const names = kc.getContexts().map((c) => c.name);
  if (context !== undefined) {
    if (!names.includes(context)) {
      throw new BadInputError('context', context, `kubeconfig has no context ${JSON.stringify(context)}; it has ${names.length ? names.join(', ') : 'none'}`);
    }
    kc.setCurrentContext(context);
  }
  const current = kc.getCurrentContext();
  const cluster = kc.getCurrentCluster();
  if (!current || !cluster) throw new NoClusterError(`the kubeconfig (${files.join(delimiter)}) has no current context; ${HOW_TO_POINT}`);
  return new Cluster(kc, current, cluster.server);
}

type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

/** Kind/name, as kubectl names an object. */
export function objectName(object: KubeObject | KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name ?? ''}`;
}

/** What a live or dry-run object shows in a diff: the fields a user set, not the server's bookkeeping. */
function comparable(object: Obj | null): string {
  if (!object) return '';
  const { status: _status, ...rest } = object;
  const metadata = { ...(rest.metadata ?? {}) } as Record<string, unknown>;
  for (const key of ['managedFields', 'resourceVersion', 'uid', 'generation', 'creationTimestamp', 'selfLink']) delete metadata[key];
  return stringify({ ...rest, metadata }, { sortMapEntries: true });
}

/**
 * One Kubernetes cluster through @kubernetes/client-node: server-side apply with field manager
 * `opsbook` (never forced unless asked), dry-run diffs, rollout status with the pods' warning events,
 * previous revisions, and deletion of what Opsbook labelled.
 */
export class Cluster {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;

  constructor(
    private readonly kc: KubeConfig,
    readonly context: string,
    readonly server: string,
  ) {
    this.objects = k8s().KubernetesObjectApi.makeApiClient(kc);
    this.core = kc.makeApiClient(k8s().CoreV1Api);
  }

  /**
   * Checks the API server answers within `timeoutMs`.
   * @throws NoClusterError naming the server and context when it does not.
   */
  async ensureReachable(timeoutMs = 5000): Promise<void> {
    const version = this.kc.makeApiClient(k8s().VersionApi);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        version.getCode(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      throw new NoClusterError(`the Kubernetes API server ${this.server} (context ${this.context}) did not answer: ${describe(error)}; ${HOW_TO_POINT}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The live object, or null when it does not exist. */
  async read(object: KubeObject): Promise<Obj | null> {
    try {
      return (await this.objects.read(header(object) as { metadata: { name: string } })) as Obj;
    } catch (error) {
      if (isApiException(error) && error.code === 404) return null;
      throw this.translate(object, error);
    }
  }

  /**
   * What applying each object would change (server-side apply with dryRun=All): create, update,
   * unchanged, or conflict with the fields another manager owns.
   */
  async plan(objects: KubeObject[], forceConflicts: boolean): Promise<ManifestChange[]> {
    const changes: ManifestChange[] = [];
    for (const object of objects) {
      const live = await this.read(object);
      const outcome = await this.applyOne(object, { dryRun: true, force: forceConflicts });
      const base = { kind: object.kind, name: object.metadata.name };
      if ('conflicts' in outcome) {
        changes.push({ ...base, action: 'conflict', diff: '', conflicts: outcome.conflicts });
        continue;
      }
      const before = comparable(live);
      const after = comparable(outcome);
      const action = live === null ? 'create' : before === after ? 'unchanged' : 'update';
      const diff = action === 'unchanged' ? '' : createTwoFilesPatch(`live/${objectName(object)}`, `applied/${objectName(object)}`, before, after, undefined, undefined, { context: 3 });
      changes.push({ ...base, action, diff });
    }
    return changes;
  }

  /**
   * Applies each object in order (server-side apply, field manager opsbook). Stops at the first
   * conflict and answers it; nothing after it is applied.
   * @throws ClusterRejectedError when the cluster refuses an object.
   */
  async apply(objects: KubeObject[], forceConflicts: boolean): Promise<{ applied: Obj[]; conflict: ApplyConflict | null }> {
    const applied: Obj[] = [];
    for (const object of objects) {
      const outcome = await this.applyOne(object, { dryRun: false, force: forceConflicts });
      if ('conflicts' in outcome) return { applied, conflict: outcome };
      applied.push(outcome);
    }
    return { applied, conflict: null };
  }

  private async applyOne(object: KubeObject, options: { dryRun: boolean; force: boolean }): Promise<Obj | ApplyConflict> {
    try {
      return (await this.objects.patch(
        object as KubernetesObject,
        undefined,
        options.dryRun ? 'All' : undefined,
        FIELD_MANAGER,
        // Never forced by default: a field another manager owns is the user's to decide about.
        options.force ? true : undefined,
        k8s().PatchStrategy.ServerSideApply,
      )) as Obj;
    } catch (error) {
      if (isApiException(error) && error.code === 409) {
        const status = statusOf(error);
        const causes = (status?.details?.causes ?? []) as { field?: string; message?: string }[];
        return {
          object: objectName(object),
          message: status?.message ?? 'conflict',
          conflicts: causes.map((cause) => ({
            field: cause.field ?? '',
            manager: /conflict with "([^"]+)"/.exec(cause.message ?? '')?.[1] ?? (cause.message ?? 'another manager'),
          })),
        };
      }
      throw this.translate(object, error);
    }
  }

  /** Deletes one object; true when it existed. */
  async remove(object: KubeObject): Promise<boolean> {
    try {
      await this.objects.delete(header(object) as KubernetesObject, undefined, undefined, undefined, undefined, 'Foreground');
      return true;
    } catch (error) {
      if (isApiException(error) && error.code === 404) return false;
      throw this.translate(object, error);
    }
  }

  /**
   * Deletes what Opsbook created for a deployment: every object of the kinds it makes that carries
   * its labels (managed-by opsbook, instance NAME), nothing else.
   * @returns Kind/name of each object deleted.
   */
  async deleteLabelled(namespace: string, name: string): Promise<string[]> {
    const kinds: [string, string][] = [
      ['serving.kserve.io/v1beta1', 'InferenceService'],
      ['autoscaling/v2', 'HorizontalPodAutoscaler'],
      ['policy/v1', 'PodDisruptionBudget'],
      ['apps/v1', 'Deployment'],
      ['v1', 'Service'],
    ];
    const deleted: string[] = [];
    for (const [apiVersion, kind] of kinds) {
      let items: KubernetesObject[];
      try {
        items = (await this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector(name))).items;
      } catch (error) {
        // A cluster without KServe has no InferenceService kind: nothing of it to delete.
        if (kind === 'InferenceService' && (isApiException(error) ? error.code === 404 : /not found|unrecognized/i.test(String(error)))) continue;
        throw this.translate({ apiVersion, kind, metadata: { name } }, error);
      }
      for (const item of items) {
        if (await this.remove({ apiVersion, kind, metadata: { name: item.metadata!.name!, namespace } })) deleted.push(`${kind}/${item.metadata!.name!}`);
      }
    }
    return deleted;
  }

  /** The pod template of a Deployment's previous revision (its ReplicaSet before the current one), or null. */
  async previousTemplate(namespace: string, name: string): Promise<{ revision: number; template: Record<string, unknown> } | null> {
    const live = await this.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace } });
    if (!live) return null;
    const current = Number(live.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
    const sets = (await this.objects.list('apps/v1', 'ReplicaSet', namespace)).items as Obj[];
    const owned = sets
      .filter((rs) => rs.metadata?.ownerReferences?.some((ref) => ref.kind === 'Deployment' && ref.name === name && ref.uid === live.metadata?.uid))
      .map((rs) => ({ rs, revision: Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0) }))
      .filter(({ revision }) => revision > 0 && revision < current)
      .sort((a, b) => b.revision - a.revision);
    const previous = owned[0];
    if (!previous) return null;
    const template = structuredClone(previous.rs.spec?.template ?? {}) as { metadata?: { labels?: Record<string, string> } };
    // The controller's own label: it names the ReplicaSet, not the template a user applies.
    if (template.metadata?.labels) delete template.metadata.labels['pod-template-hash'];
    return { revision: previous.revision, template: template as Record<string, unknown> };
  }

  /**
   * The live state of a deployment: its main Deployment (or InferenceService) and canary, with the
   * warning events of their pods when they are not available.
   */
  async status(namespace: string, name: string, target: 'deployment' | 'kserve', canaryName: string | null): Promise<LiveStatus> {
    if (target === 'kserve') return this.inferenceServiceStatus(namespace, name);
    const main = await this.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace } });
    if (!main) return { state: 'absent', ready: 0, desired: 0, revision: null, canary: null, url: null, message: `Deployment ${name} is not in namespace ${namespace}`, events: [] };
    const canary = canaryName ? await this.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: canaryName, namespace } }) : null;
    // The main Deployment's replicas come from its autoscaler: it is not up until it has the minimum.
    const autoscaler = await this.read({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name, namespace } });
    const minimum = Number((autoscaler?.spec as { minReplicas?: number } | undefined)?.minReplicas ?? 0);
    const states = [deploymentState(main, minimum), ...(canary ? [deploymentState(canary, 0)] : [])];
    const failed = states.find((s) => s.state === 'failed');
    const state = failed ? 'failed' : states.every((s) => s.state === 'available') ? 'available' : 'progressing';
    const events = state === 'available' ? [] : await this.podEvents(namespace, name);
    const waiting = state === 'available' ? null : await this.waitingReason(namespace, name);
    return {
      state,
      ready: states[0].ready,
      desired: states[0].desired,
      revision: Number(main.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0) || null,
      canary: canary
        ? {
            ready: states[1].ready,
            desired: states[1].desired,
            percent: Math.round((100 * states[1].desired) / Math.max(1, states[0].desired + states[1].desired)),
            model_ref: canary.metadata?.annotations?.['opsbook.dev/model'] ?? '',
          }
        : null,
      url: null,
      message: failed?.message ?? waiting ?? states.find((s) => s.message)?.message ?? null,
      events,
    };
  }

  private async inferenceServiceStatus(namespace: string, name: string): Promise<LiveStatus> {
    const isvc = await this.read({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name, namespace } });
    if (!isvc) return { state: 'absent', ready: 0, desired: 0, revision: null, canary: null, url: null, message: `InferenceService ${name} is not in namespace ${namespace}`, events: [] };
    const conditions = ((isvc.status?.conditions ?? []) as { type: string; status: string; reason?: string; message?: string }[]);
    const ready = conditions.find((c) => c.type === 'Ready');
    const predictor = (isvc.spec?.predictor ?? {}) as { minReplicas?: number; canaryTrafficPercent?: number };
    const failed = ready?.status === 'False' && /fail|error/i.test(`${ready.reason ?? ''} ${ready.message ?? ''}`);
    return {
      state: ready?.status === 'True' ? 'available' : failed ? 'failed' : 'progressing',
      ready: ready?.status === 'True' ? (predictor.minReplicas ?? 1) : 0,
      desired: predictor.minReplicas ?? 1,
      revision: null,
      canary: predictor.canaryTrafficPercent !== undefined && predictor.canaryTrafficPercent < 100
        ? { ready: 0, desired: 0, percent: predictor.canaryTrafficPercent, model_ref: isvc.metadata?.annotations?.['opsbook.dev/model'] ?? '' }
        : null,
      url: typeof isvc.status?.url === 'string' ? isvc.status.url : null,
      message: ready?.message ?? null,
      events: [],
    };
  }

  /** Warning events of a deployment's pods (and Normal ones when there is no warning), newest first, at most 10. */
  async podEvents(namespace: string, name: string): Promise<PodEvent[]> {
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: labelSelector(name) });
    const events: (PodEvent & { at: number })[] = [];
    for (const pod of pods.items.slice(0, 10)) {
      const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${pod.metadata!.name!}` });
      for (const event of list.items) {
        const last = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp;
        events.push({
          object: `Pod/${pod.metadata!.name!}`,
          type: event.type ?? 'Normal',
          reason: event.reason ?? '',
          message: event.message ?? '',
          count: event.count ?? 1,
          last_seen: last ? new Date(last as unknown as string).toISOString() : null,
          at: last ? new Date(last as unknown as string).getTime() : 0,
        });
      }
    }
    const warnings = events.filter((e) => e.type === 'Warning');
    return (warnings.length > 0 ? warnings : events)
      .sort((a, b) => b.at - a.at)
      .slice(0, 10)
      .map(({ at: _at, ...event }) => event);
  }

  /** Why a deployment's pods are not starting, from their containers' waiting reasons (image pulls, crash loops). */
  private async waitingReason(namespace: string, name: string): Promise<string | null> {
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: labelSelector(name) });
    for (const pod of pods.items) {
      for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
        const waiting = status.state?.waiting;
        if (waiting?.reason && STUCK.has(waiting.reason)) return `${pod.metadata!.name!}: ${status.name} ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
      }
    }
    return null;
  }

  /**
   * Watches a deployment until it is available, failed (progress deadline exceeded, or pods stuck on
   * an image pull or crash loop for three polls in a row) or `timeoutMs` passed.
   */
  async watchRollout(
    namespace: string,
    name: string,
    target: 'deployment' | 'kserve',
    canaryName: string | null,
    options: { timeoutMs: number; intervalMs?: number; onProgress?: (status: LiveStatus) => void; signal?: AbortSignal },
  ): Promise<Rollout> {
    const started = Date.now();
    const interval = options.intervalMs ?? 1000;
    let stuck = 0;
    for (;;) {
      const status = await this.status(namespace, name, target, canaryName);
      options.onProgress?.(status);
      const seconds = (Date.now() - started) / 1000;
      if (status.state === 'available') return { state: 'available', seconds, message: null, events: [] };
      stuck = status.message && [...STUCK].some((reason) => status.message!.includes(reason)) ? stuck + 1 : 0;
      if (status.state === 'failed' || status.state === 'absent' || stuck >= 3) {
        return { state: 'failed', seconds, message: status.message ?? `rollout of ${name} failed`, events: status.events ?? (await this.podEvents(namespace, name)) };
      }
      if (Date.now() - started >= options.timeoutMs || options.signal?.aborted) {
        return {
          state: 'timed_out',
          seconds,
          message: `${name}: ${status.ready} of ${status.desired} replicas ready after ${Math.round(seconds)} s${status.message ? ` (${status.message})` : ''}`,
          events: status.events ?? [],
        };
      }
      await new Promise((done) => setTimeout(done, interval));
    }
  }

  private translate(object: KubeObject, error: unknown): Error {
    if (isApiException(error)) {
      const status = statusOf(error);
      if (error.code === 401 || error.code === 403) {
        return new NoClusterError(`${objectName(object)}: the cluster ${this.server} (context ${this.context}) refused the credentials: ${status?.message ?? error.message}`);
      }
      return new ClusterRejectedError(objectName(object), status?.message ?? `HTTP ${error.code}`);
    }
    const text = describe(error);
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket hang up|fetch failed|request to .* failed/i.test(text)) {
      return new NoClusterError(`the Kubernetes API server ${this.server} (context ${this.context}) cannot be reached: ${text}; ${HOW_TO_POINT}`);
    }
    return error instanceof Error ? error : new Error(text);
  }
}

/** Container waiting reasons that do not heal by waiting. */
const STUCK = new Set(['ErrImagePull', 'ImagePullBackOff', 'CrashLoopBackOff', 'CreateContainerConfigError', 'InvalidImageName', 'CreateContainerError']);

function isApiException(error: unknown): error is ApiException<unknown> {
  return error instanceof k8s().ApiException;
}

function header(object: KubeObject): KubernetesObject {
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } };
}

function statusOf(error: ApiException<unknown>): { message?: string; details?: { causes?: unknown[] } } | null {
  const body = error.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as { message?: string };
    } catch {
      return { message: body };
    }
  }
  return (body ?? null) as { message?: string } | null;
}

function describe(error: unknown): string {
  if (isApiException(error)) return statusOf(error)?.message ?? `HTTP ${error.code}`;
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const base = error instanceof Error ? error.message : String(error);
  return cause?.code ? `${base} (${cause.code})` : base;
}

function deploymentState(object: Obj, minimum: number): { state: 'available' | 'progressing' | 'failed'; ready: number; desired: number; message: string | null } {
  const spec = (object.spec ?? {}) as { replicas?: number };
  const status = (object.status ?? {}) as {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
  const desired = Math.max(spec.replicas ?? 1, minimum);
  const ready = status.readyReplicas ?? 0;
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return { state: 'failed', ready, desired, message: progressing.message ?? `${object.metadata?.name} exceeded its progress deadline` };
  }
  const generation = object.metadata?.generation ?? 0;
  const done =
    (status.observedGeneration ?? 0) >= generation &&
    (status.updatedReplicas ?? 0) === desired &&
    (status.availableReplicas ?? 0) >= desired &&
    (status.replicas ?? 0) === desired;
  return { state: done ? 'available' : 'progressing', ready, desired, message: done ? null : `${object.metadata?.name}: ${status.updatedReplicas ?? 0} of ${desired} updated, ${status.availableReplicas ?? 0} available` };
}
