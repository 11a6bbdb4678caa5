import type { Endpoint, EndpointModel, EndpointStats, InferenceRequest, RequestInput, ServeEvent } from '@opsbook/schema';

/** Seconds of `event: serve` stats a sparkline keeps (the server sends one per second with traffic). */
export const SPARKLINE_POINTS = 60;

/** Latency history per endpoint name, oldest first, at most {@link SPARKLINE_POINTS} each. */
export type StatsHistory = Readonly<Record<string, readonly EndpointStats[]>>;

/**
 * The history with one more second of an endpoint's stats: a repeated `time` (the same stats seen
 * twice, e.g. in the endpoint's answer and then its event) replaces the last point instead of adding one.
 */
export function addStats(history: StatsHistory, endpoint: string, stats: EndpointStats | null, limit = SPARKLINE_POINTS): StatsHistory {
  if (!stats) return history;
  const points = history[endpoint] ?? [];
  const last = points[points.length - 1];
  if (last && last.time >= stats.time) {
    if (last.time !== stats.time) return history; // older than what is shown: arrived late, skipped
    return { ...history, [endpoint]: [...points.slice(0, -1), stats] };
  }
  return { ...history, [endpoint]: [...points, stats].slice(-limit) };
}

/**
 * The endpoints after one `event: serve`: the named endpoint's status, url, error and stats
 * replaced. An event of an endpoint not listed yet returns `null`: the caller lists them again
 * (an event carries no models or device).
 */
export function applyServeEvent(endpoints: readonly Endpoint[], event: ServeEvent): Endpoint[] | null {
  const index = endpoints.findIndex((e) => e.name === event.endpoint);
  if (index < 0) return null;
  const current = endpoints[index];
  const next: Endpoint = {
    ...current,
    status: event.status,
    url: event.url ?? current.url,
    error: event.error ?? (event.status === 'failed' ? current.error : null),
    stats: event.stats ?? current.stats,
  };
  return [...endpoints.slice(0, index), next, ...endpoints.slice(index + 1)];
}

/** Whether the endpoint's server is (still) there: it may be stopped or answer requests. */
export function isLive(endpoint: Pick<Endpoint, 'status'>): boolean {
  return endpoint.status === 'starting' || endpoint.status === 'ready';
}

/** A latency in ms for people: 3 significant digits, µs below 1 ms; a dash for none. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  // Number() of toPrecision drops trailing zeros of the fraction only (420, not 42).
  if (ms < 1) return `${Number((ms * 1000).toPrecision(3))} µs`;
  return `${Number(ms.toPrecision(3))} ms`;
}

/** One polyline of a sparkline: `x,y` pairs of the values that are numbers (gaps skipped), scaled into the box. */
export function sparklinePoints(values: readonly (number | null)[], width: number, height: number, max: number, pad = 2): string {
  const n = values.length;
  if (n === 0 || !(max > 0)) return '';
  const step = n > 1 ? (width - 2 * pad) / (n - 1) : 0;
  const parts: string[] = [];
  values.forEach((value, i) => {
    if (value === null || !Number.isFinite(value)) return;
    const x = pad + (n > 1 ? i * step : (width - 2 * pad) / 2);
    const y = height - pad - (Math.min(value, max) / max) * (height - 2 * pad);
    parts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return parts.join(' ');
}

/** The top of a sparkline's scale: the largest p99 (or p50) shown, rounded up to a 1-2-5 step. */
export function niceMax(points: readonly EndpointStats[]): number {
  let max = 0;
  for (const p of points) max = Math.max(max, p.p99_ms ?? 0, p.p50_ms ?? 0);
  if (!(max > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (max <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

/** Zeros shaped like a model's inputs (dynamic dims as 1): a request when the model has no logged sample. */
export function zeroRequest(model: Pick<EndpointModel, 'inputs'>): InferenceRequest | null {
  const [first, ...rest] = model.inputs;
  if (!first) return null;
  const zeros = (input: typeof first): RequestInput => {
    const shape = input.shape.map((d) => (d > 0 ? d : 1));
    const size = shape.reduce((a, b) => a * b, 1);
    const zero = input.datatype === 'BYTES' ? '' : input.datatype === 'BOOL' ? false : 0;
    return { name: input.name, datatype: input.datatype, shape, data: Array.from({ length: Math.min(size, 10_000) }, () => zero) };
  };
  return { inputs: [zeros(first), ...rest.map(zeros)] };
}

/** The request a test form starts from: the model's sample (its logged first row), else zeros of its input shapes. */
export function startingRequest(model: EndpointModel): InferenceRequest | null {
  return model.sample_request ?? zeroRequest(model);
}

/**
 * JSON of a request as the form shows it: one line per tensor's data, so a wide row stays readable
 * and editable.
 */
export function requestText(request: InferenceRequest | null): string {
  return request ? JSON.stringify(request, null, 2).replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_, inner: string) => `[${inner.replace(/\s*\n\s*/g, ' ')}]`) : '{\n  "inputs": []\n}';
}

/** What the form's text is: a request to send, or why not (JSON's own message, or the field missing). */
export function parseRequest(text: string): { request: InferenceRequest } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (reason) {
    return { error: `Not JSON: ${reason instanceof Error ? reason.message : String(reason)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'A request is a JSON object with "inputs".' };
  const inputs = (value as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return { error: 'A request needs "inputs": a list of {name, datatype, shape, data}.' };
  return { request: value as InferenceRequest };
}

/** `curl` sending `request` to a model of the endpoint (what to paste in a terminal or another client). */
export function curlCommand(url: string, model: Pick<EndpointModel, 'name' | 'version'>, request: InferenceRequest): string {
  const body = JSON.stringify(request).replace(/'/g, "'\\''");
  return `curl -s -H 'Content-Type: application/json' -d '${body}' ${url}/v2/models/${encodeURIComponent(model.name)}/versions/${encodeURIComponent(model.version)}/infer`;
}
