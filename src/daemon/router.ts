import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { SchemaError, type SchemaName } from '@opsbook/schema';

/** The parts of an OpenAPI 3.1 document the router reads. */
export interface OpenApiDocument {
  servers?: readonly { url: string }[];
  paths: Record<string, Record<string, OpenApiOperation | undefined>>;
}

interface OpenApiOperation {
  operationId: string;
  parameters?: readonly OpenApiParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: { $ref: string } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }>;
}

interface OpenApiParameter {
  name: string;
  in: string;
  required?: boolean;
  style?: string;
  explode?: boolean;
  schema: Record<string, unknown> & { type?: string };
}

/** One operation of the document, ready to serve. */
export interface Route {
  operationId: string;
  method: string;
  template: string;
  /** Schema file of the JSON body, when the operation takes one. */
  bodySchema?: SchemaName;
  /** True when the body is raw bytes (`application/octet-stream`): the handler reads the request stream itself. */
  rawBody?: boolean;
  /** Status and schema file of the success answer. */
  success: { status: number; schema?: SchemaName };
  /** Validates and coerces path and query parameters into one object. */
  readParams(path: Record<string, string>, query: URLSearchParams): Record<string, unknown>;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; path: Record<string, string> }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allowed: string[] };

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface CompiledTemplate {
  template: string;
  pattern: RegExp;
  names: string[];
  routes: Map<string, Route>;
}

/**
 * Maps request paths and methods to the operations of an OpenAPI document: the document, not code,
 * says which routes exist, which parameters they take and which schema their body has.
 */
export class Router {
  readonly basePath: string;
  private readonly templates: CompiledTemplate[] = [];
  private readonly ajv = new Ajv2020({ strict: false, coerceTypes: false });

  /** @throws Error when the document uses a parameter style the router does not serve. */
  constructor(document: OpenApiDocument) {
    addFormats(this.ajv);
    this.basePath = (document.servers?.[0]?.url ?? '').replace(/\/$/, '');
    for (const [template, item] of Object.entries(document.paths)) {
      const names: string[] = [];
      const source = template
        .split('/')
        .map((part) => {
          const param = /^\{(\w+)\}$/.exec(part);
          if (!param) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(param[1]);
          return '([^/]+)';
        })
        .join('/');
      const routes = new Map<string, Route>();
      for (const method of METHODS) {
        const operation = item[method];
        if (operation) routes.set(method.toUpperCase(), this.compile(method.toUpperCase(), template, operation));
      }
      this.templates.push({ template, pattern: new RegExp(`^${source}$`), names, routes });
    }
  }

  /** Finds the operation for a method and a path below the base path (`/api/v1`). */
  match(method: string, pathname: string): RouteMatch {
    if (!pathname.startsWith(`${this.basePath}/`)) return { kind: 'not_found' };
    const rest = pathname.slice(this.basePath.length);
    for (const { pattern, names, routes } of this.templates) {
      const found = pattern.exec(rest);
      if (!found) continue;
      const route = routes.get(method.toUpperCase());
      if (!route) return { kind: 'method_not_allowed', allowed: [...routes.keys()] };
      const path: Record<string, string> = {};
      try {
        names.forEach((name, i) => (path[name] = decodeURIComponent(found[i + 1])));
      } catch {
        return { kind: 'not_found' };
      }
      return { kind: 'found', route, path };
    }
    return { kind: 'not_found' };
  }

  private compile(method: string, template: string, operation: OpenApiOperation): Route {
    const checks = (operation.parameters ?? []).map((parameter) => {
      if (parameter.in !== 'path' && parameter.in !== 'query') {
        throw new Error(`${operation.operationId}: parameters in ${parameter.in} are not served`);
      }
      if (parameter.schema.type === 'array' && (parameter.style !== 'form' || parameter.explode !== false)) {
        throw new Error(`${operation.operationId}: array parameter ${parameter.name} must be style form, explode false (comma-separated)`);
      }
      return { parameter, validate: this.ajv.compile(parameter.schema) };
    });
    const bodyRef = operation.requestBody?.content['application/json']?.schema.$ref;
    const [status, response] = Object.entries(operation.responses).find(([code]) => code.startsWith('2')) ?? ['200', {}];
    const responseRef = response.content?.['application/json']?.schema.$ref;
    return {
      operationId: operation.operationId,
      method,
      template,
      bodySchema: bodyRef as SchemaName | undefined,
      rawBody: operation.requestBody?.content['application/octet-stream'] !== undefined,
      success: { status: Number(status), schema: responseRef as SchemaName | undefined },
      readParams: (path, query) => {
        const known = new Set(checks.map((c) => c.parameter.name));
        for (const name of query.keys()) {
          if (!known.has(name)) throw paramError(name, query.get(name), `query parameter ${name} is not accepted`);
        }
        const values: Record<string, unknown> = {};
        for (const { parameter, validate } of checks) {
          const raw = parameter.in === 'path' ? path[parameter.name] : query.get(parameter.name) ?? undefined;
          if (raw === undefined) {
            if (parameter.required) throw paramError(parameter.name, undefined, `${parameter.name} is required`);
            if (parameter.schema.default !== undefined) values[parameter.name] = parameter.schema.default;
            continue;
          }
          const value = coerce(parameter, raw);
          check(parameter.name, raw, value, validate);
          values[parameter.name] = value;
        }
        return values;
      },
    };
  }
}

function coerce(parameter: OpenApiParameter, raw: string): unknown {
  // The only array style served: `form` without explode, the values comma-separated (`runs=ID,ID`).
  if (parameter.schema.type === 'array') return raw === '' ? [] : raw.split(',');
  if (parameter.schema.type === 'integer') {
    if (!/^-?\d+$/.test(raw)) throw paramError(parameter.name, raw, `${parameter.name} must be an integer: ${JSON.stringify(raw)}`);
    return Number(raw);
  }
  if (parameter.schema.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw paramError(parameter.name, raw, `${parameter.name} must be true or false: ${JSON.stringify(raw)}`);
    return raw === 'true';
  }
  return raw;
}

function check(name: string, raw: string, value: unknown, validate: ValidateFunction): void {
  if (validate(value)) return;
  const [first] = validate.errors ?? [];
  let what = first?.message ?? 'is invalid';
  if (first?.keyword === 'enum') {
    what = `must be one of ${(first.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  throw paramError(name, raw, `${name} ${what}: ${JSON.stringify(raw.length > 120 ? `${raw.slice(0, 120)}…` : raw)}`);
}

function paramError(name: string, value: unknown, message: string): SchemaError {
  return new SchemaError('openapi.json', { field: name, message, value });
}
