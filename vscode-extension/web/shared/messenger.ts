import { OpsbookClient } from '@opsbook/core/client';
import type { HostToWebview, WebviewToHost } from '@opsbook/schema';
import { checkValue } from './validate';

/** Where the host is: a webview's `acquireVsCodeApi()`, or a notebook renderer's context. */
export interface HostChannel {
  /** Sends one message to the extension host. */
  post(message: unknown): void;
  /** Calls `handler` with each message from the host; returns the unsubscribe. */
  listen(handler: (message: unknown) => void): () => void;
}

/** A `response` as the messenger hands it to the waiting call. */
type Answer = { status: number; body: unknown; content?: { media_type: string; base64: string } };

/** The base URL the webview's client asks: the host maps its paths to the daemon's API. */
const API_BASE = 'https://opsbook.invalid/api/v1';

/**
 * The browser half of schema/webview.schema.json: every message from the host is validated before a
 * handler sees it (an invalid one is reported back as `log` and dropped), every message sent is
 * validated too, and {@link client} is an `OpsbookClient` whose requests travel as `request` messages
 * (the webview never holds the daemon's token).
 */
export class WebviewMessenger {
  private readonly handlers = new Set<(message: HostToWebview) => void>();
  private readonly pending = new Map<number, (answer: Answer) => void>();
  private nextId = 1;
  private disposed = false;
  private readonly stopListening: () => void;

  constructor(private readonly channel: HostChannel) {
    this.stopListening = channel.listen((message) => this.receive(message));
  }

  /** Calls `handler` with each valid message of the host but `response`s; returns the unsubscribe. */
  onMessage(handler: (message: HostToWebview) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * Sends a message to the host.
   * @throws Error when the message does not match WebviewToHost (a bug of the caller).
   */
  send(message: WebviewToHost): void {
    const issue = checkValue('WebviewToHost', message);
    if (issue) throw new Error(`invalid message to the host: ${issue}`);
    this.channel.post(message);
  }

  /** An API client over the host: each call is one `request` message and its `response`. */
  client(): OpsbookClient {
    return new OpsbookClient({ baseUrl: API_BASE, fetch: (request) => this.fetch(request) });
  }

  /** Stops listening; pending requests answer status 0. */
  dispose(): void {
    this.disposed = true;
    this.stopListening();
    for (const resolve of this.pending.values()) resolve({ status: 0, body: unavailable('the view was closed') });
    this.pending.clear();
  }

  private async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.slice(new URL(API_BASE).pathname.length) + url.search;
    const text = request.method === 'GET' || request.method === 'DELETE' ? '' : await request.text();
    const id = this.nextId++;
    const answer = await new Promise<Answer>((resolve) => {
      // A closed messenger hears no answers: a view still mounted must not put requests on the channel,
      // whose answers (by id) a newer messenger of the page would take for its own.
      if (this.disposed) {
        resolve({ status: 0, body: unavailable('the view was closed') });
        return;
      }
      this.pending.set(id, resolve);
      this.send({
        type: 'request',
        id,
        method: request.method as 'GET',
        path,
        ...(text ? { body: JSON.parse(text) as unknown } : {}),
      });
    });
    if (answer.content) {
      const bytes = Uint8Array.from(atob(answer.content.base64), (char) => char.charCodeAt(0));
      return new Response(bytes, { status: answer.status, headers: { 'Content-Type': answer.content.media_type } });
    }
    // Status 0 (the daemon is unreachable) is no HTTP status: say 503, as the Jupyter proxy does.
    const status = answer.status === 0 ? 503 : answer.status;
    const body = answer.body === null || status === 204 ? null : JSON.stringify(answer.body);
    return new Response(body, { status, headers: { 'Content-Type': 'application/json' } });
  }

  private receive(message: unknown): void {
    const issue = checkValue('HostToWebview', message);
    if (issue) {
      this.channel.post({ type: 'log', level: 'error', message: `webview dropped an invalid message: ${issue}` });
      return;
    }
    const valid = message as HostToWebview;
    if (valid.type === 'response') {
      const resolve = this.pending.get(valid.id);
      this.pending.delete(valid.id);
      resolve?.({ status: valid.status, body: valid.body, content: valid.content });
      return;
    }
    for (const handler of this.handlers) handler(valid);
  }
}

function unavailable(message: string): unknown {
  return { error: { code: 'unavailable', message } };
}
