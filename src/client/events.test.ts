import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { EventStreamEnded, EventStreamParser, followEvents, type LiveEvent, type LiveEventSource, type QualityEvent } from './events';

const RUN_ID = '6f1c2c4e-5a3b-4c1d-9e8f-0a1b2c3d4e5f';

describe('EventStreamParser', () => {
  it('reads fields, comments, multi-line data, ids and retry by the WHATWG rules', () => {
    const parser = new EventStreamParser();
    const text = ': hello\r\nretry: 1500\r\nid: 7\r\nevent: run\r\ndata: {"a":\r\ndata:1}\r\n\r\ndata:plain\nunknown: x\n\nevent: lonely\n\n';
    expect(parser.push(text)).toEqual([
      { event: 'run', data: '{"a":\n1}', lastEventId: '7' },
      { event: 'message', data: 'plain', lastEventId: '7' },
    ]);
    expect(parser.retryMs).toBe(1500);
  });

  it('gives the same messages however the text is cut into chunks (CRLF split included)', () => {
    const text = 'id: 1\r\nevent: metrics\r\ndata: {"x":1}\r\n\r\n: keep-alive\r\r\nid: 2\revent: run\rdata: a\rdata: b\r\r';
    const whole = new EventStreamParser().push(text);
    expect(whole).toHaveLength(2);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const parser = new EventStreamParser();
        const points = [...new Set([0, ...cuts, text.length])].sort((a, b) => a - b);
        const messages = points.slice(1).flatMap((end, i) => parser.push(text.slice(points[i], end)));
        expect(messages).toEqual(whole);
      }),
    );
  });
});

describe('followEvents against a real HTTP server', () => {
  let server: Server;
  let base: string;
  /** What each successive connection is answered: a status and the text of the stream. */
  let script: { status: number; text: string; keepOpen?: boolean }[];
  let connections = 0;
  const open = new Set<ServerResponse>();

  beforeEach(async () => {
    connections = 0;
    script = [];
    server = createServer((_request, response) => {
      const step = script[Math.min(connections, script.length - 1)];
      connections += 1;
      response.writeHead(step.status, { 'Content-Type': step.status === 200 ? 'text/event-stream' : 'application/json' });
      if (step.keepOpen) {
        response.write(step.text);
        open.add(response);
        response.on('close', () => open.delete(response));
      } else {
        response.end(step.text);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  });
  afterEach(async () => {
    for (const response of open) response.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A source over the global fetch that refuses a non-200 answer, as the client does. */
  const source: LiveEventSource = {
    async openEventStream(signal) {
      const response = await fetch(base, { signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.body!;
    },
  };

  it('types run and metrics events, skips others, and reconnects with backoff after failures and ends', async () => {
    const run = `id: 1\nevent: run\ndata: {"id":"${RUN_ID}"}\n\nevent: other\ndata: {}\n\n`;
    const metrics = `id: 2\nevent: metrics\ndata: {"run_id":"${RUN_ID}","keys":["loss"],"last_step":3,"count":4}\n\n`;
    script = [
      { status: 503, text: '{}' },
      { status: 503, text: '{}' },
      { status: 200, text: run },
      { status: 200, text: metrics, keepOpen: true },
    ];
    const events: LiveEvent[] = [];
    const errors: { error: unknown; retryMs: number }[] = [];
    let opens = 0;
    const followed = followEvents(source, {
      onEvent: (event) => events.push(event),
      onOpen: () => (opens += 1),
      onError: (error, retryMs) => errors.push({ error, retryMs }),
      minRetryMs: 20,
      maxRetryMs: 35,
    });
    const deadline = Date.now() + 5000;
    while (events.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    followed.close();
    await followed.closed;

    expect(events).toEqual([
      { type: 'run', id: '1', data: { id: RUN_ID } },
      { type: 'metrics', id: '2', data: { run_id: RUN_ID, keys: ['loss'], last_step: 3, count: 4 } },
    ]);
    expect(opens).toBe(2);
    expect(connections).toBe(4);
    // Two refusals (the wait doubling, up to its cap), then a stream that ended, waited for at the floor.
    expect(errors.map((e) => e.retryMs)).toEqual([20, 35, 20]);
    expect(errors[2].error).toBeInstanceOf(EventStreamEnded);
  });

  it('hands quality progress to onQuality only, and skips it for a follower without one', async () => {
    const quality = 'id: 5\nevent: quality\ndata: {"job_id":"j1","phase":"scan","done":0,"total":1}\n\n';
    const metrics = `id: 6\nevent: metrics\ndata: {"run_id":"${RUN_ID}","keys":["loss"],"last_step":3,"count":4}\n\n`;
    const follow = async (withQuality: boolean): Promise<unknown[]> => {
      script = [{ status: 200, text: quality + metrics, keepOpen: true }];
      const seen: unknown[] = [];
      const followed = followEvents(source, {
        onEvent: (event) => seen.push(event.type),
        ...(withQuality ? { onQuality: (event: QualityEvent) => seen.push(event) } : {}),
      });
      const deadline = Date.now() + 5000;
      while (!seen.includes('metrics') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      followed.close();
      await followed.closed;
      return seen;
    };
    expect(await follow(true)).toEqual([{ type: 'quality', id: '5', data: { job_id: 'j1', phase: 'scan', done: 0, total: 1 } }, 'metrics']);
    expect(await follow(false)).toEqual(['metrics']);
  });

  it('stops when its signal aborts, closing the open stream', async () => {
    script = [{ status: 200, text: ': connected\n\n', keepOpen: true }];
    const abort = new AbortController();
    let opens = 0;
    const followed = followEvents(source, { onEvent: () => undefined, onOpen: () => (opens += 1), signal: abort.signal });
    const deadline = Date.now() + 5000;
    while (opens === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(open.size).toBe(1);
    abort.abort();
    await followed.closed;
    while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(open.size).toBe(0);
    expect(opens).toBe(1);
  });
});
