import { OpsbookApiError } from '@opsbook/core/client';
import type { HostToWebview, WebviewToHost } from '@opsbook/schema';
import { WebviewMessenger, type HostChannel } from './messenger';

/** A channel whose host side the test plays: it records what the webview posts and can answer. */
function channel(): HostChannel & { posted: unknown[]; deliver(message: unknown): void; listeners: number } {
  const handlers = new Set<(message: unknown) => void>();
  return {
    posted: [],
    post(message) {
      this.posted.push(message);
    },
    listen(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    deliver(message) {
      for (const handler of handlers) handler(message);
    },
    get listeners() {
      return handlers.size;
    },
  };
}

const RUN_ID = '3f1c2b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69';

describe('WebviewMessenger', () => {
  it('hands valid host messages to its handlers', () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const seen: HostToWebview[] = [];
    messenger.onMessage((message) => seen.push(message));
    host.deliver({ type: 'init', view: { kind: 'run', run_id: RUN_ID }, theme: 'dark' });
    host.deliver({ type: 'theme', theme: 'high-contrast-light' });
    expect(seen).toEqual([
      { type: 'init', view: { kind: 'run', run_id: RUN_ID }, theme: 'dark' },
      { type: 'theme', theme: 'high-contrast-light' },
    ]);
    expect(host.posted).toEqual([]);
  });

  it('passes live events with timestamps (formats are compiled into the validators)', () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const seen: HostToWebview[] = [];
    messenger.onMessage((message) => seen.push(message));
    const run = {
      id: RUN_ID,
      experiment_id: 'e1',
      experiment: 'iris',
      name: 'baseline',
      status: 'running',
      start_time: '2026-11-23T14:00:00.000Z',
      end_time: null,
      duration_ms: null,
      source_type: 'api',
      metrics_latest: {},
      params: {},
      tags: {},
      starred: false,
      notes: '',
      deleted: false,
      child_count: 0,
      parent_run_id: null,
    };
    host.deliver({ type: 'event', name: 'run', data: run });
    host.deliver({ type: 'event', name: 'run', data: { ...run, start_time: 'yesterday' } });
    expect(seen).toEqual([{ type: 'event', name: 'run', data: run }]);
    expect(host.posted).toEqual([{ type: 'log', level: 'error', message: expect.stringMatching(/^webview dropped an invalid message/) }]);
  });

  it('drops invalid host messages and reports each to the host as a log', () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const seen: HostToWebview[] = [];
    messenger.onMessage((message) => seen.push(message));
    host.deliver({ type: 'init', view: { kind: 'run', run_id: 'not-a-uuid' }, theme: 'dark' });
    host.deliver({ type: 'theme', theme: 'sepia' });
    host.deliver({ type: 'response', id: -1, status: 200, body: null });
    host.deliver('init');
    expect(seen).toEqual([]);
    expect(host.posted).toHaveLength(4);
    for (const log of host.posted) {
      expect(log).toMatchObject({ type: 'log', level: 'error', message: expect.stringMatching(/^webview dropped an invalid message: /) });
    }
  });

  it('checks what it sends: a message outside WebviewToHost is a bug and throws', () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    messenger.send({ type: 'open', view: { kind: 'compare', run_ids: [RUN_ID, '4f1c2b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69'] } });
    expect(() => messenger.send({ type: 'open', view: { kind: 'compare', run_ids: [RUN_ID] } } as unknown as WebviewToHost)).toThrow(/invalid message to the host/);
    expect(() => messenger.send({ type: 'log', level: 'debug', message: 'x' } as unknown as WebviewToHost)).toThrow(/invalid message/);
    expect(host.posted).toHaveLength(1);
  });

  it('turns each client call into a request message and its response into the answer', async () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const client = messenger.client();
    const runs = client.listRuns({ experiment: 'iris', limit: 5 });
    const created = client.createRun({ experiment: 'iris', name: 'first' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(host.posted).toEqual([
      { type: 'request', id: 1, method: 'GET', path: '/runs?experiment=iris&limit=5' },
      { type: 'request', id: 2, method: 'POST', path: '/runs', body: { experiment: 'iris', name: 'first' } },
    ]);
    // Answers may come in any order: each goes to the call with its id.
    host.deliver({ type: 'response', id: 2, status: 201, body: { id: RUN_ID } });
    host.deliver({ type: 'response', id: 1, status: 200, body: { runs: [], total: 0 } });
    await expect(runs).resolves.toEqual({ runs: [], total: 0 });
    await expect(created).resolves.toEqual({ id: RUN_ID });
  });

  it('raises the API error of a refused call, and says unavailable when the daemon is not there', async () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const client = messenger.client();
    const missing = client.getRun(RUN_ID);
    const health = client.health();
    await new Promise((resolve) => setTimeout(resolve, 0));
    host.deliver({ type: 'response', id: 1, status: 404, body: { error: { code: 'not_found', message: `run ${RUN_ID} not found` } } });
    host.deliver({ type: 'response', id: 2, status: 0, body: { error: { code: 'unavailable', message: 'the daemon did not start' } } });
    await expect(missing).rejects.toBeInstanceOf(OpsbookApiError);
    await expect(missing).rejects.toThrow(/not found/);
    await expect(health).rejects.toThrow(/the daemon did not start/);
  });

  it("gives a non-JSON answer's content as the response's bytes with its media type", async () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const content = messenger.client().artifactContent(RUN_ID, 'figures/parity.png');
    await new Promise((resolve) => setTimeout(resolve, 0));
    host.deliver({ type: 'response', id: 1, status: 200, body: null, content: { media_type: 'image/png', base64: 'iVBORw0KGgo=' } });
    const blob = await content;
    expect(blob.type).toBe('image/png');
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it('answers pending calls as unavailable when disposed, and stops listening', async () => {
    const host = channel();
    const messenger = new WebviewMessenger(host);
    const pending = messenger.client().listModels();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(host.listeners).toBe(1);
    messenger.dispose();
    expect(host.listeners).toBe(0);
    await expect(pending).rejects.toThrow(/the view was closed/);
  });
});
