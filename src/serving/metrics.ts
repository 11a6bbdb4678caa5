/**
 * What the inference server measures: Prometheus metrics for /metrics (prom-client, a registry of
 * the server's own) and the once-a-second EndpointStats the server process prints for the daemon.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EndpointStats } from '@opsbook/schema';
import type { Device } from './types';

/** Seconds: fine steps below a millisecond, where a CPU model's answers land. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536];

/** Latencies kept per second for p50/p99; past this many a uniform sample of them is kept. */
const WINDOW_SAMPLES = 16384;

export interface Answered {
  model: string;
  version: string;
  status: number;
  latencyMs: number;
  /** For answered inferences: time queued, rows of the run that answered, rows of the request. */
  queueMs?: number;
  batchRows?: number;
  rows?: number;
}

interface Children {
  requests: Counter.Internal;
  duration: Histogram.Internal<'model' | 'version'>;
  queue: Histogram.Internal<'model' | 'version'>;
  batch: Histogram.Internal<'model' | 'version'>;
}

export class ServingMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'code'>;
  private readonly duration: Histogram<'model' | 'version'>;
  private readonly queue: Histogram<'model' | 'version'>;
  private readonly batch: Histogram<'model' | 'version'>;
  private readonly inFlightGauge: Gauge;
  private readonly modelReady: Gauge<'model' | 'version'>;
  private readonly deviceInfo: Gauge<'device'>;
  /** Label children by model, version and status: prom-client hashes labels on every call otherwise. */
  private readonly children = new Map<string, Children>();

  private inFlightCount = 0;
  private total = 0;
  private errors = 0;
  private readonly window = new Float64Array(WINDOW_SAMPLES);
  private windowCount = 0;
  private windowRows = 0;
  private windowRuns = 0;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'opsbook_requests_total', help: 'Inference requests answered, by model, version and HTTP status.', labelNames: ['model', 'version', 'code'], registers });
    this.duration = new Histogram({ name: 'opsbook_request_duration_seconds', help: 'Inference request latency, from the request to the end of the answer.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers });
    this.queue = new Histogram({ name: 'opsbook_queue_duration_seconds', help: 'Time an inference waited before its onnxruntime run started.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers });
    this.batch = new Histogram({ name: 'opsbook_batch_size', help: 'Rows of the onnxruntime run that answered each inference request.', labelNames: ['model', 'version'], buckets: BATCH_BUCKETS, registers });
    this.inFlightGauge = new Gauge({ name: 'opsbook_in_flight_requests', help: 'Inference requests being read, queued or run.', registers });
    this.modelReady = new Gauge({ name: 'opsbook_model_ready', help: '1 when the model is loaded and answering, else 0.', labelNames: ['model', 'version'], registers });
    this.deviceInfo = new Gauge({ name: 'opsbook_device_info', help: 'The device the models run on (the label); always 1.', labelNames: ['device'], registers });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  setDevice(device: Device): void {
    this.deviceInfo.reset();
    this.deviceInfo.set({ device }, 1);
  }

  setModelReady(model: string, version: string, ready: boolean): void {
    this.modelReady.set({ model, version }, ready ? 1 : 0);
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  started(): void {
    this.inFlightCount++;
    this.inFlightGauge.inc();
  }

  /** One inference request answered (any status). Call `started` first. */
  answered(answer: Answered): void {
    this.inFlightCount--;
    this.inFlightGauge.dec();
    const key = `${answer.model}\u0000${answer.version}\u0000${answer.status}`;
    let child = this.children.get(key);
    if (!child) {
      const labels = { model: answer.model, version: answer.version };
      child = {
        requests: this.requests.labels({ ...labels, code: String(answer.status) }),
        duration: this.duration.labels(labels),
        queue: this.queue.labels(labels),
        batch: this.batch.labels(labels),
      };
      this.children.set(key, child);
    }
    child.requests.inc();
    child.duration.observe(answer.latencyMs / 1000);
    this.total++;
    if (answer.status >= 400) this.errors++;
    if (answer.queueMs !== undefined) child.queue.observe(answer.queueMs / 1000);
    if (answer.batchRows !== undefined && answer.batchRows > 0) {
      child.batch.observe(answer.batchRows);
      // A request of r rows in a run of B rows is r/B of that run: summing those counts the runs.
      const rows = answer.rows ?? 1;
      this.windowRows += rows;
      this.windowRuns += rows / answer.batchRows;
    }
    const n = this.windowCount++;
    if (n < WINDOW_SAMPLES) {
      this.window[n] = answer.latencyMs;
    } else {
      // Reservoir sampling keeps a uniform sample of the second's latencies in fixed memory.
      const at = Math.floor(Math.random() * (n + 1));
      if (at < WINDOW_SAMPLES) this.window[at] = answer.latencyMs;
    }
  }

  /** The last second's traffic (since the previous call), and a fresh window for the next. */
  takeStats(seconds = 1, now = new Date()): EndpointStats {
    const kept = Math.min(this.windowCount, WINDOW_SAMPLES);
    const sorted = this.window.slice(0, kept).sort();
    const at = (q: number): number | null => (kept === 0 ? null : round(sorted[Math.min(kept - 1, Math.floor(q * kept))]));
    const stats: EndpointStats = {
      time: now.toISOString(),
      requests: this.total,
      errors: this.errors,
      rps: round(this.windowCount / seconds),
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      in_flight: this.inFlightCount,
      mean_batch: this.windowRuns > 0 ? round(this.windowRows / this.windowRuns) : null,
    };
    this.windowCount = 0;
    this.windowRows = 0;
    this.windowRuns = 0;
    return stats;
  }
}

const round = (value: number): number => Math.round(value * 1000) / 1000;
