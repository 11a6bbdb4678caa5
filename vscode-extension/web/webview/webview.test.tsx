/**
 * @jest-environment ./vscode-extension/web/shared/testing/jsdomEnvironment.cjs
 */
import { OpsbookClient } from '@opsbook/core/client';
import type { PlotlyApi } from '@opsbook/core/views';
import { SchemaValidator, type DriftReport, type Explanation, type HostToWebview, type WebviewToHost, type WebviewView } from '@opsbook/schema';
import { act } from 'react';
import { refuseApiCall } from '../../src/webviews/apiRoutes';
import type { WebviewMessenger } from '../shared';
import { startWebview } from './start';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

declare const OPSBOOK_TEST_DAEMON: { url: string; token: string };

const validator = SchemaValidator.shared();

/** Records what the charts asked plotly to draw: jsdom has no SVG layout nor WebGL for real plotly. */
class RecordingPlotly implements PlotlyApi {
  readonly drawn: { element: HTMLElement; data: object[] }[] = [];
  react(element: HTMLElement, data: object[]): Promise<unknown> {
    this.drawn.push({ element, data });
    return Promise.resolve(element);
  }
  purge(): void {}
  Plots = { resize: (): void => undefined };
}

/**
 * The extension host as the test plays it: it checks each message of the webview against the
 * schema, forwards API calls that are operations of the API to the real daemon with the token (the
 * same matcher as OpsbookPanels), and answers the others 400.
 */
class Host {
  readonly received: WebviewToHost[] = [];
  readonly requests: string[] = [];
  /** Answers the next calls as if the daemon could not be reached (status 0). */
  unreachable = false;
  /** Calls forwarded and not yet answered. */
  readonly inFlight = new Set<Promise<void>>();
  /** When set, calls wait for it before reaching the daemon (a long call still under way). */
  hold: Promise<void> | null = null;

  readonly api = {
    postMessage: (message: unknown): void => {
      const issue = validator.check('webview.schema.json#/$defs/WebviewToHost', message);
      if (issue) throw new Error(`the webview sent an invalid message: ${issue.message}`);
      const valid = message as WebviewToHost;
      this.received.push(valid);
      if (valid.type === 'request') {
        const forwarding = this.forward(valid);
        this.inFlight.add(forwarding);
        void forwarding.finally(() => this.inFlight.delete(forwarding));
      }
    },
  };

  send(message: HostToWebview): void {
    expect(validator.check('webview.schema.json#/$defs/HostToWebview', message)).toBeNull();
    window.dispatchEvent(new MessageEvent('message', { data: message }));
  }

  sent(type: WebviewToHost['type']): WebviewToHost[] {
    return this.received.filter((message) => message.type === type);
  }

  private async forward(request: Extract<WebviewToHost, { type: 'request' }>): Promise<void> {
    this.requests.push(`${request.method} ${request.path}`);
    if (this.hold) await this.hold;
    const refused = refuseApiCall(request.method, request.path);
    let answer: { status: number; body: unknown; content?: { media_type: string; base64: string } };
    if (refused) answer = { status: 400, body: { error: { code: 'bad_request', message: refused } } };
    else if (this.unreachable) answer = { status: 0, body: { error: { code: 'unavailable', message: 'connect ECONNREFUSED 127.0.0.1:1' } } };
    else {
      const response = await fetch(OPSBOOK_TEST_DAEMON.url + request.path, {
        method: request.method,
        headers: { Authorization: `Bearer ${OPSBOOK_TEST_DAEMON.token}`, 'Content-Type': 'application/json' },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
      });
      const mediaType = response.headers.get('content-type') ?? '';
      if (response.ok && !mediaType.startsWith('application/json')) {
        const bytes = new Uint8Array(await response.arrayBuffer());
        answer = { status: response.status, body: null, content: { media_type: mediaType, base64: btoa(String.fromCharCode(...bytes)) } };
      } else {
        const text = await response.text();
        answer = { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
      }
    }
    this.send({ type: 'response', id: request.id, status: answer.status, body: answer.body, ...(answer.content ? { content: answer.content } : {}) });
  }
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets requests round-trip through the host and the daemon, and React render, until `done` holds. */
async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; page: ${document.body.textContent?.slice(0, 500)}`);
    await act(async () => tick(20));
  }
}

const root = (): HTMLElement => document.getElementById('root')!;

let host: Host;
let messenger: WebviewMessenger;
let plotly: RecordingPlotly;
/** The test's own client of the daemon, to make what the views show. */
let direct: OpsbookClient;
const runIds: string[] = [];

/** jsdom lays nothing out; the runs table's scroll area gets the height a browser would give it. */
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return this.classList.contains('opsbook-RunsTable-scroll') ? 600 : 0;
    },
  });
});

beforeAll(async () => {
  direct = new OpsbookClient({ baseUrl: OPSBOOK_TEST_DAEMON.url, token: OPSBOOK_TEST_DAEMON.token });
  for (const [name, losses] of [
    ['baseline', [0.9, 0.6, 0.4]],
    ['wider', [0.8, 0.5, 0.3]],
  ] as const) {
    const run = await direct.createRun({ experiment: 'iris', name, params: { width: name === 'wider' ? '64' : '32' } });
    await direct.logMetrics(run.id, losses.map((value, step) => ({ key: 'loss', value, step, timestamp: 1_700_000_000_000 + step })));
    await direct.updateRun(run.id, { status: 'finished' });
    runIds.push(run.id);
  }
});

beforeEach(() => {
  document.body.innerHTML = '<div id="root"></div>';
  host = new Host();
  plotly = new RecordingPlotly();
  messenger = startWebview(host.api, { plotly: () => Promise.resolve(plotly) });
});

afterEach(async () => {
  messenger.dispose();
  // Answers still on their way belong to this test: the next test's messenger numbers its requests from 1 again.
  await Promise.all([...host.inFlight]);
});

async function init(view: WebviewView, theme: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light' = 'dark'): Promise<void> {
  await act(async () => {
    host.send({ type: 'init', view, theme });
    await tick();
  });
}

describe('the webview app', () => {
  it('says ready before anything else, and takes the theme of init', async () => {
    expect(host.received).toEqual([{ type: 'ready' }]);
    await init({ kind: 'endpoints' }, 'high-contrast-light');
    expect(document.body.dataset.opsbookTheme).toBe('high-contrast-light');
    await act(async () => host.send({ type: 'theme', theme: 'dark' }));
    expect(document.body.dataset.opsbookTheme).toBe('dark');
  });

  it('runs: lists the runs of the daemon in the shared table, charts them, and opens a run on Enter', async () => {
    await init({ kind: 'runs' });
    await until(() => root().textContent!.includes('baseline') && root().textContent!.includes('wider'), 'the runs table');
    expect(host.requests[0]).toMatch(/^GET \/runs\?/);
    await until(() => plotly.drawn.length > 0, 'the metric chart');
    expect(host.requests.some((request) => request.startsWith('GET /metrics/series?'))).toBe(true);
    const traces = plotly.drawn.at(-1)!.data as { name: string; y: number[] }[];
    expect(traces.map((trace) => trace.name).sort()).toEqual(['baseline', 'wider']);
    expect(traces.find((trace) => trace.name === 'wider')!.y).toEqual([0.8, 0.5, 0.3]);
    const row = [...root().querySelectorAll<HTMLElement>('[data-run-id], tr')].find((element) => element.textContent?.includes('wider'))!;
    await act(async () => {
      row.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
      await tick();
    });
    expect(host.sent('open')).toEqual([{ type: 'open', view: { kind: 'run', run_id: runIds[1] } }]);
    expect(host.requests.every((request) => refuseApiCall(request.split(' ')[0], request.slice(request.indexOf(' ') + 1)) === null)).toBe(true);
  });

  it('runs: reads the list again when the host forwards a run event', async () => {
    await init({ kind: 'runs', experiment: 'iris' });
    await until(() => root().textContent!.includes('baseline'), 'the runs table');
    const extra = await direct.createRun({ experiment: 'iris', name: 'live-one' });
    await act(async () => host.send({ type: 'event', name: 'run', data: (await direct.getRun(extra.id)).run as never }));
    await until(() => root().textContent!.includes('live-one'), 'the new run after the event', 5_000);
    await direct.updateRun(extra.id, { status: 'finished' });
  });

  it('run: shows one run with its metrics', async () => {
    await init({ kind: 'run', run_id: runIds[0] });
    await until(() => root().querySelector('.opsbook-RunDetail-name')?.textContent === 'baseline', 'the run');
    expect(host.requests).toEqual([`GET /runs/${runIds[0]}`, `GET /runs/${runIds[0]}/metrics`, `GET /runs/${runIds[0]}/artifacts`]);
    expect(root().textContent).toContain("Artifacts");
  });

  it('compare: shows the runs side by side, and show retargets the same webview', async () => {
    await init({ kind: 'run', run_id: runIds[0] });
    await until(() => root().querySelector('.opsbook-RunDetail-name') !== null, 'the run');
    await act(async () => host.send({ type: 'show', view: { kind: 'compare', run_ids: runIds as [string, string] } }));
    await until(() => root().querySelector('.opsbook-CompareView')?.getAttribute('data-runs') === '2', 'the comparison');
    expect(host.requests).toContain('POST /runs/compare');
    expect(root().textContent).toContain('width');
  });

  it('model: says which model is missing, and Retry reads it again', async () => {
    await init({ kind: 'model', name: 'no-such-model' });
    await until(() => root().querySelector('[role="alert"]') !== null, 'the failure');
    expect(root().querySelector('[role="alert"]')!.textContent).toMatch(/Could not read model no-such-model/);
    const before = host.requests.length;
    await act(async () => root().querySelector<HTMLButtonElement>('[role="alert"] button')!.click());
    await until(() => host.requests.length > before, 'the retry');
    expect(host.requests.at(-1)).toBe('GET /models/no-such-model');
  });

  it('endpoints: shows the daemon unreachable with Retry, then the (empty) list once it answers', async () => {
    host.unreachable = true;
    await init({ kind: 'endpoints' });
    await until(() => root().querySelector('[role="alert"]') !== null, 'the failure');
    expect(root().querySelector('[role="alert"]')!.textContent).toMatch(/Could not list the endpoints: .*ECONNREFUSED/);
    host.unreachable = false;
    await act(async () => root().querySelector<HTMLButtonElement>('[role="alert"] button')!.click());
    await until(() => root().textContent!.includes('No endpoint yet'), 'the empty list');
    expect(root().querySelector('[role="alert"]')).toBeNull();
  });

  it('quality: draws a drift report given inline, with no API call', async () => {
    const drift = validator.assert<DriftReport>('drift-report.schema.json', {
      data: { label: 'today', rows: 40 },
      reference: { label: 'last_week', rows: 40 },
      seconds: 0.2,
      drifted: 0,
      only_in_data: [],
      only_in_reference: [],
      columns: [],
    });
    await init({ kind: 'quality', title: 'Drift of today', output: { kind: 'drift', drift } });
    await until(() => root().querySelector('.opsbook-DriftView') !== null, 'the drift view');
    expect(root().querySelector('.opsbook-DriftView-summary')?.textContent).toBe('0 of 0 shared columns drifted');
    expect(host.requests).toEqual([]);
  });

  it('explanation: draws an explanation given inline', async () => {
    const explanation = validator.assert<Explanation>('explanation.schema.json', {
      method: 'tree',
      tree_mode: 'interventional',
      model: { ref: 'churn@prod', path: '/w/model.onnx', name: 'churn', version: 3, kind: 'tree_regressor' },
      output: { name: 'variable', index: 0, transform: 'NONE' },
      feature_names: ['age', 'plan'],
      rows: [0, 1],
      features: [
        [30, 1],
        [40, 2],
      ],
      values: [
        [0.5, -0.2],
        [-0.5, 0.2],
      ],
      base_values: [1, 1],
      predictions: [1.3, 0.7],
      background_rows: 2,
      seconds: 0.01,
      data: { label: 'customers', format: 'parquet', rows: 2 },
    });
    await init({ kind: 'explanation', title: 'Explanation of churn', explanation });
    await until(() => root().querySelector('.opsbook-ExplanationView-title') !== null, 'the explanation');
    await until(() => plotly.drawn.length > 0, 'its chart');
    expect(host.requests).toEqual([]);
  });

  it("brings an artifact's bytes through the host as base64 content", async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 255, 128]);
    await direct.uploadArtifact(runIds[0], 'figures/parity.png', bytes, { kind: 'figure' });
    const blob = await messenger.client().artifactContent(runIds[0], 'figures/parity.png');
    expect(blob.type).toMatch(/^image\/png/);
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([...bytes]);
    expect(host.sent('request').at(-1)).toMatchObject({ method: 'GET', path: `/runs/${runIds[0]}/artifacts/content?name=figures%2Fparity.png` });
  });

  it('drops a host message outside the schema and says so in the log', async () => {
    await act(async () => window.dispatchEvent(new MessageEvent('message', { data: { type: 'init', view: { kind: 'nope' }, theme: 'dark' } })));
    expect(root().textContent).toBe('');
    expect(host.sent('log')).toEqual([{ type: 'log', level: 'error', message: expect.stringMatching(/webview dropped an invalid message/) }]);
  });
});

describe('the deploy panel (no cluster configured)', () => {
  // A registered version whose parity was checked (its bytes are only hashed: the plan renders, nothing runs it).
  // The daemon of this test has no kubeconfig: its HOME has no ~/.kube and KUBECONFIG is not set.
  const model = 'iris:1';

  beforeAll(async () => {
    await direct.uploadArtifact(runIds[0], 'iris.onnx', new TextEncoder().encode('not really ONNX\n'), { kind: 'model' });
    await direct.registerModelVersion('iris', {
      run_id: runIds[0],
      artifact: 'iris.onnx',
      flavor: 'onnx',
      signature: { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: [null, 1] }], feature_names: null },
      parity_max_abs_diff: 0,
    });
  });

  /** Sets a form field as typing does (React listens to the native input event). */
  function type(label: string, value: string): void {
    const field = [...root().querySelectorAll('label')].find((element) => element.textContent === label)!;
    // React's useId ids hold colons: look the field up by id, not by a CSS selector.
    const input = document.getElementById(field.htmlFor) as HTMLInputElement;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function button(text: string): HTMLButtonElement {
    return [...root().querySelectorAll<HTMLButtonElement>('button')].find((element) => element.textContent === text)!;
  }

  it('starts the form with the model it was opened for; Preview shows the manifests with why no cluster was compared', async () => {
    await init({ kind: 'deploy', model });
    await until(() => root().textContent!.includes('No kubeconfig found'), 'the kubeconfig contexts');
    await until(() => root().textContent!.includes('No deployment yet'), 'the deployments');
    expect(host.requests).toEqual(expect.arrayContaining(['GET /models', 'GET /serve/endpoints', 'GET /deploy/contexts', 'GET /deployments?live=true']));
    const form = root().querySelector('form[aria-label="Deploy a model"]')!;
    await until(() => form.querySelector('option[value="iris:1"]') !== null, 'the registered models');
    expect(form.querySelector('select')!.value).toBe(model);
    expect([...form.querySelectorAll('option')].map((option) => option.textContent)).toEqual(expect.arrayContaining(['iris (latest)', 'iris:1']));
    expect([...form.querySelectorAll<HTMLInputElement>('input')].map((input) => input.value)).toContain('iris');
    await act(async () => type('Image', 'registry.example/opsbook-runtime@sha256:' + 'a'.repeat(64)));
    await act(async () => button('Preview').click());
    await until(() => root().querySelector('[aria-label="Plan of iris"]') !== null, 'the plan');
    expect(host.sent('request').at(-1)).toMatchObject({ method: 'POST', path: '/deploy/plan', body: { model, name: 'iris', namespace: 'default', replicas: 2, gpu: 0, target: 'deployment' } });
    const plan = root().querySelector('[aria-label="Plan of iris"]')!;
    expect(plan.querySelector('[aria-label="Parity gate: Pass"]')).not.toBeNull();
    expect(plan.querySelector('[role="status"]')!.textContent).toMatch(/^Not compared with a cluster: .*(KUBECONFIG|kubeconfig)/);
    expect([...plan.querySelectorAll('.opsbook-Change-name')].map((element) => element.textContent)).toEqual([
      'Deployment/iris',
      'Service/iris',
      'HorizontalPodAutoscaler/iris',
      'PodDisruptionBudget/iris',
    ]);
    const yaml = plan.querySelector('[aria-label="Manifests YAML"]')!.textContent!;
    expect(yaml).toContain('kind: Deployment');
    // Quoted: the YAML keeps a string with ':' a string.
    expect(yaml).toContain(`image: "registry.example/opsbook-runtime@sha256:${'a'.repeat(64)}"`);
    expect(yaml).toContain('app.kubernetes.io/managed-by: opsbook');
  });

  it("Deploy shows its job's deploy events as progress while under way; without a cluster it then says how to point at one", async () => {
    await init({ kind: 'deploy', model });
    await until(() => root().textContent!.includes('No kubeconfig found'), 'the kubeconfig contexts');
    await act(async () => type('Image', 'registry.example/opsbook-runtime:1.0'));
    let release!: () => void;
    host.hold = new Promise((resolve) => (release = resolve));
    await act(async () => button('Deploy').click());
    const sent = host.sent('request').at(-1) as Extract<WebviewToHost, { type: 'request' }>;
    expect(sent).toMatchObject({ method: 'POST', path: '/deploy', body: { model, name: 'iris', wait: true, timeout_s: 240 } });
    const jobId = (sent.body as { job_id: string }).job_id;
    expect(jobId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(root().textContent).toContain('Deploying iris…');
    expect(button('Deploying…').disabled).toBe(true);
    // The host forwards the daemon's `event: deploy` (checked against the schema on the way); another job's is not shown.
    await act(async () => host.send({ type: 'event', name: 'deploy', data: { job_id: 'someone-else', name: 'other', phase: 'rollout', done: 3, total: 4 } }));
    expect(root().querySelector('[aria-label="Deploying other"]')).toBeNull();
    await act(async () => host.send({ type: 'event', name: 'deploy', data: { job_id: jobId, name: 'iris', phase: 'apply', done: 1, total: 4, message: 'applying 4 objects' } }));
    expect(root().querySelector('[aria-label="Deploying iris"]')!.textContent).toContain('applying 4 objects');
    host.hold = null;
    release();
    await until(() => root().querySelector('[role="alert"]') !== null, 'the answer');
    expect(root().querySelector('[role="alert"]')!.textContent).toMatch(/KUBECONFIG|kubeconfig|--context/);
  });

  it('Show Status puts the deployments first', async () => {
    await init({ kind: 'deploy', name: 'iris' });
    await until(() => root().textContent!.includes('No deployment yet'), 'the deployments');
    const sections = [...root().querySelectorAll('section')].map((section) => section.getAttribute('aria-label'));
    expect(sections.indexOf('Deployments')).toBeLessThan(sections.indexOf('New deployment'));
  });
});
