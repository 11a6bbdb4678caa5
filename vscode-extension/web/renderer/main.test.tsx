/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import type { OutputItem, RendererContext, RendererApi } from 'vscode-notebook-renderer';
import type { ComparedRun, Endpoint, RunComparison, RunList, TrackOutput } from '@opsbook/schema';
import { activate } from './main';

Object.assign(globalThis, { IS_REACT_ACT_ENVIRONMENT: true });

const RUN_ID = '0f6d2a4e-5c1b-4a8e-9d3f-2b7c8e1a9f00';
const RUN: TrackOutput = {
  run_id: RUN_ID,
  experiment: 'churn',
  name: 'lively-otter',
  status: 'finished',
  duration_ms: 1250,
  params: { lr: '0.1' },
  metrics: { accuracy: 0.93 },
};

function item(mime: string, value: unknown, id = 'out-1'): OutputItem {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  // The fixtures are ASCII, so one byte per character (jsdom has no TextEncoder).
  const bytes = Uint8Array.from(text, (char) => char.charCodeAt(0));
  return {
    id,
    mime,
    metadata: undefined,
    text: () => text,
    json: () => JSON.parse(text) as unknown,
    data: () => bytes,
    blob: () => new Blob([bytes]),
  };
}

/** A renderer context as VS Code gives it; `posted` holds what the renderer sent the extension. */
function context(messaging: boolean): { context: RendererContext<unknown>; posted: unknown[] } {
  const posted: unknown[] = [];
  const base = { getState: () => undefined, setState: () => undefined, workspace: { isTrusted: true }, settings: { lineLimit: 30 } };
  const withMessaging = {
    postMessage: (message: unknown) => void posted.push(message),
    onDidReceiveMessage: () => ({ dispose: () => undefined }),
  };
  return { context: { ...base, ...(messaging ? withMessaging : {}) } as unknown as RendererContext<unknown>, posted };
}

async function render(api: RendererApi, output: OutputItem): Promise<HTMLElement> {
  const element = document.createElement('div');
  document.body.appendChild(element);
  await act(async () => {
    await api.renderOutputItem(output, element, new AbortController().signal);
  });
  return element;
}

describe('the notebook renderer (jsdom)', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('draws a %%track run card with the shared RunCard, and its Open posts an open message to the extension', async () => {
    const { context: ctx, posted } = context(true);
    const api = activate(ctx) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.run+json', RUN));

    expect(element.textContent).toContain('lively-otter');
    expect(element.textContent).toContain('accuracy');
    const open = [...element.querySelectorAll('button')].find((button) => button.textContent === 'Open run');
    expect(open).toBeDefined();
    act(() => open!.click());
    expect(posted).toContainEqual({ type: 'open', view: { kind: 'run', run_id: RUN_ID } });
    act(() => api.disposeOutputItem?.('out-1'));
    expect(element.textContent).toBe('');
  });

  it('draws a %deploy plan with the shared deploy view: gates, manifests not compared and why', async () => {
    const sha = 'b'.repeat(64);
    const plan = {
      name: 'churn',
      namespace: 'default',
      target: 'deployment',
      model: { ref: 'churn:1', name: 'churn', version: 1, run_id: RUN_ID, sha256: sha, bytes: 812, path: '/w/.opsbook/artifacts/r/churn.onnx' },
      manifests: [
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'churn', namespace: 'default' }, spec: { replicas: 2 } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'churn', namespace: 'default' }, spec: { ports: [{ port: 80 }] } },
      ],
      gates: [{ gate: 'parity', status: 'pass', message: 'parity max |diff| 6.7e-8 <= 0.0001' }],
      refused: false,
      changes: null,
      cluster: { reachable: false, context: null, server: null, message: 'no Kubernetes cluster configured' },
    };
    const api = activate(context(true).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.deploy+json', plan));
    expect(element.querySelector('[role="alert"]')).toBeNull();
    expect(element.querySelector('[aria-label="Plan of churn"]')).not.toBeNull();
    expect(element.querySelector('[aria-label="Parity gate: Pass"]')).not.toBeNull();
    expect([...element.querySelectorAll('.opsbook-Change-name')].map((name) => name.textContent)).toEqual(['Deployment/churn', 'Service/churn']);
    expect(element.textContent).toContain('Not compared with a cluster: no Kubernetes cluster configured');
  });

  it('says why a deploy output is not one of the deploy documents', async () => {
    const api = activate(context(false).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.deploy+json', { name: 'churn', status: 'applied' }));
    expect(element.querySelector('[role="alert"]')!.textContent).toMatch(/^Opsbook cannot draw this application\/vnd\.opsbook\.deploy\+json output: /);
  });

  it('hides Open when the extension gives no messaging', async () => {
    const api = activate(context(false).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.run+json', RUN));

    expect(element.textContent).toContain('lively-otter');
    expect([...element.querySelectorAll('button')].map((button) => button.textContent)).not.toContain('Open run');
  });

  it('draws a run list as the runs table', async () => {
    const list: RunList = {
      runs: [
        {
          id: RUN_ID,
          experiment_id: 'e-1',
          experiment: 'churn',
          name: 'lively-otter',
          status: 'finished',
          start_time: '2026-11-23T10:00:00Z',
          end_time: '2026-11-23T10:00:01Z',
          duration_ms: 1250,
          source_type: 'cell',
          params: { lr: '0.1' },
          metrics_latest: { accuracy: 0.93 },
        },
      ],
    } as RunList;
    const api = activate(context(true).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.run-list+json', list));

    expect(element.querySelector('[role="alert"]')?.textContent ?? null).toBeNull();
    // The table's rows are virtualized (jsdom lays nothing out), so its header and count are what shows.
    expect(element.textContent).toContain('1 run');
    expect(element.textContent).toContain('Experiment');
  });

  it('draws a comparison, and its button opens the same runs in the compare view', async () => {
    const compared = (i: number, lr: string, accuracy: number): ComparedRun => ({
      id: `0f6d2a4e-5c1b-4a8e-9d3f-2b7c8e1a9f0${i}`,
      name: `run-${i}`,
      experiment: 'sweep',
      status: 'finished',
      start_time: '2026-11-23T10:00:00Z',
      duration_ms: 1000,
      params: { lr },
      metrics: { accuracy: { last: accuracy, min: accuracy, max: accuracy, count: 1 } },
    });
    const comparison: RunComparison = {
      runs: [compared(1, '0.1', 0.9), compared(2, '0.01', 0.8)],
      param_keys: ['lr'],
      metric_keys: ['accuracy'],
      differing_params: ['lr'],
    };
    const { context: ctx, posted } = context(true);
    const api = activate(ctx) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.compare+json', comparison));

    expect(element.querySelector('[role="alert"]')?.textContent ?? null).toBeNull();
    expect(element.textContent).toContain('run-2');
    const open = [...element.querySelectorAll('button')].find((button) => button.textContent === 'Open in the compare view');
    act(() => open!.click());
    expect(posted).toContainEqual({ type: 'open', view: { kind: 'compare', run_ids: comparison.runs.map((run) => run.id) } });
  });

  it('says which field a run list lacks', async () => {
    const api = activate(context(true).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.run-list+json', { runs: [{ id: RUN_ID }] }));

    expect(element.textContent).toMatch(/Opsbook cannot draw this application\/vnd\.opsbook\.run-list\+json output/);
  });

  it('draws an endpoint card', async () => {
    const endpoint: Endpoint = {
      name: 'churn-endpoint',
      status: 'ready',
      url: 'http://127.0.0.1:41234',
      host: '127.0.0.1',
      port: 41234,
      device: 'cpu',
      pid: 4242,
      models: [
        {
          name: 'churn',
          version: '3',
          model: 'churn@prod',
          path: '/w/.opsbook/artifacts/r1/models/churn/abc.onnx',
          run_id: 'r1',
          ready: true,
          error: null,
          inputs: [{ name: 'X', datatype: 'FP32', shape: [-1, 3] }],
          outputs: [{ name: 'label', datatype: 'INT64', shape: [-1] }],
          sample_request: null,
        },
      ],
      config: { models: [{ model: 'churn@prod' }] },
      started_at: '2026-11-23T10:00:00.000Z',
      stopped_at: null,
      error: null,
      request_log_dir: null,
      stats: null,
    };
    const api = activate(context(true).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.endpoint+json', endpoint));

    expect(element.querySelector('[role="alert"]')?.textContent ?? null).toBeNull();
    expect(element.textContent).toContain('churn-endpoint');
  });

  it('says why instead of drawing nothing when the data does not match its schema', async () => {
    const api = activate(context(true).context) as RendererApi;
    const element = await render(api, item('application/vnd.opsbook.run+json', { run_id: RUN_ID, status: 'finished' }));

    const alert = element.querySelector('[role="alert"]');
    expect(alert?.textContent).toMatch(/Opsbook cannot draw this application\/vnd\.opsbook\.run\+json output: .*required property 'experiment'/);
  });

  it('says so when the data is not JSON or the mimetype is not one of its own', async () => {
    const api = activate(context(true).context) as RendererApi;
    const broken = await render(api, item('application/vnd.opsbook.run+json', '{not json', 'out-2'));
    const foreign = await render(api, item('application/vnd.other+json', {}, 'out-3'));

    expect(broken.querySelector('[role="alert"]')?.textContent).toContain('its data is not JSON');
    expect(foreign.querySelector('[role="alert"]')?.textContent).toContain('is not an Opsbook mimetype');
    act(() => api.disposeOutputItem?.());
    expect(broken.textContent).toBe('');
    expect(foreign.textContent).toBe('');
  });
});
