import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SchemaValidator, type DataFingerprint, type DeployRequest } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { runBuiltCli } from '../cli/testing';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { refusal } from '../daemon/testing';
import { linearModelBytes } from '../explain/testing';
import { FakeApiServer } from './testing/fake-apiserver';

// No real kube-apiserver can be installed on these machines (none on PyPI, npm or Debian): the cluster
// here is the fake of src/deploy/testing, and every test says so in its name.

const validator = new SchemaValidator();
const IMAGE = `registry.example/opsbook@sha256:${'b'.repeat(64)}`;
const FINGERPRINT: DataFingerprint = { rows: 6, columns: [{ name: 'x', dtype: 'float64' }], hash: `sha256:${'c'.repeat(64)}`, library: 'pandas' };

type Obj = { metadata: { name: string; annotations?: Record<string, string>; managedFields?: { manager: string }[] }; spec: { replicas?: number; template?: { spec: { containers: { image: string }[] } } } };

describe('opsbook deploy on a real daemon (fake Kubernetes API)', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;
  let fake: FakeApiServer;
  let kubeconfig: string;
  let runId: string;
  const savedKubeconfig = process.env.KUBECONFIG;

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_WORKSPACE: workspace, ...extra });
  const request = (extra: Partial<DeployRequest> = {}): DeployRequest => ({ model: 'linear:1', name: 'linear', image: IMAGE, replicas: 4, timeout_s: 30, ...extra });
  const live = (name: string, namespace = 'default') => fake.get('apps/v1', 'Deployment', namespace, name) as Obj | undefined;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-deploy-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-deploy-runtime-'));
    mkdirSync(join(workspace, 'models'));
    writeFileSync(join(workspace, 'models', 'linear.onnx'), linearModelBytes([1, 2], 0.5));
    writeFileSync(join(workspace, 'good.csv'), 'x\n1\n2\n3\n');
    writeFileSync(join(workspace, 'bad.csv'), 'x\n1\n\n3\n');
    writeFileSync(join(workspace, 'suite.yaml'), 'suite: inputs\nchecks:\n  - check: not_null\n    column: x\n');
    fake = await FakeApiServer.start({
      tickMs: 20,
      readyAfterTicks: 2,
      progressDeadlineTicks: 40,
      failingImages: [{ pattern: /:broken$/, reason: 'ErrImagePull', message: 'Failed to pull image "{image}": not found' }],
    });
    kubeconfig = join(workspace, 'kubeconfig');
    fake.writeKubeconfig(kubeconfig, 'fake');
    process.env.KUBECONFIG = kubeconfig;
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    runId = (await client.createRun({ experiment: 'deploy' })).id;
    await client.uploadArtifact(runId, 'model/linear.onnx', linearModelBytes([1, 2], 0.5), { kind: 'model' });
    await client.uploadArtifact(runId, 'model/linear2.onnx', linearModelBytes([3, 4], 0.5), { kind: 'model' });
    const signature = { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 2] }], outputs: [], feature_names: null };
    await client.registerModelVersion('linear', { run_id: runId, artifact: 'model/linear.onnx', flavor: 'onnx', signature, parity_max_abs_diff: 1e-7, data_fingerprint: FINGERPRINT });
    await client.registerModelVersion('linear', { run_id: runId, artifact: 'model/linear2.onnx', flavor: 'onnx', signature, parity_max_abs_diff: 1e-7, data_fingerprint: FINGERPRINT });
    await client.registerModelVersion('linear', { run_id: runId, artifact: 'model/linear2.onnx', flavor: 'onnx', signature, parity_max_abs_diff: 0.5 });
  });

  afterAll(async () => {
    await daemon?.close();
    await fake?.stop();
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  test('without a cluster: the plan still renders and says how to point at one; apply is 503 and the CLI exits 3 (fake Kubernetes API)', async () => {
    process.env.KUBECONFIG = join(workspace, 'no-such-kubeconfig');
    try {
      const plan = await client.planDeployment(request());
      expect(validator.check('deploy.schema.json#/$defs/DeployPlan', plan)).toBeNull();
      expect(plan.changes).toBeNull();
      expect(plan.cluster.reachable).toBe(false);
      expect(plan.cluster.message).toMatch(/KUBECONFIG/);
      expect(plan.manifests.map((m) => m.kind)).toEqual(['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);
      const refused = await refusal(client.applyDeployment(request()));
      expect(refused.status).toBe(503);
      const cli = await runBuiltCli(['deploy', 'linear:1', '--name', 'linear', '--image', IMAGE], env());
      expect(cli.code).toBe(3);
      expect(cli.stderr).toMatch(/no Kubernetes cluster configured.*KUBECONFIG/);
      const dry = await runBuiltCli(['deploy', 'linear:1', '--name', 'linear', '--image', IMAGE, '--gpu', '1', '--dry-run', '-o', 'yaml'], env());
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/nvidia\.com\/gpu: "1"/);
    } finally {
      process.env.KUBECONFIG = kubeconfig;
    }
  });

  test('plan diffs against the cluster, apply is server-side with field manager opsbook and never forced, the rollout is watched to available and recorded against the run (fake Kubernetes API)', async () => {
    const plan = await client.planDeployment(request());
    expect(plan.cluster.reachable).toBe(true);
    expect(plan.changes!.map((c) => c.action)).toEqual(['create', 'create', 'create', 'create']);
    expect(plan.changes![0].diff).toMatch(/\+\s+image: registry\.example\/opsbook@sha256:b+/);
    expect(fake.get('apps/v1', 'Deployment', 'default', 'linear')).toBeUndefined();

    const progress: string[] = [];
    const result = await client.applyDeployment(request({ job_id: 'first' }));
    expect(validator.check('deploy.schema.json#/$defs/DeployResult', result)).toBeNull();
    expect(result.status).toBe('applied');
    expect(result.rollout?.state).toBe('available');
    void progress;
    const applies = fake.requests.filter((r) => r.method === 'PATCH' && r.contentType === 'application/apply-patch+yaml' && !r.query.dryRun);
    expect(applies.length).toBe(4);
    expect(applies.every((r) => r.query.fieldManager === 'opsbook' && r.query.force === undefined)).toBe(true);
    expect(live('linear')!.metadata.managedFields!.map((f) => f.manager)).toContain('opsbook');

    const again = await client.planDeployment(request());
    expect(again.changes!.map((c) => c.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);

    // Recorded against the model's run: the deployment is one of the run's artifacts.
    expect((await client.listArtifacts(runId)).artifacts.map((a) => a.name)).toContain('deployments/default/linear.json');
    const listed = await client.listDeployments({ live: true, run_id: runId });
    expect(listed.deployments.map((d) => [d.name, d.model_ref, d.run_id, d.live?.state])).toEqual([['linear', 'linear:1', runId, 'available']]);
  });

  test('replicas belong to the autoscaler: a later deploy does not fight the HPA controller over them (fake Kubernetes API)', async () => {
    expect(live('linear')!.spec.replicas).toBe(4);
    expect(live('linear')!.metadata.managedFields!.find((f) => f.manager === 'kube-controller-manager')).toBeDefined();
    const again = await client.applyDeployment(request({ replicas: 5 }));
    expect(again.status).toBe('applied');
    expect(live('linear')!.spec.replicas).toBe(5);
    await client.applyDeployment(request());
  });

  test('a field another manager owns is a conflict that stops the apply, until force_conflicts takes it (fake Kubernetes API)', async () => {
    // kubectl annotate --overwrite: the annotation now belongs to kubectl as well, with another value.
    const token = (parse(fake.kubeconfig()) as { users: { user: { token: string } }[] }).users[0].user.token;
    const response = await fetch(`${fake.url}/apis/apps/v1/namespaces/default/deployments/linear?fieldManager=kubectl`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ metadata: { annotations: { 'opsbook.dev/model': 'edited by hand' } } }),
    });
    expect(response.status).toBe(200);
    const conflict = await client.applyDeployment(request());
    expect(conflict.status).toBe('conflict');
    const change = conflict.plan.changes!.find((c) => c.kind === 'Deployment')!;
    expect(change.action).toBe('conflict');
    expect(change.conflicts).toEqual([{ field: '.metadata.annotations.opsbook.dev/model', manager: 'kubectl' }]);
    expect(live('linear')!.metadata.annotations!['opsbook.dev/model']).toBe('edited by hand');
    const cli = await runBuiltCli(['deploy', 'linear:1', '--name', 'linear', '--image', IMAGE, '--replicas', '4'], env());
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/opsbook\.dev\/model is owned by kubectl/);

    const forced = await client.applyDeployment(request({ force_conflicts: true }));
    expect(forced.status).toBe('applied');
    expect(live('linear')!.metadata.annotations!['opsbook.dev/model']).toBe('linear:1');
  });

  test('canary: a second Deployment behind the same Service with the replicas split, promoted, then rolled back to the previous revision (fake Kubernetes API)', async () => {
    const canary = await client.applyDeployment(request({ model: 'linear:2', canary: 25 }));
    expect(canary.status).toBe('applied');
    expect(canary.rollout?.state).toBe('available');
    expect(live('linear')!.spec.replicas).toBe(3);
    expect(live('linear-canary')!.spec.replicas).toBe(1);
    expect(live('linear-canary')!.metadata.annotations!['opsbook.dev/model']).toBe('linear:2');
    expect(live('linear')!.metadata.annotations!['opsbook.dev/model']).toBe('linear:1');
    const status = await client.getDeployment('linear');
    expect(status.live?.canary).toMatchObject({ percent: 25, model_ref: 'linear:2' });

    const promoted = await client.promoteDeployment('linear', { timeout_s: 30 });
    expect(promoted.rollout?.state).toBe('available');
    expect(live('linear-canary')).toBeUndefined();
    expect(live('linear')!.spec.replicas).toBe(4);
    expect(live('linear')!.metadata.annotations!['opsbook.dev/model']).toBe('linear:2');
    expect((await client.getDeployment('linear')).model_ref).toBe('linear:2');

    const rolled = await client.rollbackDeployment('linear', { timeout_s: 30 });
    expect(rolled.rollout?.state).toBe('available');
    expect(rolled.message).toMatch(/linear:1/);
    const template = (live('linear') as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template;
    expect(template.metadata.annotations['opsbook.dev/model']).toBe('linear:1');
    expect((await client.getDeployment('linear')).model_ref).toBe('linear:1');
    const nothing = await refusal(client.promoteDeployment('linear', {}));
    expect(nothing.status).toBe(409);
  });

  test('a rollout whose pods cannot pull their image fails with the pod events that say why; the CLI exits 3 (fake Kubernetes API)', async () => {
    const cli = await runBuiltCli(['deploy', 'linear:1', '--name', 'broken', '--image', 'registry.example/opsbook:broken', '--replicas', '1', '--timeout', '30'], env());
    expect(cli.code).toBe(3);
    expect(cli.stderr).toMatch(/rollout failed/);
    expect(cli.stderr).toMatch(/ErrImagePull|Failed to pull image/);
    const status = await client.getDeployment('broken');
    expect(status.live?.state).not.toBe('available');
    expect(status.live?.events?.some((e) => e.type === 'Warning' && /Failed to pull image/.test(e.message))).toBe(true);
  });

  test('gates: a failed parity check or a failing data-quality suite refuses with the check named (exit 1); --force deploys and is recorded (fake Kubernetes API)', async () => {
    const parity = await client.applyDeployment(request({ model: 'linear:3', name: 'gated' }));
    expect(parity.status).toBe('refused');
    expect(parity.plan.gates[0]).toMatchObject({ gate: 'parity', status: 'fail', failing_checks: ['parity'] });
    expect(live('gated')).toBeUndefined();

    // The training data's recorded result (on data carrying the version's fingerprint) fails not_null(x).
    const suite = { suite: 'inputs', checks: [{ check: 'not_null' as const, column: 'x' }] };
    await client.runQualityCheck({ data: { path: 'bad.csv', fingerprint: FINGERPRINT }, suite, run_id: runId });
    const cli = await runBuiltCli(['deploy', 'linear:1', '--name', 'gated', '--image', IMAGE, '--gate', join(workspace, 'suite.yaml')], env());
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/refused.*quality \[not_null\(x\)\]/);
    const withData = await client.planDeployment(request({ name: 'gated', gate: { suite: 'suite.yaml', data: { path: 'good.csv' } } }));
    expect(withData.gates[1]).toMatchObject({ gate: 'quality', status: 'pass', suite: 'inputs' });

    const forced = await client.applyDeployment(request({ model: 'linear:3', name: 'gated', replicas: 1, force: true }));
    expect(forced.status).toBe('applied');
    expect(forced.deployment).toMatchObject({ forced: true });
    expect(forced.deployment!.failed_gates.map((g) => g.gate)).toEqual(['parity']);
  });

  test('delete removes only what Opsbook labelled for that deployment (fake Kubernetes API)', async () => {
    fake.seed({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'neighbour', namespace: 'default', labels: { 'app.kubernetes.io/instance': 'linear' } }, spec: { ports: [{ port: 80 }] } });
    const result = await client.deleteDeployment('linear');
    expect(result.deleted.sort()).toEqual(['Deployment/linear', 'HorizontalPodAutoscaler/linear', 'PodDisruptionBudget/linear', 'Service/linear']);
    expect(live('linear')).toBeUndefined();
    expect(fake.get('v1', 'Service', 'default', 'neighbour')).toBeDefined();
    expect(fake.get('apps/v1', 'Deployment', 'default', 'broken')).toBeDefined();
    expect((await client.listDeployments()).deployments.map((d) => d.name).sort()).toEqual(['broken', 'gated']);
  });
});
