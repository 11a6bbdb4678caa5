import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver';

// client-node is ESM-only: Node 20's require(esm) loads it at run time, and under jest the ESM transform of
// jest.config.js does; TypeScript (CommonJS output) only takes its types through an import-mode type import.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const k8s = require('@kubernetes/client-node') as typeof K8s;

type Obj = K8s.KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown>; data?: Record<string, string> };

let fake: FakeApiServer;
let kc: K8s.KubeConfig;
let objects: K8s.KubernetesObjectApi;
let apps: K8s.AppsV1Api;
let core: K8s.CoreV1Api;

beforeAll(async () => {
  fake = await FakeApiServer.start({
    tickMs: 20,
    readyAfterTicks: 2,
    progressDeadlineTicks: 15,
    failingImages: [{ pattern: /:broken$/, reason: 'ErrImagePull', message: 'Failed to pull image "{image}": not found' }],
  });
  kc = new k8s.KubeConfig();
  kc.loadFromString(fake.kubeconfig());
  objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  core = kc.makeApiClient(k8s.CoreV1Api);
});

afterAll(async () => {
  await fake.stop();
});

/** Server-side apply as Opsbook does it: field manager opsbook, force only when asked. */
function apply(object: object, options: { force?: boolean; dryRun?: 'All' } = {}): Promise<Obj> {
  return objects.patch(clone(object) as K8s.KubernetesObject, undefined, options.dryRun, 'opsbook', options.force, k8s.PatchStrategy.ServerSideApply) as Promise<Obj>;
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function deployment(namespace: string, name: string, image: string, replicas = 2): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'opsbook' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'server', image, ports: [{ containerPort: 8080 }], env: [{ name: 'A', value: '1' }] }] },
      },
    },
  };
}

/** The Status body of a failed call. */
function statusOf(error: unknown): { kind: string; status: string; reason: string; message: string; code: number; details?: { causes?: unknown[] } } {
  expect(error).toBeInstanceOf(Error);
  const body = (error as { body?: unknown }).body;
  return JSON.parse(typeof body === 'string' ? body : JSON.stringify(body)) as ReturnType<typeof statusOf>;
}

async function failure(promise: Promise<unknown>): Promise<ReturnType<typeof statusOf>> {
  try {
    await promise;
  } catch (error) {
    return statusOf(error);
  }
  throw new Error('expected the call to fail');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function condition(object: { status?: { conditions?: { type: string; status: string; reason?: string }[] } }, type: string) {
  return object.status?.conditions?.find((c) => c.type === type);
}

/** The Deployment once its rollout is complete, as `kubectl rollout status` decides it. */
async function rolledOut(namespace: string, name: string): Promise<K8s.V1Deployment> {
  return until(`${name} to roll out`, async () => {
    const d = await apps.readNamespacedDeployment({ name, namespace });
    const s = d.status;
    const done = s?.observedGeneration === d.metadata?.generation && s?.updatedReplicas === d.spec?.replicas && s?.availableReplicas === d.spec?.replicas && s?.replicas === d.spec?.replicas;
    return done && condition(d as never, 'Progressing')?.reason === 'NewReplicaSetAvailable' ? d : undefined;
  });
}

async function rawGet(path: string, token = true): Promise<{ code: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${String((kc.getCurrentUser() as { token?: string }).token)}`;
  const res = await fetch(`${fake.url}${path}`, { headers });
  return { code: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('discovery answers what client-node asks, the KServe group included; unknown groups are NotFound (fake Kubernetes API)', async () => {
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  expect(version.major).toBe('1');
  const groups = await rawGet('/apis');
  const names = (groups.body.groups as { name: string }[]).map((g) => g.name);
  expect(names).toEqual(expect.arrayContaining(['apps', 'autoscaling', 'policy', 'serving.kserve.io']));
  const kserve = await rawGet('/apis/serving.kserve.io/v1beta1');
  expect(kserve.body).toMatchObject({ kind: 'APIResourceList', groupVersion: 'serving.kserve.io/v1beta1' });
  expect((kserve.body.resources as { name: string }[])[0]).toMatchObject({ name: 'inferenceservices', singularName: 'inferenceservice', namespaced: true, kind: 'InferenceService' });

  const isvc = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'churn', namespace: 'kserve' },
    spec: { predictor: { model: { modelFormat: { name: 'onnx' }, protocolVersion: 'v2', storageUri: 'https://models.example.com/churn/1/model.onnx' } } },
  };
  await apply(isvc);
  // KubernetesObjectApi found the resource through discovery before it patched.
  expect(fake.requests.some((r) => r.method === 'GET' && r.path === '/apis/serving.kserve.io/v1beta1')).toBe(true);
  const ready = await until('the InferenceService to be ready', async () => {
    const o = (await objects.read({ apiVersion: isvc.apiVersion, kind: isvc.kind, metadata: isvc.metadata })) as Obj;
    return condition(o as never, 'Ready')?.status === 'True' ? o : undefined;
  });
  expect(ready.status?.url).toBe('http://churn.kserve.example.com');

  // A new model version with a canary: 10 % to the new revision once it is ready, 90 % to the previous one.
  const canary = clone(isvc) as typeof isvc & { spec: { predictor: { canaryTrafficPercent?: number } } };
  canary.spec.predictor.model.storageUri = 'https://models.example.com/churn/2/model.onnx';
  canary.spec.predictor.canaryTrafficPercent = 10;
  await apply(canary);
  const split = await until('the canary traffic split', async () => {
    const o = (await objects.read({ apiVersion: isvc.apiVersion, kind: isvc.kind, metadata: isvc.metadata })) as Obj;
    const traffic = (o.status?.components as { predictor?: { traffic?: { percent: number; revisionName: string }[] } } | undefined)?.predictor?.traffic;
    return traffic?.length === 2 ? traffic : undefined;
  });
  expect(split.map((t) => [t.revisionName, t.percent])).toEqual([['churn-predictor-00002', 10], ['churn-predictor-00001', 90]]);

  const unknown = await failure(objects.read({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'default' } }));
  expect(unknown).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
  const raw = await rawGet('/apis/example.com/v1');
  expect(raw.code).toBe(404);
});

test('server-side apply creates, records ownership, and re-applying the same manifest changes nothing (fake Kubernetes API)', async () => {
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'ssa', labels: { team: 'ml' } }, data: { threshold: '0.5' } };
  const created = await apply(configMap);
  expect(created.metadata?.uid).toBeTruthy();
  expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
  const managed = created.metadata?.managedFields ?? [];
  expect(managed).toHaveLength(1);
  expect(managed[0]).toMatchObject({ manager: 'opsbook', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:threshold': {} }, 'f:metadata': { 'f:labels': { 'f:team': {} } } } });
  const patchRequest = fake.requests.filter((r) => r.method === 'PATCH' && r.path === '/api/v1/namespaces/ssa/configmaps/settings')[0];
  expect(patchRequest.contentType).toBe('application/apply-patch+yaml');
  expect(patchRequest.query.fieldManager).toBe('opsbook');
  expect(patchRequest.query.force).toBeUndefined();

  const again = await apply(configMap);
  expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

  // A Service gets a cluster IP from the server, owned by no applier: re-applying without it keeps it.
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'model', namespace: 'ssa' }, spec: { selector: { app: 'model' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
  const svc = await apply(service);
  const ip = (svc.spec as { clusterIP?: string }).clusterIP;
  expect(ip).toMatch(/^10\.96\./);
  expect(JSON.stringify(svc.metadata?.managedFields)).not.toContain('clusterIP');
  const svcAgain = await apply(service);
  expect((svcAgain.spec as { clusterIP?: string }).clusterIP).toBe(ip);
  expect(svcAgain.metadata?.resourceVersion).toBe(svc.metadata?.resourceVersion);
});

test('a field another manager set is a Conflict worded like the real one; the same value is shared; force takes it (fake Kubernetes API)', async () => {
  await apply(deployment('conflicts', 'model', 'opsbook/serve:1'));
  fake.seed({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'model', namespace: 'conflicts' }, spec: { replicas: 5 } }, 'kubectl');

  const status = await failure(apply(deployment('conflicts', 'model', 'opsbook/serve:1')));
  expect(status).toMatchObject({
    kind: 'Status',
    status: 'Failure',
    reason: 'Conflict',
    code: 409,
    message: 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas',
    details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl" using apps/v1', field: '.spec.replicas' }] },
  });
  expect((fake.get('apps/v1', 'Deployment', 'conflicts', 'model') as Obj).spec?.replicas).toBe(5);

  // A second field (inside the containers list, keyed by name) under the same manager: one line per field.
  fake.seed({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'model', namespace: 'conflicts' }, spec: { template: { spec: { containers: [{ name: 'server', image: 'opsbook/serve:hotfix' }] } } } }, 'kubectl');
  const two = await failure(apply(deployment('conflicts', 'model', 'opsbook/serve:1')));
  expect(two.message).toBe('Apply failed with 2 conflicts: conflicts with "kubectl" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name="server"].image');
  expect(two.details?.causes).toHaveLength(2);
  // The seed merged into the list by key: the container kept its ports and env.
  const live = fake.get('apps/v1', 'Deployment', 'conflicts', 'model') as { spec: { template: { spec: { containers: { ports?: unknown[]; env?: unknown[] }[] } } } };
  expect(live.spec.template.spec.containers[0].ports).toHaveLength(1);

  // Applying the values kubectl set is no conflict: both own them.
  const same = deployment('conflicts', 'model', 'opsbook/serve:hotfix', 5);
  const shared = await apply(same);
  const owners = (shared.metadata?.managedFields ?? []).filter((m) => JSON.stringify(m.fieldsV1).includes('"f:replicas"')).map((m) => m.manager);
  expect(owners.sort()).toEqual(['kubectl', 'opsbook']);

  const forced = await apply(deployment('conflicts', 'model', 'opsbook/serve:1', 3), { force: true });
  expect(forced.spec?.replicas).toBe(3);
  const kubectl = (forced.metadata?.managedFields ?? []).find((m) => m.manager === 'kubectl');
  expect(JSON.stringify(kubectl?.fieldsV1 ?? {})).not.toContain('f:replicas');
  expect(JSON.stringify(kubectl?.fieldsV1 ?? {})).not.toContain('f:image');
  expect(fake.requests.filter((r) => r.path.endsWith('/conflicts/deployments/model') && r.query.force === 'true')).toHaveLength(1);
});

test('with the controller stepped by hand: re-applying a rolled-out Deployment keeps its resourceVersion; a merge patch is an Update that takes the field (fake Kubernetes API)', async () => {
  const manual = await FakeApiServer.start({ tickMs: 0, readyAfterTicks: 1 });
  try {
    const config = new k8s.KubeConfig();
    config.loadFromString(manual.kubeconfig());
    const api = k8s.KubernetesObjectApi.makeApiClient(config);
    const manifest = deployment('default', 'steady', 'opsbook/serve:1');
    const ssa = (o: object) => api.patch(clone(o) as K8s.KubernetesObject, undefined, undefined, 'opsbook', undefined, k8s.PatchStrategy.ServerSideApply) as Promise<Obj>;
    await ssa(manifest);
    for (let i = 0; i < 5; i++) manual.tick();
    const live = manual.get('apps/v1', 'Deployment', 'default', 'steady') as Obj;
    expect(condition(live as never, 'Available')?.status).toBe('True');
    // The deployment controller owns the revision annotation it wrote, as kube-controller-manager does.
    const controller = live.metadata?.managedFields?.find((m) => m.manager === 'kube-controller-manager');
    expect(controller?.fieldsV1).toEqual({ 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } } });

    const again = await ssa(manifest);
    expect(again.metadata?.resourceVersion).toBe(live.metadata?.resourceVersion);
    expect(again.metadata?.generation).toBe(1);

    const patched = (await api.patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'steady', namespace: 'default' }, spec: { replicas: 4 } } as K8s.KubernetesObject, undefined, undefined, 'kubectl', undefined, k8s.PatchStrategy.MergePatch)) as Obj;
    expect(patched.spec?.replicas).toBe(4);
    expect(patched.metadata?.generation).toBe(2);
    expect(patched.metadata?.managedFields?.find((m) => m.manager === 'kubectl')).toMatchObject({ operation: 'Update', apiVersion: 'apps/v1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } });
    expect(JSON.stringify(patched.metadata?.managedFields?.find((m) => m.manager === 'opsbook')?.fieldsV1)).not.toContain('f:replicas');
  } finally {
    await manual.stop();
  }
});

test('fields the manager stops applying are removed, unless another manager owns them too (fake Kubernetes API)', async () => {
  const first = deployment('prune', 'model', 'opsbook/serve:1');
  const containers = (first.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }).template.spec.containers;
  containers[0].env.push({ name: 'B', value: '2' });
  first.metadata!.labels!.tier = 'gold';
  first.metadata!.annotations = { keep: 'yes', drop: 'yes' };
  await apply(first);
  // kubectl sets the same annotation value: it now shares that field.
  fake.seed({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'model', namespace: 'prune', annotations: { keep: 'yes', other: 'kubectl' } } }, 'kubectl');

  const second = deployment('prune', 'model', 'opsbook/serve:1');
  const result = await apply(second);
  expect(result.metadata?.labels?.tier).toBeUndefined();
  expect(result.metadata?.annotations).toMatchObject({ other: 'kubectl' });
  expect(result.metadata?.annotations?.drop).toBeUndefined();
  const env = (result.spec as { template: { spec: { containers: { env: { name: string }[] }[] } } }).template.spec.containers[0].env;
  expect(env.map((e) => e.name)).toEqual(['A']);
  // The defaults the server filled in stay: they were never the applier's.
  expect((result.spec as { strategy?: { type?: string } }).strategy?.type).toBe('RollingUpdate');
});

test('dryRun=All answers with the result and stores nothing (fake Kubernetes API)', async () => {
  const dry = await apply(deployment('dry', 'model', 'opsbook/serve:1'), { dryRun: 'All' });
  expect(dry.metadata?.name).toBe('model');
  expect(fake.get('apps/v1', 'Deployment', 'dry', 'model')).toBeUndefined();

  const real = await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'dry' }, data: { a: '1' } });
  const changed = await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'dry' }, data: { a: '2' } }, { dryRun: 'All' });
  expect(changed.data).toEqual({ a: '2' });
  const stored = fake.get('v1', 'ConfigMap', 'dry', 'c') as Obj;
  expect(stored.data).toEqual({ a: '1' });
  expect(stored.metadata?.resourceVersion).toBe(real.metadata?.resourceVersion);
});

test('a rollout reaches Available at revision 1; a new template makes revision 2 and a second ReplicaSet; the old template rolls back (fake Kubernetes API)', async () => {
  await apply(deployment('rollout', 'model', 'opsbook/serve:1'));
  const first = await rolledOut('rollout', 'model');
  expect(first.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
  expect(condition(first as never, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
  const rs1 = (await apps.listNamespacedReplicaSet({ namespace: 'rollout', labelSelector: 'app=model' })).items;
  expect(rs1).toHaveLength(1);
  const hash = rs1[0].metadata?.labels?.['pod-template-hash'];
  expect(rs1[0].metadata?.name).toBe(`model-${hash}`);
  expect(rs1[0].metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'model', uid: first.metadata?.uid, controller: true });
  const pods = (await core.listNamespacedPod({ namespace: 'rollout', labelSelector: `app=model,pod-template-hash=${hash}` })).items;
  expect(pods.map((p) => p.status?.phase)).toEqual(['Running', 'Running']);

  await apply(deployment('rollout', 'model', 'opsbook/serve:2'));
  const second = await rolledOut('rollout', 'model');
  expect(second.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
  const rs2 = (await apps.listNamespacedReplicaSet({ namespace: 'rollout', labelSelector: 'app=model' })).items;
  expect(rs2).toHaveLength(2);
  const byName = new Map(rs2.map((rs) => [rs.metadata?.name, rs]));
  expect(byName.get(`model-${hash}`)?.spec?.replicas).toBe(0);
  const newRs = rs2.find((rs) => rs.metadata?.name !== `model-${hash}`);
  expect(newRs?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
  const podsNow = (await core.listNamespacedPod({ namespace: 'rollout', labelSelector: 'app=model' })).items;
  expect(podsNow.map((p) => p.metadata?.labels?.['pod-template-hash'])).toEqual([newRs?.metadata?.labels?.['pod-template-hash'], newRs?.metadata?.labels?.['pod-template-hash']]);

  // Rollback as kubectl rollout undo does it: the old template again reuses its ReplicaSet as revision 3.
  await apply(deployment('rollout', 'model', 'opsbook/serve:1'));
  const third = await rolledOut('rollout', 'model');
  expect(third.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
  const rs3 = (await apps.listNamespacedReplicaSet({ namespace: 'rollout', labelSelector: 'app=model' })).items;
  expect(rs3).toHaveLength(2);
  expect(rs3.find((rs) => rs.metadata?.name === `model-${hash}`)?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
});

test('an image that cannot be pulled ends in ProgressDeadlineExceeded, with Warning events listed by the pod name (fake Kubernetes API)', async () => {
  await apply(deployment('broken', 'model', 'opsbook/serve:broken', 1));
  const stuck = await until('the progress deadline', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'model', namespace: 'broken' });
    return condition(d as never, 'Progressing')?.reason === 'ProgressDeadlineExceeded' ? d : undefined;
  });
  expect(condition(stuck as never, 'Progressing')).toMatchObject({ status: 'False' });
  expect(condition(stuck as never, 'Available')).toMatchObject({ status: 'False' });
  expect(stuck.status?.availableReplicas).toBeUndefined();
  expect(stuck.status?.unavailableReplicas).toBe(1);

  const [pod] = (await core.listNamespacedPod({ namespace: 'broken', labelSelector: 'app=model' })).items;
  expect(pod.status?.phase).toBe('Pending');
  expect(pod.status?.containerStatuses?.[0].state?.waiting).toEqual({ reason: 'ErrImagePull', message: 'Failed to pull image "opsbook/serve:broken": not found' });
  const events = (await core.listNamespacedEvent({ namespace: 'broken', fieldSelector: `involvedObject.name=${String(pod.metadata?.name)}` })).items;
  expect(events.every((e) => e.involvedObject.name === pod.metadata?.name && e.involvedObject.kind === 'Pod')).toBe(true);
  expect(events.map((e) => [e.type, e.reason])).toEqual(expect.arrayContaining([['Normal', 'Scheduled'], ['Warning', 'Failed']]));
  const failed = events.find((e) => e.reason === 'Failed');
  expect(failed?.message).toBe('Failed to pull image "opsbook/serve:broken": not found');
  expect(failed?.count).toBeGreaterThanOrEqual(1);
  const warnings = (await core.listNamespacedEvent({ namespace: 'broken', fieldSelector: 'type=Warning,involvedObject.kind=Pod' })).items;
  expect(warnings.length).toBeGreaterThanOrEqual(1);
});

test('delete by label selector removes what was listed, and a Deployment takes its ReplicaSets and pods with it (fake Kubernetes API)', async () => {
  const selector = 'app.kubernetes.io/managed-by=opsbook';
  await apply(deployment('cleanup', 'model', 'opsbook/serve:1'));
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ours', namespace: 'cleanup', labels: { 'app.kubernetes.io/managed-by': 'opsbook' } }, data: {} });
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'theirs', namespace: 'cleanup', labels: { 'app.kubernetes.io/managed-by': 'helm' } }, data: {} });
  await rolledOut('cleanup', 'model');

  const listed: K8s.KubernetesObject[] = [];
  for (const [apiVersion, kind] of [['apps/v1', 'Deployment'], ['v1', 'ConfigMap']]) {
    const list = await objects.list(apiVersion, kind, 'cleanup', undefined, undefined, undefined, undefined, selector);
    // Items of built-in lists carry no apiVersion/kind, as on a real server; the caller adds them back.
    for (const item of list.items) listed.push({ ...item, apiVersion, kind });
  }
  expect(listed.map((o) => `${o.kind}/${o.metadata?.name}`).sort()).toEqual(['ConfigMap/ours', 'Deployment/model']);
  for (const object of listed) {
    const status = await objects.delete(object, undefined, undefined, undefined, undefined, 'Background');
    expect(status).toMatchObject({ status: 'Success' });
  }
  expect(fake.list('apps/v1', 'ReplicaSet', 'cleanup')).toEqual([]);
  expect(fake.list('v1', 'Pod', 'cleanup')).toEqual([]);
  expect((fake.list('v1', 'ConfigMap', 'cleanup') as Obj[]).map((c) => c.metadata?.name)).toEqual(['theirs']);
  const gone = await failure(apps.readNamespacedDeployment({ name: 'model', namespace: 'cleanup' }));
  expect(gone).toMatchObject({ reason: 'NotFound', code: 404, message: 'deployments.apps "model" not found' });
});

test('errors are Status objects as the real API sends them (fake Kubernetes API)', async () => {
  const unauthorized = await rawGet('/api/v1/namespaces/default/pods', false);
  expect(unauthorized).toMatchObject({ code: 401, body: { kind: 'Status', reason: 'Unauthorized' } });
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'errors' }, data: {} };
  await objects.create(clone(cm));
  expect(await failure(objects.create(clone(cm)))).toMatchObject({ reason: 'AlreadyExists', code: 409, message: 'configmaps "x" already exists' });
  const noManager = await failure(objects.patch(clone(cm), undefined, undefined, undefined, undefined, k8s.PatchStrategy.ServerSideApply));
  expect(noManager).toMatchObject({ reason: 'BadRequest', code: 400 });
  const stale = await failure(apply({ ...cm, metadata: { ...cm.metadata, resourceVersion: '1' } }));
  expect(stale).toMatchObject({ reason: 'Conflict', code: 409, message: 'Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply your changes to the latest version and try again' });
  const badField = await rawGet('/api/v1/namespaces/errors/configmaps?fieldSelector=spec.nothing%3Dx');
  expect(badField).toMatchObject({ code: 400, body: { message: 'field label not supported: spec.nothing' } });
  const immutable = await failure(apply({ ...deployment('errors', 'model', 'opsbook/serve:1') }).then(() => {
    const changed = deployment('errors', 'model', 'opsbook/serve:1');
    (changed.spec as { selector: unknown }).selector = { matchLabels: { app: 'other' } };
    return apply(changed);
  }));
  expect(immutable).toMatchObject({ reason: 'Invalid', code: 422 });
});

test('a watch streams the current objects, then changes (fake Kubernetes API)', async () => {
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1', namespace: 'watch' }, data: {} });
  const seen: string[] = [];
  const watch = new k8s.Watch(kc);
  const request = await watch.watch('/api/v1/namespaces/watch/configmaps', {}, (type: string, object: K8s.KubernetesObject) => seen.push(`${type} ${String(object.metadata?.name)}`), () => undefined);
  await until('the initial ADDED', async () => (seen.length >= 1 ? true : undefined));
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w2', namespace: 'watch' }, data: {} });
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1', namespace: 'watch' }, data: { a: 'b' } });
  await until('the changes', async () => (seen.length >= 3 ? true : undefined));
  request.abort();
  expect(seen).toEqual(['ADDED w1', 'ADDED w2', 'MODIFIED w1']);
});

test('the runnable entry writes a kubeconfig, prints its ready line and stops on SIGTERM (fake Kubernetes API)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
  try {
    const kubeconfig = join(dir, 'config');
    const main = join(__dirname, '..', '..', 'dist', 'deploy', 'testing', 'fake-apiserver-main.js');
    const child = spawn(process.execPath, [main, '--kubeconfig', kubeconfig, '--context', 'ci', '--fail-image', ':broken$'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    const ready = JSON.parse(line) as { event: string; url: string };
    expect(ready.event).toBe('ready');
    const other = new k8s.KubeConfig();
    other.loadFromString(readFileSync(kubeconfig, 'utf8'));
    expect(other.getCurrentContext()).toBe('ci');
    expect(other.getCurrentCluster()?.server).toBe(ready.url);
    const namespaces = await other.makeApiClient(k8s.CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain('default');
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
