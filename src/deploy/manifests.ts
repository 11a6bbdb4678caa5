import type { DeployModel, DeployRequest, KubeObject } from '@opsbook/schema';
import type { Deployment } from 'kubernetes-models/apps/v1';
import type { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IContainer, IPodSpec, IVolume, Service } from 'kubernetes-models/v1';
import { BadInputError } from '../store/errors';

/**
 * kubernetes-models' classes, loaded on first render: with their schemas they take seconds to load on
 * a busy machine, and the daemon that imports this must start quickly.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const models = {
  apps: () => require('kubernetes-models/apps/v1') as typeof import('kubernetes-models/apps/v1'),
  autoscaling: () => require('kubernetes-models/autoscaling/v2') as typeof import('kubernetes-models/autoscaling/v2'),
  policy: () => require('kubernetes-models/policy/v1') as typeof import('kubernetes-models/policy/v1'),
  core: () => require('kubernetes-models/v1') as typeof import('kubernetes-models/v1'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The field manager of every apply: what `kubectl get -o yaml --show-managed-fields` shows as Opsbook's. */
export const FIELD_MANAGER = 'opsbook';
/** The port the serving runtime listens on in the pod. */
export const SERVER_PORT = 8080;
/** The UID and GID the runtime image runs as (src/deploy/runtime/Dockerfile: USER 65532). */
export const RUNTIME_UID = 65532;
/** The PVC a model comes from when the request names neither a URL nor a claim. */
export const DEFAULT_MODEL_CLAIM = 'opsbook-models';
const MODEL_DIR = '/models';
const SOURCE_DIR = '/source';

/** The labels that select what Opsbook created for one deployment (delete and status use them). */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'opsbook', 'app.kubernetes.io/instance': name };
}

/** The label selector string of {@link selectorLabels}. */
export function labelSelector(name: string): string {
  return Object.entries(selectorLabels(name))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** A request with every default filled in, as the manifests are rendered from it. */
export interface DeploySettings {
  name: string;
  namespace: string;
  image: string;
  replicas: number;
  maxReplicas: number;
  gpu: number;
  cpu: string;
  memory: string;
  target: 'deployment' | 'kserve';
  canary: number | null;
  source: ModelSource;
}

/** Where pods get the model file: a URL, or a path on a PersistentVolumeClaim. */
export type ModelSource = { kind: 'url'; url: string } | { kind: 'pvc'; claim: string; path: string };

/**
 * Fills in the defaults of a request for this model.
 * @throws BadInputError naming the field: model_url and model_pvc both given, max_replicas below
 *   replicas, a target deployment without an image.
 */
export function settingsOf(request: DeployRequest, model: DeployModel): DeploySettings {
  if (request.model_url !== undefined && request.model_pvc !== undefined) {
    throw new BadInputError('model_pvc', request.model_pvc, 'give the model as model_url or model_pvc, not both');
  }
  const target = request.target ?? 'deployment';
  if (target === 'deployment' && !request.image) throw new BadInputError('image', null, 'deploy needs --image: the serving runtime image (docs/deploy.md builds it)');
  const replicas = request.replicas ?? 2;
  const maxReplicas = request.max_replicas ?? Math.max(replicas, 4 * replicas);
  if (maxReplicas < replicas) {
    throw new BadInputError('max_replicas', maxReplicas, `max_replicas ${maxReplicas} is below replicas ${replicas}`);
  }
  return {
    name: request.name,
    namespace: request.namespace ?? 'default',
    image: request.image ?? '',
    replicas,
    maxReplicas,
    gpu: request.gpu ?? 0,
    cpu: request.cpu ?? '1',
    memory: request.memory ?? '1Gi',
    target,
    canary: request.canary ?? null,
    source: sourceOf(request, model),
  };
}

function sourceOf(request: DeployRequest, model: DeployModel): ModelSource {
  if (request.model_url !== undefined) return { kind: 'url', url: request.model_url };
  const given = request.model_pvc;
  if (given !== undefined && given.includes('/')) {
    const slash = given.indexOf('/');
    const path = given.slice(slash + 1).replace(/^\/+/, '');
    if (path === '' || path.split('/').includes('..')) throw new BadInputError('model_pvc', given, `model_pvc ${JSON.stringify(given)}: the path after the claim must name a file`);
    return { kind: 'pvc', claim: given.slice(0, slash), path };
  }
  return { kind: 'pvc', claim: given ?? DEFAULT_MODEL_CLAIM, path: defaultModelPath(model) };
}

/** Where a model lies on the default claim: models/NAME/VERSION/model.onnx (a file: its stem and sha256 prefix). */
export function defaultModelPath(model: DeployModel): string {
  if (model.name !== null && model.version !== null) return `models/${model.name}/${model.version}/model.onnx`;
  const stem = (model.path.split(/[\\/]/).pop() ?? 'model').replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9._-]/g, '-') || 'model';
  return `models/${stem}/${model.sha256.slice(0, 12)}/model.onnx`;
}

/**
 * The image a pod runs: as given for CPU; for GPUs the CUDA variant, which is the image itself when
 * it is pinned by digest (the digest names one build: the user gives the CUDA build's) or its tag
 * already ends in -cuda, else the tag with -cuda appended (the Dockerfile.cuda build's tag).
 */
export function imageFor(image: string, gpu: number): string {
  if (gpu === 0 || image.includes('@') || /:[^/]*-cuda$/.test(image)) return image;
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? `${image}-cuda` : `${image}:latest-cuda`;
}

/** The name the model is served under (`/v2/models/NAME/infer`): its registry name, else the file's stem. */
export function servedName(model: DeployModel): string {
  const base = model.name ?? (model.path.split(/[\\/]/).pop() ?? 'model').replace(/\.onnx$/i, '');
  return base.replace(/[^A-Za-z0-9._-]/g, '-') || 'model';
}

/** What the canary split gives each Deployment: the canary gets its percent of the replicas, at least one. */
export function splitReplicas(total: number, percent: number): { main: number; canary: number } {
  const canary = Math.min(Math.max(1, Math.round((total * percent) / 100)), Math.max(1, total - 1));
  return { main: Math.max(1, total - canary), canary };
}

/** What a main Deployment runs while a canary is rendered beside it: the model it had (from the record). */
export interface MainState {
  model: DeployModel;
  settings: DeploySettings;
}

/**
 * The manifests of one deployment, in apply order, each validated against the Kubernetes OpenAPI
 * schema (kubernetes-models) before it leaves here.
 * - target deployment, no canary: Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget.
 * - target deployment with a canary: the main Deployment re-rendered from `main` (its model unchanged,
 *   its replicas reduced) and `<name>-canary` running this model; the Service selects both.
 * - target kserve: one InferenceService (canaryTrafficPercent with a canary).
 * @throws BadInputError when a canary has no main deployment to stand beside.
 */
export function renderManifests(settings: DeploySettings, model: DeployModel, main?: MainState): KubeObject[] {
  if (settings.target === 'kserve') return [inferenceService(settings, model)];
  if (settings.canary !== null) {
    if (!main) {
      throw new BadInputError('canary', settings.canary, `no deployment ${settings.name} was recorded in namespace ${settings.namespace} to put a canary beside; deploy it first without canary`);
    }
    const split = splitReplicas(main.settings.replicas, settings.canary);
    return [
      deployment(main.settings, main.model, 'predictor'),
      deployment({ ...settings, replicas: split.canary }, model, 'canary'),
      // While the canary runs, the autoscaler holds the main Deployment at its share of the split.
      hpa(main.settings, split.main, split.main),
      pdb(main.settings),
      service(main.settings),
    ].map(validated);
  }
  return [deployment(settings, model, 'predictor'), service(settings), hpa(settings, settings.replicas, settings.maxReplicas), pdb(settings)].map(validated);
}

/** The manifests' own names: what `delete` and the status read expect to find. */
export function deploymentNames(name: string): { main: string; canary: string } {
  return { main: name, canary: `${name}-canary` };
}

function validated(object: { validate(): void; toJSON(): unknown }): KubeObject {
  object.validate();
  // toJSON drops undefined members; a JSON round trip gives plain data for YAML and the API.
  return JSON.parse(JSON.stringify(object.toJSON())) as KubeObject;
}

function labels(settings: DeploySettings, model: DeployModel, component: 'predictor' | 'canary' | 'service'): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'opsbook-server',
    'app.kubernetes.io/instance': settings.name,
    ...(component === 'service' ? {} : { 'app.kubernetes.io/version': versionLabel(model), 'app.kubernetes.io/component': component }),
    'app.kubernetes.io/part-of': 'opsbook',
    'app.kubernetes.io/managed-by': 'opsbook',
  };
}

function versionLabel(model: DeployModel): string {
  return model.version !== null ? String(model.version) : model.sha256.slice(0, 12);
}

function modelAnnotations(model: DeployModel): Record<string, string> {
  return {
    'opsbook.dev/model': model.ref,
    'opsbook.dev/model-sha256': model.sha256,
    ...(model.run_id ? { 'opsbook.dev/run-id': model.run_id } : {}),
  };
}

function resources(settings: DeploySettings): { requests: Record<string, string>; limits: Record<string, string> } {
  // Requests equal limits: a Guaranteed pod, never throttled below what it asked for or evicted first.
  const fixed: Record<string, string> = { cpu: settings.cpu, memory: settings.memory };
  if (settings.gpu > 0) fixed['nvidia.com/gpu'] = String(settings.gpu);
  return { requests: { ...fixed }, limits: { ...fixed } };
}

/** Restricted Pod Security (https://kubernetes.io/docs/concepts/security/pod-security-standards/) for one container. */
function containerSecurity(): NonNullable<IContainer['securityContext']> {
  return {
    runAsNonRoot: true,
    runAsUser: RUNTIME_UID,
    runAsGroup: RUNTIME_UID,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function fetchCommand(settings: DeploySettings, model: DeployModel): string[] {
  const from = settings.source.kind === 'url' ? ['--url', settings.source.url] : ['--file', `${SOURCE_DIR}/${settings.source.path}`];
  return ['python', '-m', 'opsbook.fetch_model', '--sha256', model.sha256, '--out', `${MODEL_DIR}/model.onnx`, ...from];
}

function podSpec(settings: DeploySettings, model: DeployModel): IPodSpec {
  const image = imageFor(settings.image, settings.gpu);
  const modelMi = Math.max(64, Math.ceil((model.bytes * 1.25) / 2 ** 20) + 16);
  const volumes: IVolume[] = [
    { name: 'models', emptyDir: { sizeLimit: `${modelMi}Mi` } },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
  ];
  const initMounts = [{ name: 'models', mountPath: MODEL_DIR }, { name: 'tmp', mountPath: '/tmp' }];
  if (settings.source.kind === 'pvc') {
    volumes.push({ name: 'source', persistentVolumeClaim: { claimName: settings.source.claim, readOnly: true } });
    initMounts.push({ name: 'source', mountPath: SOURCE_DIR, readOnly: true } as (typeof initMounts)[number]);
  }
  const env = [
    { name: 'HOME', value: '/tmp' },
    { name: 'OPSBOOK_WORKSPACE', value: '/tmp' },
  ];
  const probe = (path: string, period: number, failures: number): NonNullable<IContainer['readinessProbe']> => ({
    httpGet: { path, port: 'http' },
    periodSeconds: period,
    timeoutSeconds: 2,
    failureThreshold: failures,
  });
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUNTIME_UID,
      runAsGroup: RUNTIME_UID,
      fsGroup: RUNTIME_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    initContainers: [
      {
        name: 'fetch-model',
        image,
        imagePullPolicy: 'IfNotPresent',
        command: fetchCommand(settings, model),
        env,
        resources: resources({ ...settings, gpu: 0 }),
        securityContext: containerSecurity(),
        volumeMounts: initMounts,
      },
    ],
    containers: [
      {
        name: 'server',
        image,
        imagePullPolicy: 'IfNotPresent',
        args: [
          'serve', `${MODEL_DIR}/model.onnx`, '--name', servedName(model),
          '--host', '0.0.0.0', '--port', String(SERVER_PORT),
          // In the cluster the Service and NetworkPolicies guard the port; the runtime's own key check
          // is for servers bound beside a user's other processes.
          '--insecure', '--foreground', '--no-request-log',
          '--device', settings.gpu > 0 ? 'cuda' : 'cpu',
        ],
        env,
        ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }],
        resources: resources(settings),
        securityContext: containerSecurity(),
        // The model loads before ready: startup allows a minute, then liveness takes over.
        startupProbe: probe('/v2/health/live', 2, 30),
        livenessProbe: probe('/v2/health/live', 10, 3),
        readinessProbe: probe('/v2/health/ready', 5, 3),
        volumeMounts: [
          { name: 'models', mountPath: MODEL_DIR, readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
    ],
    volumes,
    ...(settings.gpu > 0
      ? {
          nodeSelector: { 'nvidia.com/gpu.present': 'true' },
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        }
      : {}),
    terminationGracePeriodSeconds: 30,
  };
}

function deployment(settings: DeploySettings, model: DeployModel, component: 'predictor' | 'canary'): Deployment {
  const name = component === 'canary' ? deploymentNames(settings.name).canary : settings.name;
  const podLabels = labels(settings, model, component);
  return new (models.apps().Deployment)({
    metadata: { name, namespace: settings.namespace, labels: podLabels, annotations: modelAnnotations(model) },
    spec: {
      // The main Deployment's replicas belong to its autoscaler (minReplicas raises them): applying them
      // too would conflict with the HPA controller's writes on every later deploy. The canary has no
      // autoscaler and carries its share of the split.
      ...(component === 'canary' ? { replicas: settings.replicas } : {}),
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      selector: {
        matchLabels: { ...selectorLabels(settings.name), 'app.kubernetes.io/component': component },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: podLabels,
          annotations: {
            ...modelAnnotations(model),
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(SERVER_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: podSpec(settings, model),
      },
    },
  });
}

function service(settings: DeploySettings): Service {
  return new (models.core().Service)({
    metadata: { name: settings.name, namespace: settings.namespace, labels: labels(settings, {} as DeployModel, 'service') },
    spec: {
      type: 'ClusterIP',
      // Both the main and the canary Deployment's pods: traffic splits as their replicas do.
      selector: { ...selectorLabels(settings.name), 'app.kubernetes.io/name': 'opsbook-server' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  });
}

function hpa(settings: DeploySettings, minReplicas: number, maxReplicas: number): HorizontalPodAutoscaler {
  return new (models.autoscaling().HorizontalPodAutoscaler)({
    metadata: { name: settings.name, namespace: settings.namespace, labels: labels(settings, {} as DeployModel, 'service') },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: settings.name },
      minReplicas,
      maxReplicas: Math.max(minReplicas, maxReplicas),
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    },
  });
}

function pdb(settings: DeploySettings): PodDisruptionBudget {
  return new (models.policy().PodDisruptionBudget)({
    metadata: { name: settings.name, namespace: settings.namespace, labels: labels(settings, {} as DeployModel, 'service') },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { ...selectorLabels(settings.name), 'app.kubernetes.io/component': 'predictor' } },
    },
  });
}

/** Where KServe's storage initializer fetches the model from. */
export function storageUri(source: ModelSource): string {
  return source.kind === 'url' ? source.url : `pvc://${source.claim}/${source.path}`;
}

/**
 * A KServe InferenceService (serving.kserve.io/v1beta1): the V2 protocol, modelFormat onnx, served by
 * the cluster's ServingRuntime for ONNX; the model from storageUri. kubernetes-models has no KServe
 * types: the object is checked against the KServe SDK's models by the Python tests.
 */
function inferenceService(settings: DeploySettings, model: DeployModel): KubeObject {
  const { requests, limits } = resources(settings);
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name: settings.name,
      namespace: settings.namespace,
      labels: labels(settings, model, 'predictor'),
      annotations: { ...modelAnnotations(model), 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(SERVER_PORT), 'prometheus.io/path': '/metrics' },
    },
    spec: {
      predictor: {
        minReplicas: settings.replicas,
        maxReplicas: Math.max(settings.replicas, settings.maxReplicas),
        ...(settings.canary !== null ? { canaryTrafficPercent: settings.canary } : {}),
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        ...(settings.gpu > 0
          ? {
              nodeSelector: { 'nvidia.com/gpu.present': 'true' },
              tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            }
          : {}),
        model: {
          modelFormat: { name: 'onnx' },
          protocolVersion: 'v2',
          storageUri: storageUri(settings.source),
          resources: { requests, limits },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      },
    },
  } as KubeObject;
}
