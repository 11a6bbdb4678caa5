import type { DeployProgress, ExplainProgress, MetricsEvent, QualityProgress, Run, ServeEvent } from '@opsbook/schema';

/** An event of the daemon's live stream (`GET /events`) about runs, its data typed by `event.schema.json`. */
export type LiveEvent = { type: 'run'; id: string; data: Run } | { type: 'metrics'; id: string; data: MetricsEvent };

/** `event: quality` of the live stream: the progress of a quality job that named a job_id. */
export interface QualityEvent {
  type: 'quality';
  id: string;
  data: QualityProgress;
}

/** `event: explain` of the live stream: the progress of an explanation job that named a job_id. */
export interface ExplainEvent {
  type: 'explain';
  id: string;
  data: ExplainProgress;
}

/** `event: serve` of the live stream: an endpoint's status changed, or a second of its traffic passed. */
export interface EndpointEvent {
  type: 'serve';
  id: string;
  data: ServeEvent;
}

/** `event: deploy` of the live stream: a deploy job's progress (apply, rollout). */
export interface DeployEvent {
  type: 'deploy';
  id: string;
  data: DeployProgress;
}

/** The stream ended without an error (the daemon stopped, a proxy closed it); it is opened again. */
export class EventStreamEnded extends Error {
  constructor() {
    super('the event stream ended');
    this.name = 'EventStreamEnded';
  }
}

/** One message of a Server-Sent Events stream, before its data is interpreted. */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the message named none. */
  event: string;
  /** The `data:` lines, joined by newlines. */
  data: string;
  /** The last `id:` seen so far in the stream ('' when none). */
  lastEventId: string;
}

/**
 * Parses the text of an event stream as it arrives, by the WHATWG rules: lines end in CRLF, LF or
 * CR; a blank line dispatches the message; `:` starts a comment; `data` lines accumulate; `id` and
 * `retry` are remembered; unknown fields are ignored. Chunks may split lines (or a CRLF) anywhere.
 */
export class EventStreamParser {
  /** The last valid `retry:` value, in ms. */
  retryMs: number | undefined;
  private buffer = '';
  private data: string[] = [];
  private eventName = '';
  private lastEventId = '';
  /** The previous chunk ended in CR: a LF starting the next one belongs to that line end. */
  private pendingCr = false;

  /** Feeds decoded text; returns the messages it completed. */
  push(text: string): ServerSentEvent[] {
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const messages: ServerSentEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      let next = end + 1;
      if (this.buffer[end] === '\r') {
        if (end + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer[end + 1] === '\n') next = end + 2;
      }
      this.buffer = this.buffer.slice(next);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.eventName = '';
        return undefined;
      }
      const message = { event: this.eventName || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId };
      this.data = [];
      this.eventName = '';
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}

/** Opens the stream: {@link OpsbookClient.openEventStream} does, through the client's fetch and auth. */
export interface LiveEventSource {
  openEventStream(signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

export interface FollowEventsOptions {
  /** Each event about runs, in the order the daemon sent them. */
  onEvent(event: LiveEvent): void;
  /** Progress of quality jobs (`event: quality`); without it those events are skipped. */
  onQuality?(event: QualityEvent): void;
  /** Progress of explanation jobs (`event: explain`); without it those events are skipped. */
  onExplain?(event: ExplainEvent): void;
  /** Endpoints' status changes and traffic (`event: serve`); without it those events are skipped. */
  onServe?(event: EndpointEvent): void;
  /** Progress of deploy jobs (`event: deploy`); without it those events are skipped. */
  onDeploy?(event: DeployEvent): void;
  /**
   * The stream is open (again). Events sent while it was closed are lost, so a view reads what it
   * shows afresh here (the first time too, to close the gap between its first read and the stream).
   */
  onOpen?(): void;
  /** The stream could not be opened, failed, or ended ({@link EventStreamEnded}); it is opened again after `retryMs`. */
  onError?(error: unknown, retryMs: number): void;
  /** Ends following, as {@link FollowedEvents.close} does. */
  signal?: AbortSignal;
  /** First wait before reconnecting (default 1 s, or the stream's `retry:`); doubles up to `maxRetryMs`. */
  minRetryMs?: number;
  /** Longest wait before reconnecting (default 30 s). */
  maxRetryMs?: number;
}

/** A stream being followed. */
export interface FollowedEvents {
  /** Stops following: aborts the open request and any wait. */
  close(): void;
  /** Settles once following has stopped (never rejects). */
  readonly closed: Promise<void>;
}

/**
 * Follows the daemon's live events over the standard fetch (a `ReadableStream` decoded with
 * `TextDecoder`), so it runs in browsers, webviews and Node alike. When the stream fails or ends it
 * is opened again after a backoff (1 s doubling to 30 s, reset once a stream opens). Messages of
 * other names, and data that is not JSON, are skipped (the latter reported through `onError`).
 */
export function followEvents(source: LiveEventSource, options: FollowEventsOptions): FollowedEvents {
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  if (options.signal?.aborted) stop.abort();
  else options.signal?.addEventListener('abort', abort, { once: true });
  const minRetryMs = options.minRetryMs ?? 1000;
  const maxRetryMs = options.maxRetryMs ?? 30_000;

  const closed = (async () => {
    let failures = 0;
    let retryMs = minRetryMs;
    while (!stop.signal.aborted) {
      const parser = new EventStreamParser();
      let failure: unknown = new EventStreamEnded();
      try {
        const stream = await source.openEventStream(stop.signal);
        failures = 0;
        options.onOpen?.();
        await readStream(stream, parser, stop.signal, options);
      } catch (error) {
        failure = error;
        failures += 1;
      }
      if (parser.retryMs !== undefined) retryMs = Math.max(parser.retryMs, minRetryMs);
      if (stop.signal.aborted) break;
      const wait = Math.min(maxRetryMs, retryMs * 2 ** Math.max(0, failures - 1));
      options.onError?.(failure, wait);
      await sleep(wait, stop.signal);
    }
    options.signal?.removeEventListener('abort', abort);
  })();
  return { close: abort, closed };
}

async function readStream(
  stream: ReadableStream<Uint8Array>,
  parser: EventStreamParser,
  signal: AbortSignal,
  options: FollowEventsOptions,
): Promise<void> {
  const reader = stream.getReader();
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) deliver(message, options);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    reader.releaseLock();
  }
}

function deliver(message: ServerSentEvent, options: FollowEventsOptions): void {
  const wanted =
    message.event === 'run' ||
    message.event === 'metrics' ||
    (message.event === 'quality' && options.onQuality !== undefined) ||
    (message.event === 'explain' && options.onExplain !== undefined) ||
    (message.event === 'serve' && options.onServe !== undefined) ||
    (message.event === 'deploy' && options.onDeploy !== undefined);
  if (!wanted) return;
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch (error) {
    options.onError?.(new Error(`event ${message.event} ${message.lastEventId} has data that is not JSON: ${String(error)}`), 0);
    return;
  }
  try {
    if (message.event === 'quality') options.onQuality?.({ type: 'quality', id: message.lastEventId, data: data as QualityProgress });
    else if (message.event === 'explain') options.onExplain?.({ type: 'explain', id: message.lastEventId, data: data as ExplainProgress });
    else if (message.event === 'serve') options.onServe?.({ type: 'serve', id: message.lastEventId, data: data as ServeEvent });
    else if (message.event === 'deploy') options.onDeploy?.({ type: 'deploy', id: message.lastEventId, data: data as DeployProgress });
    else options.onEvent({ type: message.event, id: message.lastEventId, data } as LiveEvent);
  } catch (error) {
    // A listener's failure must not end the stream for the listeners of later events.
    options.onError?.(error, 0);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
