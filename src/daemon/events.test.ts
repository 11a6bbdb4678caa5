import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { followEvents, type LiveEvent } from '../client/events';
import { Store } from '../store/store';
import { RunStore } from '../tracking/run-store';
import { startDaemon, type RunningDaemon } from './daemon';
import { EventHub } from './events';
import { until as untilWithin } from './testing';

const validator = new SchemaValidator();

/** Waits until `check` holds, polling every 20 ms; fails after `ms`. */
const until = (check: () => boolean, ms = 5000): Promise<void> => untilWithin(check, ms);


/** Follows a daemon's stream with the browser-safe client, recording what arrives. */
function listen(client: OpsbookClient): { events: LiveEvent[]; opened: () => number; close: () => Promise<void> } {
  const events: LiveEvent[] = [];
  let opens = 0;
  const followed = followEvents(client, { onEvent: (event) => events.push(event), onOpen: () => (opens += 1), minRetryMs: 50 });
  return {
    events,
    opened: () => opens,
    close: async () => {
      followed.close();
      await followed.closed;
    },
  };
}

describe('GET /events on a real daemon', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;

  beforeEach(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-events-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-events-runtime-'));
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, heartbeatTimeoutMs: 300 });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
  });
  afterEach(async () => {
    await daemon.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('refuses a stream without the token or from another Host, as every route', async () => {
    const anonymous = await fetch(`${daemon.info.url}/events`);
    expect(anonymous.status).toBe(401);
    const status = await new Promise<number>((resolve, reject) => {
      const sent = httpRequest(
        { host: '127.0.0.1', port: daemon.info.port, path: '/api/v1/events', headers: { Host: 'evil.example', Authorization: `Bearer ${daemon.token}` } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      sent.on('error', reject);
      sent.end();
    });
    expect(status).toBe(403);
  });

  it('sends every client each run as the list gives it, with increasing ids', async () => {
    const first = listen(client);
    const second = listen(client);
    await until(() => first.opened() === 1 && second.opened() === 1);

    const run = await client.createRun({ experiment: 'live', name: 'streamed', params: { lr: '0.1' } });
    await client.updateRun(run.id, { name: 'renamed', tags: { team: 'a' } });
    await client.updateRun(run.id, { status: 'finished' });
    const finished = (e: LiveEvent): boolean => e.type === 'run' && e.data.status === 'finished';
    await until(() => first.events.some(finished) && second.events.some(finished));

    const listed = (await client.listRuns({ experiment: 'live' })).runs[0];
    for (const { events } of [first, second]) {
      for (const event of events) expect(validator.check('event.schema.json', event.data)).toBeNull();
      expect(events.filter((e) => e.type === 'run').every((e) => e.data.id === run.id)).toBe(true);
      expect(events[events.length - 1].data).toEqual(listed);
      const ids = events.map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
    }
    await Promise.all([first.close(), second.close()]);
  });

  it('folds a burst of metrics batches of a run into few events that add up', async () => {
    const stream = listen(client);
    await until(() => stream.opened() === 1);
    const run = await client.createRun({ experiment: 'live' });
    const batches = 30;
    for (let i = 0; i < batches; i += 1) {
      const key = i % 2 === 0 ? 'loss' : 'acc';
      await client.logMetrics(run.id, [
        { key, value: i, step: 2 * i, timestamp: Date.now() },
        { key, value: i, step: 2 * i + 1, timestamp: Date.now() },
      ]);
    }
    const metrics = (): Extract<LiveEvent, { type: 'metrics' }>['data'][] =>
      stream.events.flatMap((e) => (e.type === 'metrics' ? [e.data] : []));
    await until(() => metrics().reduce((sum, m) => sum + m.count, 0) === 2 * batches);
    expect(metrics().length).toBeLessThan(batches);
    expect(metrics().every((m) => m.run_id === run.id)).toBe(true);
    expect([...new Set(metrics().flatMap((m) => m.keys))].sort()).toEqual(['acc', 'loss']);
    expect(metrics()[metrics().length - 1].last_step).toBe(2 * batches - 1);
    await stream.close();
  });

  it('tells of a run the supervisor kills for want of heartbeats', async () => {
    const stream = listen(client);
    await until(() => stream.opened() === 1);
    const run = await client.createRun({ experiment: 'live', heartbeat: true });
    await until(() => stream.events.some((e) => e.type === 'run' && e.data.id === run.id && e.data.status === 'killed'));
    await stream.close();
  });

  it('ends its streams when the daemon stops, at once rather than after the grace period', async () => {
    const response = await fetch(`${daemon.info.url}/events`, { headers: { Authorization: `Bearer ${daemon.token}` } });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = response.body!.getReader();
    await reader.read();
    const started = Date.now();
    await daemon.close();
    expect(Date.now() - started).toBeLessThan(2000);
    let done = false;
    while (!done) done = (await reader.read()).done;
  });
});

describe('EventHub', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;
  let hub: EventHub;
  let server: Server;
  let url: string;

  beforeEach(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-hub-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
    hub = new EventHub(runs, { keepAliveMs: 50 });
    // A bare server hands every request to the hub: the daemon's auth is tested above.
    server = createServer((_request, response) => hub.attach(response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterEach(async () => {
    await hub.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('keeps an idle stream alive with comments, and forgets a client that leaves', async () => {
    const abort = new AbortController();
    const response = await fetch(url, { signal: abort.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/: keep-alive/g) ?? []).length < 2) text += decoder.decode((await reader.read()).value);
    expect(text.startsWith('retry: 2000\n: connected\n\n')).toBe(true);
    expect(text).not.toContain('event:');
    expect(hub.clientCount).toBe(1);
    abort.abort();
    await until(() => hub.clientCount === 0);
  });

  it('reads nothing for changes while no stream is open', async () => {
    const read = jest.spyOn(runs, 'listItem');
    await runs.createRun({ id: randomUUID() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(read).not.toHaveBeenCalled();
  });
});
