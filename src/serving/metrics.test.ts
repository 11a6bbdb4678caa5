import { SchemaValidator } from '@opsbook/schema';
import { ServingMetrics } from './metrics';

const validator = SchemaValidator.shared();

describe('ServingMetrics', () => {
  test('the exposition text names every metric, with labels by model, version and code', async () => {
    const metrics = new ServingMetrics();
    metrics.setDevice('cpu');
    metrics.setModelReady('m', '1', true);
    metrics.setModelReady('b', '1', false);
    metrics.started();
    metrics.answered({ model: 'm', version: '1', status: 200, latencyMs: 0.4, queueMs: 0.1, batchRows: 8, rows: 1 });
    metrics.started();
    metrics.answered({ model: 'm', version: '1', status: 400, latencyMs: 0.2 });
    metrics.started();
    const text = await metrics.text();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0.0.4/);
    expect(text).toContain('opsbook_requests_total{model="m",version="1",code="200"} 1');
    expect(text).toContain('opsbook_requests_total{model="m",version="1",code="400"} 1');
    expect(text).toContain('opsbook_request_duration_seconds_bucket{le="0.0005",model="m",version="1"} 2');
    expect(text).toContain('opsbook_request_duration_seconds_count{model="m",version="1"} 2');
    expect(text).toContain('opsbook_queue_duration_seconds_count{model="m",version="1"} 1');
    expect(text).toContain('opsbook_batch_size_bucket{le="8",model="m",version="1"} 1');
    expect(text).toContain('opsbook_batch_size_bucket{le="4",model="m",version="1"} 0');
    expect(text).toContain('opsbook_in_flight_requests 1');
    expect(text).toContain('opsbook_model_ready{model="m",version="1"} 1');
    expect(text).toContain('opsbook_model_ready{model="b",version="1"} 0');
    expect(text).toContain('opsbook_device_info{device="cpu"} 1');
    metrics.setDevice('cuda');
    const after = await metrics.text();
    expect(after).toContain('opsbook_device_info{device="cuda"} 1');
    expect(after).not.toContain('opsbook_device_info{device="cpu"}');
  });

  test('stats: rps, p50/p99 and the mean batch of the window; totals since the start', () => {
    const metrics = new ServingMetrics();
    const empty = metrics.takeStats();
    expect(validator.check('endpoint.schema.json#/$defs/EndpointStats', empty)).toBeNull();
    expect(empty).toMatchObject({ requests: 0, errors: 0, rps: 0, p50_ms: null, p99_ms: null, in_flight: 0, mean_batch: null });
    // 100 requests of 1 row, latencies 1..100 ms; they ran 4 to a run except the last 20, alone.
    for (let i = 1; i <= 100; i++) {
      metrics.started();
      metrics.answered({ model: 'm', version: '1', status: i % 10 === 0 ? 400 : 200, latencyMs: i, batchRows: i <= 80 ? 4 : 1, rows: 1 });
    }
    metrics.started();
    const stats = metrics.takeStats(2);
    expect(validator.check('endpoint.schema.json#/$defs/EndpointStats', stats)).toBeNull();
    // 80 requests in 20 runs of 4 and 20 runs of 1: 100 rows in 40 runs.
    expect(stats).toMatchObject({ requests: 100, errors: 10, rps: 50, p50_ms: 51, p99_ms: 100, in_flight: 1, mean_batch: 2.5 });
    const next = metrics.takeStats();
    expect(next).toMatchObject({ requests: 100, errors: 10, rps: 0, p50_ms: null, mean_batch: null, in_flight: 1 });
  });

  test('a busy second keeps a bounded sample of its latencies', () => {
    const metrics = new ServingMetrics();
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      metrics.started();
      metrics.answered({ model: 'm', version: '1', status: 200, latencyMs: i < n / 2 ? 1 : 3 });
    }
    const stats = metrics.takeStats();
    expect(stats.rps).toBe(n);
    expect(stats.p99_ms).toBe(3);
    // Half the latencies are 1 and half 3: the sampled median is one of them.
    expect([1, 3]).toContain(stats.p50_ms);
  });
});
