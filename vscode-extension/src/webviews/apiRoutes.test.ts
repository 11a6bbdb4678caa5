/// <reference types="jest" />
import { openapiDocument } from '@opsbook/schema';
import { refuseApiCall } from './apiRoutes';

/** Each operation of openapi.json with its path template filled with plain values. */
function operations(): { method: string; path: string; operationId: string; query: string[] }[] {
  const paths = openapiDocument.paths as unknown as Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string }[] }>>;
  return Object.entries(paths).flatMap(([template, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path: template.replace(/\{([^}]+)\}/g, (_, name: string) => (name === 'version' ? '3' : `a-${name}_1`)),
      operationId: operation.operationId,
      query: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    })),
  );
}

describe('refuseApiCall', () => {
  const forwarded = operations().filter((operation) => operation.operationId !== 'streamEvents');

  it('allows every operation of openapi.json on its own path, with each query parameter it lists', () => {
    expect(forwarded.length).toBeGreaterThan(30);
    for (const { method, path, query } of forwarded) {
      expect([method, path, refuseApiCall(method, path)]).toEqual([method, path, null]);
      const search = new URLSearchParams(query.map((name): [string, string] => [name, 'x'])).toString();
      if (search) expect([method, path, search, refuseApiCall(method, `${path}?${search}`)]).toEqual([method, path, search, null]);
    }
  });

  it('allows encoded values in path segments and queries', () => {
    expect(refuseApiCall('GET', '/models/my%20model/versions/2')).toBeNull();
    expect(refuseApiCall('GET', `/runs?filter=${encodeURIComponent("experiment = 'a/b'")}&limit=5`)).toBeNull();
    expect(refuseApiCall('GET', '/models/resolve?ref=models%3A%2Firis%40prod')).toBeNull();
  });

  it('allows the deploy operations the deploy panel and outputs call', () => {
    for (const [method, path] of [
      ['POST', '/deploy/plan'],
      ['POST', '/deploy'],
      ['GET', '/deploy/contexts'],
      ['GET', '/deployments?live=true'],
      ['GET', '/deployments/churn?namespace=ml&context=kind-ml'],
      ['POST', '/deployments/churn/promote'],
      ['POST', '/deployments/churn/rollback'],
      ['DELETE', '/deployments/churn?namespace=ml'],
    ]) {
      expect([method, path, refuseApiCall(method, path)]).toEqual([method, path, null]);
    }
    expect(refuseApiCall('PUT', '/deployments/churn')).toMatch(/not an operation/);
    expect(refuseApiCall('POST', '/deployments/churn/scale')).toMatch(/not an operation/);
  });

  it('refuses the event stream: events reach webviews as event messages', () => {
    expect(refuseApiCall('GET', '/events')).toMatch(/not an operation/);
  });

  it('refuses paths outside the API and wrong methods', () => {
    expect(refuseApiCall('GET', '/')).toMatch(/not an operation/);
    expect(refuseApiCall('GET', '/admin')).toMatch(/not an operation/);
    expect(refuseApiCall('GET', '/runs/a/b/c')).toMatch(/not an operation/);
    expect(refuseApiCall('DELETE', '/runs/abc')).toMatch(/DELETE \/runs\/abc is not an operation/);
    expect(refuseApiCall('PUT', '/health')).toMatch(/not an operation/);
    expect(refuseApiCall('POST', '/serve/endpoints')).toMatch(/not an operation/);
  });

  it('refuses dot segments and encoded separators that would reach another route', () => {
    expect(refuseApiCall('GET', '/runs/..')).toMatch(/not allowed/);
    expect(refuseApiCall('GET', '/runs/%2e%2e')).toMatch(/not allowed/);
    expect(refuseApiCall('GET', '/models/../health')).toMatch(/not allowed/);
    expect(refuseApiCall('GET', '/models/a%2Fb')).toMatch(/not allowed/);
    expect(refuseApiCall('GET', '/models/a%5Cb')).toMatch(/not allowed/);
    expect(refuseApiCall('GET', '/models/%E0%A4%A')).toMatch(/percent-encoding/);
    expect(refuseApiCall('GET', '/runs/./abc')).toMatch(/not allowed/);
  });

  it('refuses query parameters the operation does not list', () => {
    expect(refuseApiCall('GET', '/runs?token=x')).toMatch(/query parameter "token"/);
    expect(refuseApiCall('GET', '/models/iris?ref=x')).toMatch(/query parameter "ref"/);
    expect(refuseApiCall('GET', '/health?limit=1')).toMatch(/query parameter "limit"/);
  });
});
