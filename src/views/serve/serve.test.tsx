/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import { SchemaValidator, type Endpoint, type EndpointStats, type EndpointTestAnswer, type EndpointTestRequest, type ServeEvent } from '@opsbook/schema';
import {
  EndpointCard,
  EndpointsView,
  LatencySparkline,
  addStats,
  applyServeEvent,
  curlCommand,
  formatLatency,
  niceMax,
  parseRequest,
  requestText,
  sparklinePoints,
  startingRequest,
  zeroRequest,
} from '../index';
import { useTestRoot } from '../testing';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const validator = new SchemaValidator();
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
const dom = useTestRoot(async () => {
  for (let i = 0; i < 3; i++) await tick();
});

function stats(second: number, p50: number | null, p99: number | null, rps = 10): EndpointStats {
  return { time: `2026-11-23T10:00:${String(second).padStart(2, '0')}.000Z`, requests: 100 + second, errors: 1, rps, p50_ms: p50, p99_ms: p99, in_flight: 0, mean_batch: 1.5 };
}

/** A ready endpoint serving a classifier whose run logged a sample row, checked against the contract. */
function endpoint(patch: Partial<Endpoint> = {}): Endpoint {
  return validator.assert<Endpoint>('endpoint.schema.json', {
    name: 'churn',
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
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [-1] },
          { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
        ],
        sample_request: { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 3], data: [41.5, 2.75, 3] }] },
      },
      {
        name: 'broken',
        version: '1',
        model: '/w/broken.onnx',
        path: '/w/broken.onnx',
        run_id: null,
        ready: false,
        error: 'model broken failed to load: protobuf parsing failed',
        inputs: [],
        outputs: [],
        sample_request: null,
      },
    ],
    config: { models: [{ model: 'churn@prod' }, { model: '/w/broken.onnx' }] },
    started_at: '2026-11-23T10:00:00.000Z',
    stopped_at: null,
    error: null,
    request_log_dir: '/w/.opsbook/serving/churn/requests',
    stats: stats(5, 0.42, 1.9),
    ...patch,
  });
}

async function typeInto(element: HTMLTextAreaElement, value: string): Promise<void> {
  await act(async () => {
    Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!.call(element, value);
    element.dispatchEvent(new Event('input', { bubbles: true }));
    await tick();
  });
}

async function click(element: Element): Promise<void> {
  await act(async () => {
    (element as HTMLElement).click();
    for (let i = 0; i < 3; i++) await tick();
  });
}

describe('serving data', () => {
  it('keeps a minute of stats per endpoint, replacing a second seen twice and skipping a late one', () => {
    let history = {};
    for (let s = 0; s < 70; s++) history = addStats(history, 'churn', stats(s % 60, s, 2 * s), 60);
    const points = (history as Record<string, EndpointStats[]>).churn;
    // Seconds 0..59, then 60..69 wrapped to 0..9: those are older than 59, skipped.
    expect(points).toHaveLength(60);
    expect(points[59].p50_ms).toBe(59);
    const again = addStats(history, 'churn', { ...stats(59, 1, 2) }, 60);
    expect((again as Record<string, EndpointStats[]>).churn).toHaveLength(60);
    expect((again as Record<string, EndpointStats[]>).churn[59].p50_ms).toBe(1);
    expect(addStats(history, 'churn', null)).toBe(history);
  });

  it('applies an event: serve to the endpoint it names, and asks for a listing for one it does not know', () => {
    const event: ServeEvent = validator.assert<ServeEvent>('endpoint.schema.json#/$defs/ServeEvent', {
      endpoint: 'churn',
      status: 'stopping',
      url: null,
      error: null,
      stats: stats(9, 0.5, 3),
    });
    const [next] = applyServeEvent([endpoint()], event)!;
    expect(next.status).toBe('stopping');
    expect(next.url).toBe('http://127.0.0.1:41234');
    expect(next.stats?.p99_ms).toBe(3);
    expect(next.models).toHaveLength(2);
    expect(applyServeEvent([endpoint()], { ...event, endpoint: 'other' })).toBeNull();
    const failed = applyServeEvent([endpoint()], { ...event, status: 'failed', error: 'exited with code 1', stats: null })!;
    expect(failed[0].error).toBe('exited with code 1');
    expect(failed[0].stats?.p99_ms).toBe(1.9);
  });

  it('formats latencies and scales sparklines to a 1-2-5 top', () => {
    expect(formatLatency(0.42)).toBe('420 µs');
    expect(formatLatency(1.9)).toBe('1.9 ms');
    expect(formatLatency(12.345)).toBe('12.3 ms');
    expect(formatLatency(null)).toBe('–');
    expect(niceMax([stats(1, 0.4, 1.9), stats(2, 0.3, 0.8)])).toBe(2);
    expect(niceMax([stats(1, 30, 130)])).toBe(200);
    expect(niceMax([stats(1, null, null)])).toBe(1);
    // Three points across a 104-wide box with 2 px padding; the null is a gap.
    expect(sparklinePoints([0, null, 2], 104, 24, 2)).toBe('2.0,22.0 102.0,2.0');
    expect(sparklinePoints([], 100, 20, 1)).toBe('');
  });

  it('starts a request from the logged sample, else from zeros of the input shapes, and parses what the user typed', () => {
    const [model, broken] = endpoint().models;
    expect(startingRequest(model)).toEqual(model.sample_request);
    expect(startingRequest(broken)).toBeNull();
    const zeros = zeroRequest({ inputs: [{ name: 'X', datatype: 'FP32', shape: [-1, 3] }, { name: 'plan', datatype: 'BYTES', shape: [-1, 1] }] })!;
    expect(zeros.inputs).toEqual([
      { name: 'X', datatype: 'FP32', shape: [1, 3], data: [0, 0, 0] },
      { name: 'plan', datatype: 'BYTES', shape: [1, 1], data: [''] },
    ]);
    validator.assert('inference.schema.json#/$defs/InferenceRequest', zeros);
    const text = requestText(model.sample_request);
    expect(text).toContain('"data": [41.5, 2.75, 3]');
    expect(parseRequest(text)).toEqual({ request: model.sample_request });
    expect(parseRequest('{"inputs": [')).toEqual({ error: expect.stringMatching(/^Not JSON: /) });
    expect(parseRequest('[1]')).toEqual({ error: 'A request is a JSON object with "inputs".' });
    expect(parseRequest('{"inputs": []}')).toEqual({ error: expect.stringContaining('"inputs"') });
    expect(curlCommand('http://127.0.0.1:1', model, { inputs: [{ name: "it's", datatype: 'FP32', shape: [1], data: [1] }] })).toBe(
      `curl -s -H 'Content-Type: application/json' -d '{"inputs":[{"name":"it'\\''s","datatype":"FP32","shape":[1],"data":[1]}]}' http://127.0.0.1:1/v2/models/churn/versions/3/infer`,
    );
  });
});

describe('LatencySparkline', () => {
  it('draws p50 and p99 with the latest values as its accessible name, and takes focus', async () => {
    await dom.render(<LatencySparkline points={[stats(1, 0.4, 1.2), stats(2, 0.5, 1.9)]} />);
    const chart = dom.container.querySelector('svg[role="img"]')!;
    expect(chart.getAttribute('aria-label')).toBe('Latency over the last 2 s: p50 500 µs, p99 1.9 ms, 10 req/s (scale 0 to 2 ms)');
    expect(chart.getAttribute('tabindex')).toBe('0');
    expect(chart.querySelector('.opsbook-Sparkline-p50')!.getAttribute('points')!.split(' ')).toHaveLength(2);
    expect(chart.querySelector('.opsbook-Sparkline-p99')!.getAttribute('points')).toBe('2.0,11.6 118.0,3.2');
    expect(dom.container.querySelector('.opsbook-Sparkline-text')?.textContent).toBe('p50 500 µs p99 1.9 ms');
  });
});

describe('EndpointsView', () => {
  it('lists running endpoints first with status, URL, device and each model ready or why not', async () => {
    const stopped = endpoint({ name: 'old', status: 'stopped', url: null, port: null, pid: null, stopped_at: '2026-11-23T10:05:00.000Z', stats: null });
    await dom.render(<EndpointsView endpoints={[stopped, endpoint()]} history={{ churn: [stats(1, 0.3, 1), stats(2, 0.42, 1.9)] }} onStop={() => Promise.resolve()} onTest={() => Promise.reject(new Error('unused'))} />);
    const cards = Array.from(dom.container.querySelectorAll('article.opsbook-Endpoint'));
    expect(cards.map((c) => c.getAttribute('aria-label'))).toEqual(['Endpoint churn', 'Endpoint old']);
    const [live, old] = cards;
    expect(live.querySelector('.opsbook-ServeStatus')?.textContent).toBe('Ready');
    expect(live.querySelector('.opsbook-Endpoint-device')?.textContent).toBe('CPU');
    expect(live.querySelector('a')?.getAttribute('href')).toBe('http://127.0.0.1:41234/v2');
    const models = Array.from(live.querySelectorAll('.opsbook-Endpoint-models li')).map((li) => li.textContent);
    expect(models).toEqual(['churn:3 X FP32[-1,3]', 'broken:1  — model broken failed to load: protobuf parsing failed']);
    expect(live.querySelector('svg[role="img"]')?.getAttribute('aria-label')).toContain('over the last 2 s');
    // A stopped endpoint: no sparkline, no stop, no test form.
    expect(old.querySelector('.opsbook-ServeStatus')?.textContent).toBe('Stopped');
    expect(old.querySelector('svg')).toBeNull();
    expect(old.querySelector('button')).toBeNull();
    expect(old.querySelector('details')).toBeNull();
  });

  it('says when there is nothing, while loading and why the list failed', async () => {
    await dom.render(<EndpointsView endpoints={[]} empty="Serve a model to see it here." />);
    expect(dom.container.textContent).toBe('Serve a model to see it here.');
    await dom.render(<EndpointsView />);
    expect(dom.container.textContent).toBe('Loading endpoints…');
    await dom.render(<EndpointsView endpoints={[]} error="Cannot reach the Jupyter server" />);
    expect(dom.container.querySelector('[role="alert"]')?.textContent).toBe('Cannot reach the Jupyter server');
  });

  it('stops an endpoint with its button, and shows why when the daemon refused', async () => {
    const stopped: string[] = [];
    let refuse = false;
    const onStop = (name: string): Promise<void> => {
      stopped.push(name);
      return refuse ? Promise.reject(new Error('no endpoint named churn (HTTP 404)')) : Promise.resolve();
    };
    await dom.render(<EndpointCard endpoint={endpoint()} onStop={onStop} />);
    const stop = dom.container.querySelector('button[aria-label="Stop endpoint churn"]')!;
    await click(stop);
    expect(stopped).toEqual(['churn']);
    expect(dom.container.querySelector('[role="alert"]')).toBeNull();
    refuse = true;
    await click(stop);
    expect(dom.container.querySelector('[role="alert"]')?.textContent).toBe('no endpoint named churn (HTTP 404)');
  });
});

describe('EndpointTestForm', () => {
  it('sends the pre-filled sample row and shows the status, latency and outputs', async () => {
    const sent: [string, EndpointTestRequest][] = [];
    const answer = validator.assert<EndpointTestAnswer>('endpoint.schema.json#/$defs/EndpointTestAnswer', {
      status: 200,
      latency_ms: 0.734,
      body: {
        model_name: 'churn',
        model_version: '3',
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [1], data: [1] },
          { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.123456789, 0.876543211] },
        ],
      },
    });
    const onTest = (name: string, request: EndpointTestRequest): Promise<EndpointTestAnswer> => {
      sent.push([name, request]);
      return Promise.resolve(answer);
    };
    await dom.render(<EndpointCard endpoint={endpoint()} onTest={onTest} testOpen />);
    const form = dom.container.querySelector('form[aria-label="Test request to churn"]')!;
    // Only the ready model is offered: no model picker.
    expect(form.querySelector('select')).toBeNull();
    expect(form.querySelector('label')?.textContent).toBe('Request (V2 JSON, the logged sample row)');
    const body = form.querySelector('textarea')!;
    expect(JSON.parse(body.value)).toEqual(endpoint().models[0].sample_request);
    await click(form.querySelector('button[type="submit"]')!);
    expect(sent).toEqual([['churn', { model: 'churn', version: '3', request: endpoint().models[0].sample_request }]]);
    const result = form.querySelector('.opsbook-ServeTest-result')!;
    expect(result.querySelector('.opsbook-ServeTest-status')?.textContent).toBe('HTTP 200 in 734 µs');
    expect(result.querySelector('pre')?.textContent).toBe('label INT64[1]: [1]\nprobabilities FP32[1, 2]: [0.123457,0.876543]');
    expect(form.querySelector('.opsbook-ServeTest-curl pre')?.textContent).toContain('http://127.0.0.1:41234/v2/models/churn/versions/3/infer');
  });

  it('sends an edited request with Ctrl+Enter, refuses JSON that is not a request, and resets to the sample', async () => {
    const sent: EndpointTestRequest[] = [];
    const onTest = (_: string, request: EndpointTestRequest): Promise<EndpointTestAnswer> => {
      sent.push(request);
      return Promise.resolve({ status: 400, latency_ms: 2.5, body: { error: "input 'X': expected shape [-1, 3], got [1, 2]" } });
    };
    await dom.render(<EndpointCard endpoint={endpoint()} onTest={onTest} testOpen />);
    const body = dom.container.querySelector('textarea')!;
    await typeInto(body, '{"inputs": [');
    expect(body.getAttribute('aria-invalid')).toBe('true');
    expect(dom.container.querySelector('.opsbook-ServeTest [role="alert"]')?.textContent).toMatch(/^Not JSON/);
    expect(dom.container.querySelector<HTMLButtonElement>('button[type="submit"]')!.disabled).toBe(true);
    const edited = { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] };
    await typeInto(body, JSON.stringify(edited));
    await act(async () => {
      body.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true, bubbles: true }));
      for (let i = 0; i < 3; i++) await tick();
    });
    expect(sent.map((s) => s.request)).toEqual([edited]);
    expect(dom.container.querySelector('.opsbook-ServeTest-status')?.textContent).toBe('HTTP 400 in 2.5 ms');
    expect(dom.container.querySelector('.opsbook-ServeTest-result .opsbook-ServeTest-error')?.textContent).toBe("input 'X': expected shape [-1, 3], got [1, 2]");
    await click(Array.from(dom.container.querySelectorAll('button')).find((b) => b.textContent === 'Reset')!);
    expect(JSON.parse(dom.container.querySelector('textarea')!.value)).toEqual(endpoint().models[0].sample_request);
  });

  it('shows why the daemon refused the test, and is disabled while the endpoint starts', async () => {
    const onTest = (): Promise<EndpointTestAnswer> => Promise.reject(new Error('endpoint churn is not running (HTTP 409)'));
    await dom.render(<EndpointCard endpoint={endpoint()} onTest={onTest} testOpen />);
    await click(dom.container.querySelector('button[type="submit"]')!);
    expect(dom.container.querySelector('.opsbook-ServeTest [role="alert"]')?.textContent).toBe('endpoint churn is not running (HTTP 409)');
    await dom.render(<EndpointCard endpoint={endpoint({ status: 'starting' })} onTest={onTest} testOpen />);
    expect(dom.container.querySelector<HTMLButtonElement>('button[type="submit"]')!.disabled).toBe(true);
  });
});
