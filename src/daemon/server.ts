import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { SchemaValidator } from '@opsbook/schema';
import { bearerMatches, hostAllowed } from './auth';
import { HttpError, toErrorAnswer } from './errors';
import { EventStreamAnswer } from './events';
import type { Handler } from './handlers';
import { RawAnswer } from './raw';
import type { Router } from './router';

/** Largest request body accepted (a full 50,000-point metrics batch is about 5 MiB). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface ApiServerOptions {
  router: Router;
  handlers: Record<string, Handler>;
  token: string;
  /** Port the server listens on, for the Host check; read when each request arrives. */
  port: () => number;
  /** Check each success answer against its response schema too (tests turn this on). */
  validateResponses?: boolean;
  /** Where unexpected failures are reported; never given headers or the token. */
  log?: (line: string) => void;
  /**
   * Called with the parsed body of a request its schema refused, before the 400 is sent (the
   * quality operations remove the hand-off files such a body names: no handler will).
   */
  onRefusedBody?: (operationId: string, body: unknown) => void;
}

/**
 * The HTTP pipeline: Host check, bearer token, route, content type, body size and JSON, parameter
 * and body validation, handler, answer. Every error is mapped by `toErrorAnswer`.
 */
export function createApiServer(options: ApiServerOptions): Server {
  const validator = SchemaValidator.shared();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return createServer((request, response) => {
    handle(request, options, validator)
      .then(({ status, body }) => send(response, status, body))
      .catch((error: unknown) => {
        const answer = toErrorAnswer(error);
        if (answer.unexpected !== undefined) {
          const detail = answer.unexpected instanceof Error ? (answer.unexpected.stack ?? answer.unexpected.message) : String(answer.unexpected);
          log(`opsbook daemon: ${request.method ?? '?'} ${pathOf(request.url)} failed: ${detail}`);
        }
        if (answer.status === 413 || (rawBodies.has(request) && !request.readableEnded)) {
          // A body we refused (or did not read to its end) must not be kept coming: answer, then close the connection.
          response.once('finish', () => request.destroy());
          send(response, answer.status, answer.body, { ...answer.headers, Connection: 'close' });
          return;
        }
        send(response, answer.status, answer.body, answer.headers);
      });
  });
}

async function handle(
  request: IncomingMessage,
  options: ApiServerOptions,
  validator: SchemaValidator,
): Promise<{ status: number; body: unknown }> {
  if (!hostAllowed(request.headers.host, options.port())) {
    throw new HttpError(403, 'forbidden', `Host ${JSON.stringify(request.headers.host ?? '')} is not allowed`, 'Host');
  }
  if (!bearerMatches(request.headers.authorization, options.token)) {
    throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token', 'Authorization', undefined, {
      'WWW-Authenticate': 'Bearer',
    });
  }
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const match = options.router.match(request.method ?? 'GET', url.pathname);
  if (match.kind === 'not_found') throw new HttpError(404, 'not_found', `no such path: ${url.pathname}`, 'path', url.pathname);
  if (match.kind === 'method_not_allowed') {
    throw new HttpError(405, 'method_not_allowed', `${request.method ?? '?'} is not allowed on ${url.pathname}`, 'method', request.method, {
      Allow: match.allowed.join(', '),
    });
  }
  const { route } = match;
  const params = route.readParams(match.path, url.searchParams);
  let body: unknown;
  if (route.rawBody) {
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/octet-stream, not ${JSON.stringify(type)}`, 'Content-Type', type);
    }
    // The handler streams the bytes itself (to disk, hashing as they come).
    rawBodies.add(request);
    body = request;
  } else if (route.bodySchema) {
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') {
      throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json, not ${JSON.stringify(type)}`, 'Content-Type', type);
    }
    const text = await readBody(request);
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, 'bad_request', `the body is not JSON: ${(error as Error).message}`, '/');
    }
    try {
      validator.assert(route.bodySchema, body);
    } catch (error) {
      options.onRefusedBody?.(route.operationId, body);
      throw error;
    }
  } else {
    await drain(request);
  }
  const handler = options.handlers[route.operationId];
  if (!handler) throw new Error(`no handler for operation ${route.operationId}`);
  const result = await handler({ params, body });
  if (options.validateResponses && route.success.schema && !(result instanceof RawAnswer)) {
    const issue = validator.check(route.success.schema, result);
    if (issue) throw new Error(`answer of ${route.operationId} does not match ${route.success.schema}: ${issue.message}`);
  }
  return { status: route.success.status, body: result };
}

function readBody(request: IncomingMessage): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    request.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

function drain(request: IncomingMessage): Promise<void> {
  return readBody(request).then(() => undefined);
}

function tooLarge(): HttpError {
  return new HttpError(413, 'payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`, 'body');
}

/** Requests whose body a handler reads as a stream (see `Route.rawBody`). */
const rawBodies = new WeakSet<IncomingMessage>();

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  if (body instanceof EventStreamAnswer) {
    body.open(response);
    return;
  }
  if (body instanceof RawAnswer) {
    response.writeHead(status, {
      ...body.headers,
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    pipeline(body.body, response).catch(() => response.destroy());
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  response.end(text);
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0];
}
