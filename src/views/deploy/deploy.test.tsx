/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import { parseAllDocuments } from 'yaml';
import {
  SchemaValidator,
  type Deployment,
  type DeploymentActionResult,
  type DeployPlan,
  type DeployProgress,
  type DeployRequest,
  type DeployResult,
  type KubeContexts,
} from '@opsbook/schema';
import {
  DeployForm,
  DeployOutputView,
  DeployPlanView,
  DeployProgressView,
  DeployResultView,
  DeploymentsView,
  EMPTY_DEPLOY_FORM,
  canaryLine,
  NO_CLUSTER_HINT,
  classifyDeployOutput,
  deployRequest,
  diffLines,
  diffStat,
  manifestsYaml,
  progressText,
  suggestedName,
  toYaml,
} from '../index';
import { useTestRoot } from '../testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const validator = new SchemaValidator();
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
const dom = useTestRoot(async () => {
  for (let i = 0; i < 3; i++) await tick();
});
const SHA = 'a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778';
const labels = { 'app.kubernetes.io/name': 'opsbook-server', 'app.kubernetes.io/instance': 'churn', 'app.kubernetes.io/version': '3', 'opsbook.dev/model': 'churn:3' };

/** A plan as the daemon answers it: two manifests, a failing quality gate, one create and one update. */
function plan(patch: Partial<DeployPlan> = {}): DeployPlan {
  return validator.assert<DeployPlan>('deploy.schema.json#/$defs/DeployPlan', {
    name: 'churn',
    namespace: 'ml',
    target: 'deployment',
    model: { ref: 'churn@prod', name: 'churn', version: 3, run_id: '0b8f7a52-4d0e-4a53-9a57-0c1f2d3e4f50', sha256: SHA, bytes: 2048, path: '/w/.opsbook/artifacts/r/model.onnx' },
    manifests: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'churn', namespace: 'ml', labels },
        spec: {
          replicas: 2,
          template: {
            spec: {
              containers: [
                {
                  name: 'server',
                  image: 'ghcr.io/acme/opsbook-runtime:1.0',
                  args: ['serve', '/models/model.onnx', '--port', '8080', '--insecure'],
                  resources: { limits: { cpu: '1', memory: '1Gi' } },
                  securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
                },
              ],
            },
          },
        },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'churn', namespace: 'ml', labels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' } }, spec: { ports: [{ port: 80, targetPort: 8080 }] } },
    ],
    gates: [
      { gate: 'parity', status: 'pass', message: 'registry parity check passed (max abs diff 1e-7)' },
      { gate: 'quality', status: 'fail', message: 'suite churn.yaml failed on the training data', suite: 'suites/churn.yaml', failing_checks: ['not_null(age)', 'between(income, 0, 500)'] },
    ],
    refused: true,
    changes: [
      { kind: 'Deployment', name: 'churn', action: 'create', diff: '--- live\n+++ applied\n@@ -0,0 +1,3 @@\n+apiVersion: apps/v1\n+kind: Deployment\n+metadata:\n' },
      {
        kind: 'Service',
        name: 'churn',
        action: 'update',
        diff: '--- live\n+++ applied\n@@ -3,3 +3,3 @@\n metadata:\n-  name: old\n+  name: churn\n',
      },
    ],
    cluster: { reachable: true, context: 'kind-ml', server: 'https://127.0.0.1:6443', message: null },
    ...patch,
  });
}

function deployment(patch: Partial<Deployment> = {}): Deployment {
  return validator.assert<Deployment>('deploy.schema.json#/$defs/Deployment', {
    name: 'churn',
    namespace: 'ml',
    context: 'kind-ml',
    target: 'deployment',
    model_ref: 'churn:3',
    model_name: 'churn',
    model_version: 3,
    run_id: null,
    image: 'ghcr.io/acme/opsbook-runtime:1.0',
    replicas: 2,
    gpu: 0,
    canary: null,
    forced: false,
    failed_gates: [],
    created_at: '2026-11-23T10:00:00.000Z',
    updated_at: '2026-11-23T10:01:00.000Z',
    live: { state: 'available', ready: 2, desired: 2, revision: 1, canary: null, url: null, message: null, events: [] },
    ...patch,
  });
}

async function click(element: Element | null): Promise<void> {
  if (!element) throw new Error('nothing to click');
  await act(async () => {
    (element as HTMLElement).click();
    for (let i = 0; i < 3; i++) await tick();
  });
}

async function change(element: HTMLInputElement | HTMLSelectElement, value: string): Promise<void> {
  await act(async () => {
    const proto = element instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(element, value);
    element.dispatchEvent(new Event(element instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
    await tick();
  });
}

function button(name: string): HTMLButtonElement {
  const found = Array.from(dom.container.querySelectorAll('button')).find((b) => (b.getAttribute('aria-label') ?? b.textContent) === name);
  if (!found) throw new Error(`no button ${name}: ${Array.from(dom.container.querySelectorAll('button'), (b) => b.getAttribute('aria-label') ?? b.textContent).join(', ')}`);
  return found;
}

function field(label: string): HTMLInputElement & HTMLSelectElement {
  const node = Array.from(dom.container.querySelectorAll('label')).find((l) => l.textContent === label);
  const target = node && document.getElementById(node.htmlFor);
  if (!target) throw new Error(`no field ${label}`);
  return target as HTMLInputElement & HTMLSelectElement;
}

describe('deploy data', () => {
  it('makes a request the contract accepts from the form, refusing what the daemon would with the field named', () => {
    const values = { ...EMPTY_DEPLOY_FORM, model: 'churn@prod', name: 'churn', image: 'ghcr.io/acme/rt@sha256:abc', replicas: '3', gpu: '1', canary: '20', gate: ' suites/churn.yaml ', context: 'kind-ml' };
    const made = deployRequest(values);
    expect(made).toEqual({
      request: { model: 'churn@prod', name: 'churn', image: 'ghcr.io/acme/rt@sha256:abc', namespace: 'default', replicas: 3, gpu: 1, target: 'deployment', canary: 20, gate: { suite: 'suites/churn.yaml' }, context: 'kind-ml' },
    });
    validator.assert<DeployRequest>('deploy.schema.json#/$defs/DeployRequest', (made as { request: DeployRequest }).request);
    // No context: the kubeconfig's current one; no canary or gate: left out.
    expect(deployRequest({ ...values, context: '', canary: '', gate: '' })).toEqual({ request: expect.not.objectContaining({ context: expect.anything(), canary: expect.anything(), gate: expect.anything() }) });
    expect(deployRequest({ ...values, model: ' ' })).toEqual({ field: 'model', error: 'Pick a model to deploy.' });
    expect(deployRequest({ ...values, name: 'Churn_1' })).toEqual({ field: 'name', error: expect.stringContaining('"Churn_1"') });
    expect(deployRequest({ ...values, name: 'x'.repeat(41) })).toMatchObject({ field: 'name' });
    expect(deployRequest({ ...values, namespace: 'ML' })).toMatchObject({ field: 'namespace' });
    expect(deployRequest({ ...values, image: 'has space' })).toMatchObject({ field: 'image' });
    expect(deployRequest({ ...values, replicas: '0' })).toMatchObject({ field: 'replicas' });
    expect(deployRequest({ ...values, replicas: '1.5' })).toMatchObject({ field: 'replicas' });
    expect(deployRequest({ ...values, gpu: '17' })).toMatchObject({ field: 'gpu' });
    expect(deployRequest({ ...values, canary: '100' })).toMatchObject({ field: 'canary' });
  });

  it('suggests a deployment name from a model reference', () => {
    expect(suggestedName('churn@prod')).toBe('churn');
    expect(suggestedName('Churn_Model:3')).toBe('churn-model');
    expect(suggestedName('/w/models/2024 fraud.onnx')).toBe('fraud');
    expect(suggestedName('churn@prod')).toMatch(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/);
  });

  it('writes manifests as YAML that reads back to the same objects', () => {
    const manifests = [
      ...plan().manifests,
      // Strings YAML would read as other types, or that need quoting, and empty collections.
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'odd' }, data: { yes: 'yes', n: '8080', f: '.5', neg: '-1', colon: 'a: b', hash: '#x', empty: '', multi: 'a\nb', nested: [[1, 2], []], obj: {} } },
    ];
    const text = manifestsYaml(manifests);
    expect(text.split('\n---\n')).toHaveLength(3);
    expect(text).toContain('kind: Deployment\nmetadata:\n  name: churn');
    expect(text).toContain('        - name: server\n          image: "ghcr.io/acme/opsbook-runtime:1.0"');
    const back = parseAllDocuments(text).map((doc) => doc.toJS() as unknown);
    expect(back).toEqual(manifests);
    expect(toYaml(null)).toBe('null');
  });

  it('classifies the lines of a unified diff and counts them', () => {
    const { changes } = plan();
    expect(diffLines(changes![1].diff).map((l) => l.kind)).toEqual(['header', 'header', 'hunk', 'context', 'remove', 'add']);
    expect(diffStat(changes![0].diff)).toEqual({ added: 3, removed: 0 });
    expect(diffLines('')).toEqual([]);
    expect(diffLines(`${'='.repeat(67)}\n--- live/Service/churn\n+++ applied/Service/churn\n`).map((l) => l.text)).toEqual(['--- live/Service/churn', '+++ applied/Service/churn']);
  });

  it('tells the deploy documents apart and says a progress event in one line', () => {
    const result: DeployResult = { status: 'refused', plan: plan(), deployment: null, rollout: null };
    validator.assert('deploy.schema.json#/$defs/DeployResult', result);
    expect(classifyDeployOutput(plan()).kind).toBe('plan');
    expect(classifyDeployOutput(result).kind).toBe('result');
    expect(classifyDeployOutput({ deployments: [] }).kind).toBe('list');
    expect(classifyDeployOutput({ action: 'delete', deployment: deployment(), rollout: null, deleted: [] }).kind).toBe('action');
    expect(classifyDeployOutput(deployment()).kind).toBe('deployment');
    expect(classifyDeployOutput({ hello: 1 }).kind).toBe('unknown');
    const progress = validator.assert<DeployProgress>('deploy.schema.json#/$defs/DeployProgress', { job_id: 'j1', name: 'churn', phase: 'rollout', done: 1, total: 2, message: 'churn: 1 of 2 pods ready' });
    expect(progressText(progress)).toBe('Rolling out 1/2: churn: 1 of 2 pods ready');
    expect(progressText({ ...progress, phase: 'apply', total: 0, message: undefined })).toBe('Applying');
  });
});

describe('DeployPlanView', () => {
  it('shows the gates with pass/fail and reason, each manifest change with its badge and diff, and the YAML', async () => {
    await dom.render(<DeployPlanView plan={plan()} />);
    const gates = Array.from(dom.container.querySelectorAll('.opsbook-Gate'));
    expect(gates.map((g) => g.getAttribute('aria-label'))).toEqual(['Parity gate: Pass', 'Data quality gate: Fail']);
    expect(gates[1].textContent).toContain('suite churn.yaml failed on the training data');
    expect(Array.from(gates[1].querySelectorAll('.opsbook-Gate-checks li'), (li) => li.textContent)).toEqual(['not_null(age)', 'between(income, 0, 500)']);
    expect(dom.container.querySelector('[role="alert"]')?.textContent).toMatch(/^Refused: a gate failed/);
    expect(dom.container.textContent).toContain('Compared with the cluster of kind-ml (https://127.0.0.1:6443).');

    const changes = Array.from(dom.container.querySelectorAll('details.opsbook-Change'));
    expect(changes.map((c) => [c.querySelector('.opsbook-badge')?.textContent, c.querySelector('.opsbook-Change-name')?.textContent])).toEqual([
      ['create', 'Deployment/churn'],
      ['update', 'Service/churn'],
    ]);
    expect(changes[0].querySelector('.opsbook-Change-stat')?.textContent).toBe('+3 −0');
    const diff = dom.container.querySelector('pre[aria-label="Diff of Service/churn"]')!;
    expect(Array.from(diff.querySelectorAll('.opsbook-Diff-add'), (l) => l.textContent)).toEqual(['+  name: churn']);
    expect(Array.from(diff.querySelectorAll('.opsbook-Diff-remove'), (l) => l.textContent)).toEqual(['-  name: old']);
    const yaml = dom.container.querySelector('details.opsbook-Yaml')!;
    expect(yaml.querySelector('summary')?.textContent).toBe('YAML of the 2 manifests');
    expect(yaml.querySelector('pre')?.textContent).toBe(manifestsYaml(plan().manifests));
  });

  it('says why it was not compared with a cluster, and lists the manifests without an action', async () => {
    await dom.render(<DeployPlanView plan={plan({ changes: null, refused: false, gates: [], cluster: { reachable: false, context: null, server: null, message: 'no kubeconfig (set KUBECONFIG)' } })} />);
    expect(dom.container.textContent).toContain('Not compared with a cluster: no kubeconfig (set KUBECONFIG)');
    expect(dom.container.textContent).toContain('No gates.');
    expect(Array.from(dom.container.querySelectorAll('.opsbook-Change'), (c) => c.textContent)).toEqual(['not compared Deployment/churn', 'not compared Service/churn']);
    expect(dom.container.querySelector('[role="alert"]')).toBeNull();
  });
});

describe('DeployResultView', () => {
  it('shows a refused deploy with its failing checks, and sends force only after the confirm', async () => {
    let forced = 0;
    await dom.render(<DeployResultView result={{ status: 'refused', plan: plan(), deployment: null, rollout: null }} onForce={() => forced++} />);
    const refused = dom.container.querySelector('.opsbook-Refused')!;
    expect(refused.querySelector('[role="alert"]')?.textContent).toBe('Refused: suite churn.yaml failed on the training data. Nothing was applied.');
    expect(refused.textContent).toContain('not_null(age)');
    await click(button('Deploy anyway'));
    expect(forced).toBe(0);
    const question = dom.container.querySelector('[role="group"]')!;
    expect(question.getAttribute('aria-label')).toBe('Deploy churn although its gates failed? This is recorded.');
    // The cancel button takes focus, so Enter does not force by accident.
    expect(document.activeElement?.textContent).toBe('Cancel');
    await click(button('Cancel'));
    expect(forced).toBe(0);
    await click(button('Deploy anyway'));
    await click(button('Deploy with force'));
    expect(forced).toBe(1);
  });

  it('shows a failed rollout with the pods’ warning events, and a conflict with its fields and managers', async () => {
    const failed = validator.assert<DeployResult>('deploy.schema.json#/$defs/DeployResult', {
      status: 'applied',
      plan: plan({ refused: false }),
      deployment: deployment({ live: null }),
      rollout: {
        state: 'failed',
        seconds: 12.4,
        message: 'Deployment churn: ProgressDeadlineExceeded',
        events: [{ object: 'Pod/churn-7d9f-abcde', type: 'Warning', reason: 'Failed', message: 'Failed to pull image "ghcr.io/acme/rt:broken"', count: 3, last_seen: null }],
      },
    });
    await dom.render(<DeployResultView result={failed} />);
    expect(dom.container.querySelector('.opsbook-Rollout-failed')?.textContent).toBe('Failed');
    expect(dom.container.querySelector('.opsbook-Rollout')?.textContent).toContain('in 12 s');
    expect(dom.container.querySelector('.opsbook-PodEvent')?.textContent).toBe('Failed Pod/churn-7d9f-abcde (×3): Failed to pull image "ghcr.io/acme/rt:broken"');

    const conflicted = plan({ refused: false });
    conflicted.changes![1] = { ...conflicted.changes![1], action: 'conflict', conflicts: [{ field: '.spec.replicas', manager: 'kubectl' }] };
    await dom.render(<DeployResultView result={{ status: 'conflict', plan: conflicted, deployment: null, rollout: null }} />);
    expect(dom.container.querySelector('[role="alert"]')?.textContent).toMatch(/^Conflict: /);
    expect(dom.container.querySelector('.opsbook-Refused .opsbook-Change-conflicts li')?.textContent).toBe('Service/churn: .spec.replicas is owned by kubectl');
    expect(dom.container.textContent).not.toContain('Deploy anyway');
  });

  it('shows progress with a bar while it counts', async () => {
    await dom.render(<DeployProgressView progress={{ job_id: 'j', name: 'churn', phase: 'rollout', done: 1, total: 2, message: '1 of 2 pods ready' }} />);
    const status = dom.container.querySelector('[role="status"]')!;
    expect(status.textContent).toBe('Rolling out 1/2: 1 of 2 pods ready');
    expect(status.querySelector('progress')?.getAttribute('value')).toBe('1');
    await dom.render(<DeployProgressView progress={{ job_id: 'j', name: 'churn', phase: 'done', done: 2, total: 2 }} />);
    expect(dom.container.querySelector('progress')).toBeNull();
  });
});

describe('DeploymentsView', () => {
  it('lists deployments with state, ready/desired, canary and the events of a failing one', async () => {
    const canary = deployment({
      name: 'fraud',
      canary: { percent: 20, model_ref: 'fraud:2' },
      live: { state: 'progressing', ready: 2, desired: 3, revision: 2, canary: { ready: 0, desired: 1, percent: 25, model_ref: 'fraud:2' }, url: null, message: 'waiting for the canary', events: [] },
    });
    const failing = deployment({
      name: 'broken',
      gpu: 1,
      forced: true,
      failed_gates: [plan().gates[1]],
      live: {
        state: 'failed',
        ready: 0,
        desired: 2,
        revision: 1,
        canary: null,
        url: null,
        message: 'ProgressDeadlineExceeded',
        events: [{ object: 'Pod/broken-1', type: 'Warning', reason: 'ErrImagePull', message: 'pull access denied' }],
      },
    });
    const unreachable = deployment({ name: 'away', live: null, live_error: 'cluster kind-ml unreachable: ECONNREFUSED' });
    // KServe splits traffic itself: the percent is what it was asked for; a canary not read live has no pod counts.
    expect(canaryLine({ canary: { percent: 10, model_ref: 'm:2' }, live: { state: 'available', ready: 1, desired: 1, canary: { ready: 0, desired: 0, percent: 10, model_ref: 'm:2' }, message: null } })).toBe('Canary 10% → m:2');
    expect(canaryLine({ canary: { percent: 10, model_ref: 'm:2' }, live: null })).toBe('Canary 10% → m:2');
    expect(canaryLine({ canary: null, live: null })).toBeNull();
    await dom.render(<DeploymentsView deployments={[deployment(), canary, failing, unreachable]} />);
    const cards = Array.from(dom.container.querySelectorAll('article.opsbook-Deployment'));
    expect(cards.map((c) => [c.getAttribute('aria-label'), c.querySelector('.opsbook-DeployState')?.textContent, c.querySelector('.opsbook-Deployment-ready')?.textContent ?? null])).toEqual([
      ['Deployment churn', 'Available', '2/2'],
      ['Deployment fraud', 'Progressing', '2/3'],
      ['Deployment broken', 'Failed', '0/2'],
      ['Deployment away', 'Unknown', null],
    ]);
    expect(cards[0].querySelector('.opsbook-Deployment-facts')?.textContent).toBe('churn:3 · ml @ kind-ml · Deployment · revision 1');
    // 20% of 4 replicas rounds to 1 canary pod: a quarter of the pods get the requests.
    expect(cards[1].querySelector('.opsbook-Deployment-canary')?.textContent).toBe('Canary 20% → fraud:2 (0/1 ready, 25% of the pods)');
    expect(cards[2].querySelector('.opsbook-PodEvent')?.textContent).toBe('ErrImagePull Pod/broken-1: pull access denied');
    expect(cards[2].textContent).toContain('Deployed with force over 1 failed gate.');
    expect(cards[2].textContent).toContain('1 GPU');
    expect(cards[3].querySelector('.opsbook-Deploy-error')?.textContent).toBe('cluster kind-ml unreachable: ECONNREFUSED');
    // No actions given: no buttons.
    expect(dom.container.querySelector('button')).toBeNull();
  });

  it('promotes only a canary, rolls back, asks before deleting, and shows why an action was refused', async () => {
    const calls: string[] = [];
    const act = (what: string, fail = false) => (d: Deployment): Promise<void> => {
      calls.push(`${what} ${d.name}`);
      return fail ? Promise.reject(new Error('nothing to roll back to (HTTP 409)')) : Promise.resolve();
    };
    const canary = deployment({ name: 'fraud', canary: { percent: 20, model_ref: 'fraud:2' } });
    await dom.render(<DeploymentsView deployments={[deployment(), canary]} onPromote={act('promote')} onRollback={act('rollback', true)} onDelete={act('delete')} />);
    expect(dom.container.querySelectorAll('button[aria-label^="Promote"]')).toHaveLength(1);
    await click(button('Promote fraud'));
    await click(button('Roll back churn'));
    expect(dom.container.querySelector('article[aria-label="Deployment churn"] [role="alert"]')?.textContent).toBe('nothing to roll back to (HTTP 409)');
    await click(button('Delete churn'));
    expect(calls).toEqual(['promote fraud', 'rollback churn']);
    expect(dom.container.querySelector('[role="group"]')?.getAttribute('aria-label')).toBe('Delete churn and everything Opsbook created for it in ml?');
    await click(dom.container.querySelector('[role="group"] button.opsbook-Deploy-danger'));
    expect(calls).toEqual(['promote fraud', 'rollback churn', 'delete churn']);
  });

  it('says while loading, when there are none, and why the list failed', async () => {
    await dom.render(<DeploymentsView />);
    expect(dom.container.textContent).toBe('Loading deployments…');
    await dom.render(<DeploymentsView deployments={[]} empty="Deploy a model to see it here." />);
    expect(dom.container.textContent).toBe('Deploy a model to see it here.');
    await dom.render(<DeploymentsView error="Cannot reach the Jupyter server" />);
    expect(dom.container.querySelector('[role="alert"]')?.textContent).toBe('Cannot reach the Jupyter server');
  });
});

describe('DeployForm', () => {
  const contexts: KubeContexts = { contexts: [{ name: 'kind-ml', cluster: 'kind', namespace: 'ml' }, { name: 'prod', cluster: 'gke', namespace: null }], current: 'kind-ml', kubeconfig: '/home/u/.kube/config' };
  const models = [
    { ref: 'churn', label: 'churn (latest)', group: 'Registered' },
    { ref: 'churn@prod', label: 'churn@prod', group: 'Registered' },
    { ref: 'fraud:2', label: 'fraud:2 (served by fraud-ep)', group: 'Served' },
  ];

  it('starts from the first model, the name it suggests and the context’s namespace, and previews with Enter', async () => {
    validator.assert('deploy.schema.json#/$defs/KubeContexts', contexts);
    const previews: DeployRequest[] = [];
    await dom.render(<DeployForm models={models} contexts={contexts} onPreview={(r) => previews.push(r)} onDeploy={() => undefined} />);
    expect(Array.from(dom.container.querySelectorAll('optgroup'), (g) => g.getAttribute('label'))).toEqual(['Registered', 'Served']);
    expect(field('Model').value).toBe('churn');
    expect(field('Name').value).toBe('churn');
    expect(field('Namespace').value).toBe('ml');
    expect(field('Context').value).toBe('');
    expect(Array.from(field('Context').options, (o) => o.textContent)).toEqual(['kind-ml (current)', 'prod']);
    await change(field('Model'), 'fraud:2');
    expect(field('Name').value).toBe('fraud');
    await change(field('Image'), 'ghcr.io/acme/rt:1.0');
    await act(async () => {
      field('Image').form!.requestSubmit();
      await tick();
    });
    expect(previews).toEqual([{ model: 'fraud:2', name: 'fraud', image: 'ghcr.io/acme/rt:1.0', namespace: 'ml', replicas: 2, gpu: 0, target: 'deployment' }]);
  });

  it('marks a wrong field and sends nothing; deploys to the chosen context with GPUs, canary and a gate', async () => {
    const deploys: DeployRequest[] = [];
    await dom.render(<DeployForm models={models} contexts={contexts} onPreview={() => undefined} onDeploy={(r) => deploys.push(r)} />);
    await change(field('Name'), 'Bad_Name');
    await click(button('Deploy'));
    expect(deploys).toEqual([]);
    expect(field('Name').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(field('Name'));
    expect(dom.container.querySelector('[role="alert"]')?.textContent).toMatch(/^Name "Bad_Name"/);
    await change(field('Name'), 'churn-gpu');
    expect(dom.container.querySelector('[role="alert"]')).toBeNull();
    await change(field('Image'), 'ghcr.io/acme/rt:1.0');
    await change(field('Context'), 'prod');
    await change(field('GPUs'), '1');
    await change(field('Canary %'), '10');
    await change(field('Target'), 'kserve');
    await change(field('Gate suite'), 'suites/churn.yaml');
    // The user named the deployment: a model change keeps the name.
    await change(field('Model'), 'churn@prod');
    expect(field('Name').value).toBe('churn-gpu');
    await click(button('Deploy'));
    expect(deploys).toEqual([
      { model: 'churn@prod', name: 'churn-gpu', image: 'ghcr.io/acme/rt:1.0', namespace: 'ml', replicas: 2, gpu: 1, target: 'kserve', canary: 10, gate: { suite: 'suites/churn.yaml' }, context: 'prod' },
    ]);
    validator.assert('deploy.schema.json#/$defs/DeployRequest', deploys[0]);
  });

  it('says how to point at a cluster when there is no kubeconfig, takes a typed model with none listed, and waits while busy', async () => {
    await dom.render(<DeployForm models={[]} contexts={{ contexts: [], current: null, kubeconfig: null }} busy="preview" onPreview={() => undefined} onDeploy={() => undefined} />);
    expect(dom.container.querySelector('.opsbook-DeployForm-noCluster')?.textContent).toBe(NO_CLUSTER_HINT);
    expect(field('Context').disabled).toBe(true);
    expect(field('Model').tagName).toBe('INPUT');
    expect(button('Previewing…').disabled).toBe(true);
    expect(button('Deploy').disabled).toBe(true);
  });
});

describe('DeployOutputView', () => {
  it('renders each %deploy document with its view', async () => {
    await dom.render(<DeployOutputView value={plan()} />);
    expect(dom.container.querySelector('section[aria-label="Plan of churn"]')).not.toBeNull();
    await dom.render(<DeployOutputView value={{ deployments: [deployment()] }} />);
    expect(dom.container.querySelector('article[aria-label="Deployment churn"]')).not.toBeNull();
    const deleted = validator.assert<DeploymentActionResult>('deploy.schema.json#/$defs/DeploymentActionResult', {
      action: 'delete',
      deployment: deployment({ live: null }),
      rollout: null,
      deleted: ['Deployment/churn', 'Service/churn'],
    });
    await dom.render(<DeployOutputView value={deleted} />);
    expect(dom.container.querySelector('section')?.getAttribute('aria-label')).toBe('Deleted churn');
    expect(Array.from(dom.container.querySelectorAll('ul[aria-label="Deleted"] li'), (li) => li.textContent)).toEqual(['Deployment/churn', 'Service/churn']);
    // `deploy status NAME`: one deployment; after it is deleted, the re-read list is empty.
    await dom.render(<DeployOutputView value={deployment()} />);
    expect(dom.container.querySelector('article[aria-label="Deployment churn"] .opsbook-DeployState')?.textContent).toBe('Available');
    await dom.render(<DeployOutputView value={deployment()} deployments={[]} />);
    expect(dom.container.textContent).toBe('churn is deleted.');
    await dom.render(<DeployOutputView value={{ what: 1 }} />);
    expect(dom.container.textContent).toBe('This output holds no deploy document Opsbook knows.');
  });
});
