import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { SchemaValidator } from '@opsbook/schema';
import { createToken } from './auth';
import { Router, type OpenApiDocument } from './router';
import { createApiServer } from './server';

const validator = new SchemaValidator();

const document: OpenApiDocument = {
  servers: [{ url: '/api/v1' }],
  paths: {
    '/boom': { get: { operationId: 'boom', responses: { '200': {} } } },
    '/wrong': { get: { operationId: 'wrong', responses: { '200': { content: { 'application/json': { schema: { $ref: 'metrics-accepted.schema.json' } } } } } } },
  },
};

describe('createApiServer', () => {
  const token = createToken();
  const logged: string[] = [];
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createApiServer({
      router: new Router(document),
      handlers: {
        boom: () => Promise.reject(new Error('database exploded at /secret/path')),
        wrong: () => Promise.resolve({ accepted: -1 }),
      },
      token,
      port: () => port,
      validateResponses: true,
      log: (line) => logged.push(line),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = (path: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${port}/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });

  it('answers an unexpected failure with a generic 500 and logs it without the token', async () => {
    const response = await get('/boom');
    expect(response.status).toBe(500);
    const body: unknown = await response.json();
    expect(validator.check('error.schema.json', body)).toBeNull();
    expect(JSON.stringify(body)).not.toContain('secret');
    expect(logged.join('\n')).toContain('database exploded');
    expect(logged.join('\n')).not.toContain(token);
  });

  it('treats an answer that breaks its response schema as a failure when validating responses', async () => {
    const response = await get('/wrong');
    expect(response.status).toBe(500);
    expect(logged.join('\n')).toMatch(/answer of wrong does not match metrics-accepted\.schema\.json/);
  });

  it('answers 404 outside the base path', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/boom`, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(404);
  });
});
