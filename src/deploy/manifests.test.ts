import type { DeployModel, KubeObject } from '@opsbook/schema';
import { imageFor, renderManifests, settingsOf, splitReplicas } from './manifests';

const MODEL: DeployModel = {
  ref: 'churn:3',
  name: 'churn',
  version: 3,
  run_id: '6f1c1a52-4a59-4c55-9a55-0c0d4d1e2f30',
  sha256: 'ab'.repeat(32),
  bytes: 3 * 2 ** 20,
  path: '/ws/.opsbook/artifacts/run/model/churn.onnx',
};
const DIGEST = `registry.example/opsbook@sha256:${'d'.repeat(64)}`;

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] }; seccompProfile: { type: string } };
  readinessProbe?: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    securityContext: Record<string, unknown>;
    initContainers: Container[];
    containers: Container[];
    volumes: { name: string; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string; readOnly: boolean } }[];
    tolerations?: { key: string; operator: string; effect: string }[];
    nodeSelector?: Record<string, string>;
    automountServiceAccountToken: boolean;
  };
}

function template(objects: KubeObject[], name: string): PodTemplate {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as unknown as { spec: { template: PodTemplate } };
  return deployment.spec.template;
}

/** The restricted Pod Security profile, container by container, and requests equal to limits. */
function expectRestricted(pod: PodTemplate): void {
  expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(pod.spec.automountServiceAccountToken).toBe(false);
  for (const container of [...pod.spec.initContainers, ...pod.spec.containers]) {
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(container.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(container.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.requests.memory).toBeDefined();
    expect(container.resources.limits).toEqual(container.resources.requests);
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  }
  expect(pod.spec.volumes.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
}

describe('deploy manifests', () => {
  test('CPU: Deployment, Service, HPA and PDB, validated by kubernetes-models, restricted, probed on /v2/health, scraped by Prometheus', () => {
    const settings = settingsOf({ model: 'churn:3', name: 'churn', image: DIGEST, cpu: '500m', memory: '512Mi' }, MODEL);
    const objects = renderManifests(settings, MODEL);
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
      'apps/v1 Deployment',
      'v1 Service',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'policy/v1 PodDisruptionBudget',
    ]);
    const pod = template(objects, 'churn');
    expectRestricted(pod);
    expect((objects[0] as unknown as { spec: { replicas?: number } }).spec.replicas).toBeUndefined();
    expect(objects[2]).toMatchObject({ spec: { minReplicas: 2, maxReplicas: 8, scaleTargetRef: { kind: 'Deployment', name: 'churn' } } });
    const server = pod.spec.containers[0];
    expect(server.image).toBe(DIGEST);
    expect(server.resources.limits).toEqual({ cpu: '500m', memory: '512Mi' });
    expect(server.readinessProbe?.httpGet.path).toBe('/v2/health/ready');
    expect(server.livenessProbe?.httpGet.path).toBe('/v2/health/live');
    expect(server.args).toEqual(expect.arrayContaining(['--device', 'cpu', '--name', 'churn']));
    expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics', 'opsbook.dev/model': 'churn:3' });
    expect(pod.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'opsbook', 'app.kubernetes.io/instance': 'churn', 'app.kubernetes.io/version': '3' });
    // The model from the default claim, its sha256 checked by the init container before the server starts.
    const init = pod.spec.initContainers[0];
    expect(init.command).toEqual(['python', '-m', 'opsbook.fetch_model', '--sha256', MODEL.sha256, '--out', '/models/model.onnx', '--file', '/source/models/churn/3/model.onnx']);
    expect(pod.spec.volumes.find((v) => v.name === 'source')?.persistentVolumeClaim).toEqual({ claimName: 'opsbook-models', readOnly: true });
    expect(pod.spec.tolerations).toBeUndefined();
  });

  test('GPU: nvidia.com/gpu limits, the GPU toleration and node selector, the CUDA image and device', () => {
    const settings = settingsOf({ model: 'churn:3', name: 'churn', image: 'registry.example/opsbook:0.1.0', gpu: 2, model_url: 'https://models.example/churn.onnx' }, MODEL);
    const pod = template(renderManifests(settings, MODEL), 'churn');
    expectRestricted(pod);
    const server = pod.spec.containers[0];
    expect(server.image).toBe('registry.example/opsbook:0.1.0-cuda');
    expect(server.resources.limits['nvidia.com/gpu']).toBe('2');
    expect(server.args).toEqual(expect.arrayContaining(['--device', 'cuda']));
    expect(pod.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    // The init container only copies a file: no GPU for it.
    expect(pod.spec.initContainers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(pod.spec.initContainers[0].command).toEqual(expect.arrayContaining(['--url', 'https://models.example/churn.onnx']));
    expect(pod.spec.volumes.map((v) => v.name)).toEqual(['models', 'tmp']);
  });

  test('canary: the main Deployment keeps its model with fewer replicas, the canary runs the new one; both behind one Service', () => {
    const mainSettings = settingsOf({ model: 'churn:3', name: 'churn', image: DIGEST, replicas: 4 }, MODEL);
    const next: DeployModel = { ...MODEL, ref: 'churn:4', version: 4, sha256: 'cd'.repeat(32) };
    const objects = renderManifests(settingsOf({ model: 'churn:4', name: 'churn', image: DIGEST, canary: 25 }, next), next, { model: MODEL, settings: mainSettings });
    const replicas = (name: string) => (objects.find((o) => o.metadata.name === name && o.kind === 'Deployment') as unknown as { spec: { replicas?: number } }).spec.replicas;
    // The main Deployment's replicas are its autoscaler's, held at the main share while the canary runs.
    expect([replicas('churn'), replicas('churn-canary')]).toEqual([undefined, 1]);
    expect(objects.find((o) => o.kind === 'HorizontalPodAutoscaler')).toMatchObject({ spec: { minReplicas: 3, maxReplicas: 3 } });
    expect(template(objects, 'churn').metadata.annotations['opsbook.dev/model']).toBe('churn:3');
    expect(template(objects, 'churn-canary').metadata.annotations['opsbook.dev/model']).toBe('churn:4');
    const service = objects.find((o) => o.kind === 'Service') as unknown as { spec: { selector: Record<string, string> } };
    expect(service.spec.selector['app.kubernetes.io/component']).toBeUndefined();
    expect(() => renderManifests(settingsOf({ model: 'churn:4', name: 'churn', image: DIGEST, canary: 25 }, next), next)).toThrow(/deploy it first without canary/);
  });

  test('KServe: one InferenceService, V2 protocol, modelFormat onnx, storageUri, canaryTrafficPercent', () => {
    const objects = renderManifests(settingsOf({ model: 'churn:3', name: 'churn', target: 'kserve', canary: 10, gpu: 1 }, MODEL), MODEL);
    expect(objects).toHaveLength(1);
    expect(objects[0]).toMatchObject({
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      spec: {
        predictor: {
          canaryTrafficPercent: 10,
          model: { modelFormat: { name: 'onnx' }, protocolVersion: 'v2', storageUri: 'pvc://opsbook-models/models/churn/3/model.onnx', resources: { limits: { 'nvidia.com/gpu': '1' } } },
        },
      },
    });
  });

  test('images, replica splits and bad input', () => {
    expect(imageFor(DIGEST, 1)).toBe(DIGEST);
    expect(imageFor('r.example/opsbook:0.1-cuda', 1)).toBe('r.example/opsbook:0.1-cuda');
    expect(imageFor('localhost:5000/opsbook', 1)).toBe('localhost:5000/opsbook:latest-cuda');
    expect(imageFor('localhost:5000/opsbook:1', 0)).toBe('localhost:5000/opsbook:1');
    expect(splitReplicas(4, 25)).toEqual({ main: 3, canary: 1 });
    expect(splitReplicas(10, 50)).toEqual({ main: 5, canary: 5 });
    expect(splitReplicas(1, 10)).toEqual({ main: 1, canary: 1 });
    expect(() => settingsOf({ model: 'm', name: 'm', image: DIGEST, model_url: 'https://x/m.onnx', model_pvc: 'claim' }, MODEL)).toThrow(/not both/);
    expect(() => settingsOf({ model: 'm', name: 'm' }, MODEL)).toThrow(/--image/);
    expect(() => settingsOf({ model: 'm', name: 'm', image: DIGEST, model_pvc: 'claim/../etc/passwd' }, MODEL)).toThrow(/must name a file/);
  });
});
