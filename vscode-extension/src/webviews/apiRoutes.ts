import { openapiDocument } from '@opsbook/schema';

/** One operation of openapi.json as the host matches forwarded calls against it. */
interface Route {
  method: string;
  pattern: RegExp;
  query: ReadonlySet<string>;
}

/** Operations a webview may not ask for through the host: the event stream comes as `event` messages. */
const NOT_FORWARDED = new Set(['streamEvents']);

type Operation = { operationId?: string; parameters?: readonly { name: string; in: string }[] };

const ROUTES: readonly Route[] = Object.entries(openapiDocument.paths as unknown as Record<string, Record<string, Operation>>).flatMap(
  ([template, operations]) =>
    Object.entries(operations)
      .filter(([, operation]) => !NOT_FORWARDED.has(operation.operationId ?? ''))
      .map(([method, operation]) => ({
        method: method.toUpperCase(),
        pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/?#]+')}$`),
        query: new Set((operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)),
      })),
);

/**
 * Whether a call a webview or the renderer asks the host to make is an operation of the core API:
 * its method and path match an operation's template, each path segment is a plain encoded value
 * (no `.`/`..` segment, no encoded `/`, `?` or `#`), and it names only query parameters the operation
 * lists. Everything else is refused before it reaches the daemon.
 * @returns null when allowed, else why not.
 */
export function refuseApiCall(method: string, pathAndQuery: string): string | null {
  const queryAt = pathAndQuery.indexOf('?');
  const path = queryAt < 0 ? pathAndQuery : pathAndQuery.slice(0, queryAt);
  const search = queryAt < 0 ? '' : pathAndQuery.slice(queryAt + 1);
  const segments = path.split('/').slice(1);
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return `path segment ${JSON.stringify(segment)} is not valid percent-encoding`;
    }
    if (decoded === '.' || decoded === '..' || /[/?#\\]/.test(decoded)) return `path segment ${JSON.stringify(segment)} is not allowed`;
  }
  // `/models/resolve` also matches `/models/{name}`: the call is allowed when one matching operation takes its query.
  const routes = ROUTES.filter((candidate) => candidate.method === method && candidate.pattern.test(path));
  if (routes.length === 0) return `${method} ${path} is not an operation of the Opsbook API`;
  const names = [...new URLSearchParams(search).keys()];
  const unknown = names.find((name) => !routes.some((route) => route.query.has(name)));
  if (unknown !== undefined) return `query parameter ${JSON.stringify(unknown)} is not one of ${method} ${path}`;
  return null;
}
