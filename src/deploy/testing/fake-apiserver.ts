/**
 * A fake Kubernetes API server for tests: no kube-apiserver can be installed on these machines (none on npm,
 * PyPI or Debian), so Opsbook's deploy code and its UI/CLI tests talk to this one over real HTTP.
 * What it does like the real API: discovery (/version, /api, /apis, /api/v1, /apis/G[/V]) for core v1, apps/v1,
 * autoscaling/v2, policy/v1 and serving.kserve.io/v1beta1; get, list (label and field selectors, limit and
 * continue), watch, create, replace, delete and deletecollection, with garbage collection through ownerReferences;
 * errors as Status objects (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Unauthorized, ...); bearer-token
 * auth; server-side apply with ownership per field and manager (managedFields in the real FieldsV1 form), conflicts,
 * force, removal of fields a manager stops applying, associative lists merged by key, dryRun=All, no-op applies that
 * keep the resourceVersion; merge and strategic-merge patches, PUT and POST as Update operations; a controller loop
 * for the deployment controller and kubelet (ReplicaSets per pod template with revisions, rollback reusing an RS,
 * pods Pending -> Running, Deployment status and conditions, progress deadline, failing images with Warning events)
 * and InferenceService readiness, URL and canary traffic.
 * What it does not: validate against the OpenAPI schemas, run admission (Pod Security included), run containers,
 * step a rollout by maxSurge/maxUnavailable (the new ReplicaSet gets every replica at once; old ones go to 0 once it
 * is available), default more than a few fields, JSON patch, protobuf, tables, authorization, HPA or PDB status,
 * watch history (a watch from an old resourceVersion starts now), status subresource writes, finalizers and graceful
 * deletion (a delete, Foreground included, removes the object and its dependents at once), persistence; an Update
 * without fieldManager is recorded as 'kubectl' (the real API names it after the User-Agent).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as YAML from 'yaml';

export interface FakeApiServerOptions {
  /** ms between controller ticks (rollout simulation); default 50; 0 = no automatic ticks (call tick()). */
  tickMs?: number;
  /** how many ticks a pod takes from created to ready; default 2. */
  readyAfterTicks?: number;
  /** ticks without progress after which an incomplete rollout reports ProgressDeadlineExceeded; default 20. */
  progressDeadlineTicks?: number;
  /** images whose pods never start, with the reason and message their container status and events give ({image} in the message is replaced by the image). */
  failingImages?: { pattern: RegExp; reason: string; message: string }[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
}

type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
interface JsonObject {
  [key: string]: JsonValue | undefined;
}
interface KObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject;
}

interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** a custom resource: list items keep apiVersion and kind, as unstructured objects do. */
  custom?: boolean;
}

const RESOURCES: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'] },
  { group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'] },
  { group: '', version: 'v1', plural: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'] },
  { group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'] },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', singular: 'persistentvolumeclaim', kind: 'PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'] },
  { group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'] },
  { group: 'apps', version: 'v1', plural: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'] },
  { group: 'apps', version: 'v1', plural: 'controllerrevisions', singular: 'controllerrevision', kind: 'ControllerRevision', namespaced: true },
  { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', singular: 'horizontalpodautoscaler', kind: 'HorizontalPodAutoscaler', namespaced: true, shortNames: ['hpa'] },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget', namespaced: true, shortNames: ['pdb'] },
  { group: 'serving.kserve.io', version: 'v1beta1', plural: 'inferenceservices', singular: 'inferenceservice', kind: 'InferenceService', namespaced: true, shortNames: ['isvc'], custom: true },
];
const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const GROUPS = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => `${r.group}/${r.version}`))];

/** Field labels the real API accepts in fieldSelector, per kind (others answer 400 as it does). */
const FIELD_LABELS: Record<string, string[]> = {
  Event: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  Pod: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  Namespace: ['status.phase'],
};

const CONTROLLER_MANAGER = 'kube-controller-manager';
const REVISION = 'deployment.kubernetes.io/revision';
/** The alphabet of the real rand.SafeEncodeString (no vowels, no look-alikes). */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** An error answered as a Status object. */
class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON helpers

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function obj(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function num(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
/** Key-order-independent JSON, for equality and hashing. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
function deepEqual(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}
/** Ensures obj[key] is an object and returns it. */
function child(parent: JsonObject, key: string): JsonObject {
  if (!isObject(parent[key])) parent[key] = {};
  return parent[key] as JsonObject;
}
function now(): string {
  // The API's timestamps have second precision.
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
function safeEncode(text: string): string {
  return [...text].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}
function randomSuffix(length: number): string {
  return [...crypto.randomBytes(length)].map((b) => SAFE_ALPHABET[b % SAFE_ALPHABET.length]).join('');
}

// ---------------------------------------------------------------------------------------------------------------
// Field paths and ownership (server-side apply)
//
// A path is a list of FieldsV1 tokens: `f:<field>` for a map field, `k:<json>` for an item of an associative list
// (named by its key fields). Leaves are scalars, atomic lists and empty maps; list items are nodes of their own
// (the "." of FieldsV1), owned without a value of their own.

type FieldPath = string[];
interface PathEntry {
  path: FieldPath;
  /** the value at a leaf; undefined for a list-item node. */
  value?: JsonValue;
}

/** The keys of the associative lists Opsbook's objects use (the real ones' +listMapKey); other lists are atomic. */
function listKeys(chain: string[]): string[] | undefined {
  const last = chain[chain.length - 1];
  switch (last) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'claims':
      return ['name'];
    case 'volumeMounts':
      return ['mountPath'];
    case 'volumeDevices':
      return ['devicePath'];
    case 'ownerReferences':
      return ['uid'];
    case 'ports':
      return chain.includes('containers') || chain.includes('initContainers') ? ['containerPort', 'protocol'] : ['port', 'protocol'];
    default:
      return undefined;
  }
}
const KEY_DEFAULTS: Record<string, JsonValue> = { protocol: 'TCP' };
/** Maps the real schemas mark atomic (+structType=atomic LabelSelector, +mapType=atomic selectors): owned and replaced whole. */
const ATOMIC_MAPS = new Set(['selector', 'nodeSelector']);

function itemKey(item: JsonValue, keys: string[], chain: string[]): JsonObject {
  const key: JsonObject = {};
  for (const name of keys) {
    const value = isObject(item) ? item[name] : undefined;
    if (value !== undefined && value !== null) key[name] = value;
    else if (KEY_DEFAULTS[name] !== undefined) key[name] = KEY_DEFAULTS[name];
    else {
      throw new ApiError(500, 'InternalError', `failed to create typed patch object: .${chain.join('.')}: associative list with keys has an element that omits key field "${name}" (and doesn't have default value)`);
    }
  }
  return key;
}
function keyToken(key: JsonObject): string {
  return `k:${JSON.stringify(key)}`;
}

/** The parts of an object that field management tracks: not apiVersion, kind, status or system metadata. */
function managedView(object: JsonObject): JsonObject {
  const view: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'status' || value === undefined) continue;
    if (key === 'metadata') {
      const meta: JsonObject = {};
      for (const field of ['labels', 'annotations', 'ownerReferences', 'finalizers']) {
        if (obj(value)[field] !== undefined) meta[field] = obj(value)[field];
      }
      if (Object.keys(meta).length > 0) view.metadata = meta;
      continue;
    }
    view[key] = value;
  }
  return view;
}

function collectPaths(value: JsonValue, prefix: FieldPath, chain: string[], out: PathEntry[]): void {
  if (isObject(value) && !ATOMIC_MAPS.has(chain[chain.length - 1])) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    if (keys.length === 0 && prefix.length > 0) {
      out.push({ path: prefix, value });
      return;
    }
    for (const key of keys) collectPaths(value[key] as JsonValue, [...prefix, `f:${key}`], [...chain, key], out);
    return;
  }
  const keys = Array.isArray(value) ? listKeys(chain) : undefined;
  if (Array.isArray(value) && keys) {
    for (const item of value) {
      const node = [...prefix, keyToken(itemKey(item, keys, chain))];
      out.push({ path: node });
      if (isObject(item)) {
        for (const field of Object.keys(item)) {
          if (item[field] !== undefined) collectPaths(item[field] as JsonValue, [...node, `f:${field}`], [...chain, field], out);
        }
      }
    }
    return;
  }
  out.push({ path: prefix, value });
}

function pathsOf(object: JsonObject): Map<string, PathEntry> {
  const out: PathEntry[] = [];
  collectPaths(managedView(object), [], [], out);
  return new Map(out.map((entry) => [JSON.stringify(entry.path), entry]));
}

function findItem(list: JsonValue[], token: string): number {
  const key = JSON.parse(token.slice(2)) as JsonObject;
  return list.findIndex((item) => Object.entries(key).every(([name, value]) => deepEqual(obj(item)[name] ?? KEY_DEFAULTS[name], value)));
}

function valueAt(root: JsonValue | undefined, path: FieldPath): JsonValue | undefined {
  let node: JsonValue | undefined = root;
  for (const token of path) {
    if (token.startsWith('f:')) {
      if (!isObject(node)) return undefined;
      node = node[token.slice(2)];
    } else {
      if (!Array.isArray(node)) return undefined;
      const index = findItem(node, token);
      node = index < 0 ? undefined : node[index];
    }
  }
  return node;
}

/** Removes the field or list item at path, then the maps that removal left empty. */
function removeAt(root: JsonObject, path: FieldPath): void {
  const parents: { container: JsonObject | JsonValue[]; token: string }[] = [];
  let node: JsonValue = root;
  for (const token of path) {
    if (token.startsWith('f:') && isObject(node)) {
      parents.push({ container: node, token });
      node = node[token.slice(2)] as JsonValue;
    } else if (token.startsWith('k:') && Array.isArray(node)) {
      parents.push({ container: node, token });
      const index = findItem(node, token);
      if (index < 0) return;
      node = node[index];
    } else {
      return;
    }
    if (node === undefined) return;
  }
  for (let i = parents.length - 1; i >= 0; i--) {
    const { container, token } = parents[i];
    if (Array.isArray(container)) {
      if (i === parents.length - 1) container.splice(findItem(container, token), 1);
      return;
    }
    const field = token.slice(2);
    const value = container[field];
    if (i === parents.length - 1 || (isObject(value) && Object.keys(value).length === 0)) {
      // Top-level fields (spec, metadata) stay even when emptied.
      if (i === 0 && i !== parents.length - 1) return;
      delete container[field];
    } else {
      return;
    }
  }
}

function pathText(path: FieldPath): string {
  return path
    .map((token) => {
      if (token.startsWith('f:')) return `.${token.slice(2)}`;
      const key = JSON.parse(token.slice(2)) as JsonObject;
      return `[${Object.entries(key).map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(',')}]`;
    })
    .join('');
}

/** FieldsV1 as the real API writes it: nested `f:`/`k:` maps, `.` marking a node that is itself owned. */
function fieldsV1(paths: Iterable<string>): JsonObject {
  const root: JsonObject = {};
  for (const text of paths) {
    const path = JSON.parse(text) as FieldPath;
    let node = root;
    for (const token of path) node = child(node, token);
    if (path[path.length - 1].startsWith('k:')) node['.'] = {};
  }
  return root;
}

interface Ownership {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fields: Set<string>;
}
function ownerKey(manager: string, operation: string): string {
  return `${manager}\u0000${operation}`;
}

/**
 * Merges src into dst as apply and strategic merge patch do: maps field by field, associative lists item by item
 * (by key), other lists and scalars replaced; null removes (merge patch semantics).
 */
function mergeValues(dst: JsonValue | undefined, src: JsonValue, chain: string[], byKey: boolean): JsonValue | undefined {
  if (src === null) return undefined;
  if (isObject(src) && !(byKey && ATOMIC_MAPS.has(chain[chain.length - 1]))) {
    const result: JsonObject = isObject(dst) ? clone(dst) : {};
    for (const [key, value] of Object.entries(src)) {
      if (value === undefined) continue;
      const merged = mergeValues(result[key], value, [...chain, key], byKey);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
    return result;
  }
  const keys = byKey && Array.isArray(src) && Array.isArray(dst) ? listKeys(chain) : undefined;
  if (keys && Array.isArray(src) && Array.isArray(dst)) {
    const result = clone(dst);
    for (const item of src) {
      const index = findItem(result, keyToken(itemKey(item, keys, chain)));
      if (index < 0) result.push(clone(item));
      else result[index] = mergeValues(result[index], item, chain, byKey) ?? result[index];
    }
    return result;
  }
  return clone(src);
}

// ---------------------------------------------------------------------------------------------------------------
// Selectors

type LabelRequirement = (labels: JsonObject) => boolean;

function parseLabelSelector(selector: string): LabelRequirement[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((part): LabelRequirement => {
      let m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(part);
      if (m) {
        const [, key, op, value] = m;
        return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
      }
      m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
      if (m) {
        const [, key, op, list] = m;
        const values = list.split(',').map((v) => v.trim());
        return op === 'in' ? (l) => values.includes(String(l[key])) : (l) => !values.includes(String(l[key]));
      }
      m = /^(!?)([A-Za-z0-9./_-]+)$/.exec(part);
      if (m) {
        const [, not, key] = m;
        return not ? (l) => l[key] === undefined : (l) => l[key] !== undefined;
      }
      throw new ApiError(400, 'BadRequest', `unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
    });
}

function parseFieldSelector(selector: string, kind: string): ((o: JsonObject) => boolean)[] {
  const allowed = ['metadata.name', 'metadata.namespace', ...(FIELD_LABELS[kind] ?? [])];
  return selector
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((part) => {
      const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (!m) throw new ApiError(400, 'BadRequest', `invalid selector: '${selector}'; can't understand '${part}'`);
      const [, field, op, value] = m;
      if (!allowed.includes(field)) {
        throw new ApiError(400, 'BadRequest', `field label not supported: ${field}`);
      }
      return (o: JsonObject) => {
        let node: unknown = o;
        for (const segment of field.split('.')) node = obj(node)[segment];
        const actual = field === 'source' ? str(obj(o.source).component) ?? '' : node === undefined || node === null ? '' : String(node as string);
        return op === '!=' ? actual !== value : actual === value;
      };
    });
}

// ---------------------------------------------------------------------------------------------------------------
// The server

interface Entry {
  type: ResourceType;
  object: KObject;
  owners: Map<string, Ownership>;
}

interface Watcher {
  type: ResourceType;
  namespace?: string;
  matches: (object: JsonObject) => boolean;
  send: (event: string, object: KObject) => void;
}

interface RolloutState {
  lastProgressTick: number;
  progressKey: string;
  generation: number;
}

interface Write {
  manager: string;
  operation: 'Apply' | 'Update';
  dryRun: boolean;
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  private readonly store = new Map<string, Entry>();
  /** The same entries per resource type, so that a controller tick does not scan every event ever made. */
  private readonly byType = new Map<ResourceType, Map<string, Entry>>();
  private readonly watchers = new Set<Watcher>();
  private readonly openResponses = new Set<http.ServerResponse>();
  private readonly token = crypto.randomBytes(16).toString('hex');
  private readonly podAges = new Map<string, number>();
  private readonly rollouts = new Map<string, RolloutState>();
  private readonly isvcRevisions = new Map<string, { hash: string; revision: number; readyRevision?: number; previousRevision?: number; since: number }>();
  private readonly failedEvents = new Map<string, string>();
  private resourceVersion = 1;
  private ticks = 0;
  private ipCounter = 10;
  private timer?: NodeJS.Timeout;
  private readonly readyAfterTicks: number;
  private readonly progressDeadlineTicks: number;
  private readonly failingImages: { pattern: RegExp; reason: string; message: string }[];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    options: FakeApiServerOptions,
  ) {
    this.readyAfterTicks = options.readyAfterTicks ?? 2;
    this.progressDeadlineTicks = options.progressDeadlineTicks ?? 20;
    this.failingImages = options.failingImages ?? [];
    for (const name of ['default', 'kube-system', 'kube-public']) this.ensureNamespace(name);
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeApiServer(server, `http://127.0.0.1:${port}`, options);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => fake.handle(req, res));
    const tickMs = options.tickMs ?? 50;
    if (tickMs > 0) {
      fake.timer = setInterval(() => fake.tick(), tickMs);
      // Tests and the runnable entry end when their work does, not when the controller loop would.
      fake.timer.unref();
    }
    return fake;
  }

  kubeconfig(context = 'fake'): string {
    return YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node speaks plain HTTP only to a cluster marked insecure-skip-tls-verify (the fake has no TLS).
      clusters: [{ name: context, cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: `${context}-user`, user: { token: this.token } }],
      contexts: [{ name: context, context: { cluster: context, user: `${context}-user` } }],
      'current-context': context,
      preferences: {},
    });
  }

  writeKubeconfig(path: string, context?: string): void {
    fs.writeFileSync(path, this.kubeconfig(context), { mode: 0o600 });
  }

  /**
   * Puts an object in as another field manager (an Update, as kubectl patch would: a strategic merge, so lists of
   * containers, env, ports... merge by key), creating it when absent. The manager owns the fields it changed.
   */
  seed(object: object, manager = 'kubectl'): void {
    const input = clone(object) as KObject;
    const type = this.typeOf(String(input.apiVersion), String(input.kind));
    const namespace = type.namespaced ? str(obj(input.metadata).namespace) ?? 'default' : undefined;
    const name = str(obj(input.metadata).name);
    if (!name) throw new Error('seed: metadata.name is required');
    const write: Write = { manager, operation: 'Update', dryRun: false };
    const existing = this.store.get(this.key(type, namespace, name));
    if (existing) this.update(existing, mergeValues(existing.object, input, [], true) as KObject, write);
    else this.create(type, namespace, input, write);
  }

  get(apiVersion: string, kind: string, namespace: string, name: string): object | undefined {
    const type = this.typeOf(apiVersion, kind);
    return clone(this.store.get(this.key(type, type.namespaced ? namespace : undefined, name))?.object);
  }

  list(apiVersion: string, kind: string, namespace?: string): object[] {
    const type = this.typeOf(apiVersion, kind);
    return this.entries(type, namespace).map((e) => clone(e.object));
  }

  /** One controller step (the timer calls it; tests with tickMs 0 call it themselves). */
  tick(): void {
    this.ticks++;
    for (const entry of this.entries(this.resource('autoscaling', 'horizontalpodautoscalers'))) this.reconcileAutoscaler(entry);
    for (const entry of this.entries(this.resource('apps', 'deployments'))) this.reconcileDeployment(entry);
    for (const entry of this.entries(this.resource('apps', 'replicasets'))) this.reconcileReplicaSet(entry);
    for (const entry of this.entries(this.resource('', 'pods'))) this.reconcilePod(entry);
    for (const entry of this.entries(this.resource('apps', 'replicasets'))) this.replicaSetStatus(entry);
    for (const entry of this.entries(this.resource('apps', 'deployments'))) this.deploymentStatus(entry);
    for (const entry of this.entries(this.resource('serving.kserve.io', 'inferenceservices'))) this.reconcileInferenceService(entry);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const res of this.openResponses) res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------------------------------
  // HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const query = Object.fromEntries(url.searchParams);
      const contentType = req.headers['content-type'];
      this.requests.push({ method: req.method ?? 'GET', path, query, ...(contentType ? { contentType } : {}) });
      try {
        if (req.headers.authorization !== `Bearer ${this.token}`) {
          throw new ApiError(401, 'Unauthorized', 'Unauthorized');
        }
        const answer = this.route(req.method ?? 'GET', path, query, contentType ?? '', Buffer.concat(chunks).toString('utf8'), res);
        if (answer) this.send(res, answer.code, answer.body);
      } catch (error) {
        const e = error instanceof ApiError ? error : new ApiError(500, 'InternalError', `Internal error occurred: ${String(error)}`);
        this.send(res, e.code, this.status(e));
      }
    });
  }

  private send(res: http.ServerResponse, code: number, body: JsonValue | string): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private status(e: ApiError): JsonObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: e.message,
      reason: e.reason,
      ...(e.details ? { details: e.details } : {}),
      code: e.code,
    };
  }

  /** Answers a request; undefined when it answered itself (a watch). */
  private route(method: string, path: string, query: Record<string, string>, contentType: string, body: string, res: http.ServerResponse): { code: number; body: JsonValue | string } | undefined {
    const segments = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
    if (method === 'GET') {
      if (path === '/version') {
        return { code: 200, body: { major: '1', minor: '31', gitVersion: 'v1.31.0-opsbook-fake', gitCommit: '', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.22', compiler: 'gc', platform: 'linux/amd64' } };
      }
      if (path === '/healthz' || path === '/readyz' || path === '/livez') return { code: 200, body: 'ok' };
      if (path === '/api') {
        return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.slice('http://'.length) }] } };
      }
      if (path === '/apis') return { code: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: this.groupNames().map((g) => this.apiGroup(g)) } };
      if (segments[0] === 'apis' && segments.length === 2) {
        if (!this.groupNames().includes(segments[1])) throw this.pathNotFound();
        return { code: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(segments[1]) } };
      }
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 2) {
      [group, version, rest] = ['', segments[1], segments.slice(2)];
    } else if (segments[0] === 'apis' && segments.length >= 3) {
      [group, version, rest] = [segments[1], segments[2], segments.slice(3)];
    } else {
      throw this.pathNotFound();
    }
    const types = RESOURCES.filter((r) => r.group === group && r.version === version);
    if (types.length === 0) throw this.pathNotFound();
    if (rest.length === 0) {
      if (method !== 'GET') throw this.methodNotAllowed(method);
      return { code: 200, body: this.resourceList(group, version, types) };
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = types.find((t) => t.plural === rest[0]);
    if (!type || (namespace !== undefined && !type.namespaced)) throw this.pathNotFound();
    const name = rest[1];
    const subresource = rest[2];
    if (rest.length > 3 || (subresource !== undefined && subresource !== 'status')) throw this.pathNotFound();
    if (subresource !== undefined) {
      if (method !== 'GET') throw this.methodNotAllowed(method);
      return { code: 200, body: this.getEntry(type, namespace, name).object };
    }
    if (type.namespaced && namespace === undefined && name !== undefined) throw this.pathNotFound();
    if (type.namespaced && namespace === undefined && method !== 'GET') throw this.methodNotAllowed(method);
    const dryRun = query.dryRun === 'All';
    if (query.dryRun !== undefined && !dryRun) {
      throw new ApiError(400, 'BadRequest', `Invalid dry run value: ${query.dryRun}: Unsupported value: "${query.dryRun}": supported values: "All"`);
    }
    if (name === undefined) {
      switch (method) {
        case 'GET':
          if (query.watch === 'true' || query.watch === '1') {
            this.watch(type, namespace, query, res);
            return undefined;
          }
          return { code: 200, body: this.listBody(type, namespace, query) };
        case 'POST':
          return { code: 201, body: this.createFromRequest(type, namespace, body, query, dryRun) };
        case 'DELETE':
          return { code: 200, body: this.deleteCollection(type, namespace, query, dryRun) };
        default:
          throw this.methodNotAllowed(method);
      }
    }
    switch (method) {
      case 'GET':
        return { code: 200, body: this.getEntry(type, namespace, name).object };
      case 'PUT':
        return { code: 200, body: this.replace(type, namespace, name, body, query, dryRun) };
      case 'PATCH':
        return this.patch(type, namespace, name, contentType, body, query, dryRun);
      case 'DELETE':
        return { code: 200, body: this.deleteOne(type, namespace, name, query, body, dryRun) };
      default:
        throw this.methodNotAllowed(method);
    }
  }

  private pathNotFound(): ApiError {
    return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  }
  private methodNotAllowed(method: string): ApiError {
    return new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`, {});
  }
  private notFound(type: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${this.qualified(type)} "${name}" not found`, { name, ...(type.group ? { group: type.group } : {}), kind: type.plural });
  }
  private qualified(type: ResourceType): string {
    return type.group ? `${type.plural}.${type.group}` : type.plural;
  }

  private groupNames(): string[] {
    return [...new Set(GROUPS.map((gv) => gv.split('/')[0]))];
  }
  private apiGroup(name: string): JsonObject {
    const versions = GROUPS.filter((gv) => gv.startsWith(`${name}/`)).map((gv) => ({ groupVersion: gv, version: gv.split('/')[1] }));
    return { name, versions, preferredVersion: versions[0] };
  }
  private resourceList(group: string, version: string, types: ResourceType[]): JsonObject {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: types.flatMap((t) => [
        {
          name: t.plural,
          singularName: t.singular,
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: t.namespaced ? VERBS : VERBS.filter((v) => v !== 'deletecollection'),
          ...(t.shortNames ? { shortNames: t.shortNames } : {}),
          storageVersionHash: crypto.createHash('sha256').update(`${group}/${version}/${t.kind}`).digest('base64').slice(0, 11),
        },
        // Listed after the resource, as the real discovery does; KubernetesObjectApi takes the first of a kind.
        { name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get'] },
      ]),
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Store

  private resource(group: string, plural: string): ResourceType {
    return RESOURCES.find((r) => r.group === group && r.plural === plural) as ResourceType;
  }
  private typeOf(apiVersion: string, kind: string): ResourceType {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const type = RESOURCES.find((r) => r.group === group && r.version === version && r.kind === kind);
    if (!type) throw new Error(`the fake API server has no ${kind} in ${apiVersion}`);
    return type;
  }
  private key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.group}/${type.plural}/${namespace ?? ''}/${name}`;
  }
  private entries(type: ResourceType, namespace?: string): Entry[] {
    return [...(this.byType.get(type)?.values() ?? [])]
      .filter((e) => namespace === undefined || e.object.metadata.namespace === namespace)
      .sort((a, b) => `${String(a.object.metadata.namespace)}/${String(a.object.metadata.name)}`.localeCompare(`${String(b.object.metadata.namespace)}/${String(b.object.metadata.name)}`));
  }
  private getEntry(type: ResourceType, namespace: string | undefined, name: string): Entry {
    const entry = this.store.get(this.key(type, namespace, name));
    if (!entry) throw this.notFound(type, name);
    return entry;
  }
  private apiVersion(type: ResourceType): string {
    return type.group ? `${type.group}/${type.version}` : type.version;
  }

  private ensureNamespace(name: string): void {
    const type = this.resource('', 'namespaces');
    if (this.store.has(this.key(type, undefined, name))) return;
    this.create(type, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } }, { manager: 'kube-apiserver', operation: 'Update', dryRun: false });
  }

  private emit(event: 'ADDED' | 'MODIFIED' | 'DELETED', entry: Entry): void {
    for (const watcher of this.watchers) {
      if (watcher.type !== entry.type) continue;
      if (watcher.namespace !== undefined && entry.object.metadata.namespace !== watcher.namespace) continue;
      if (!watcher.matches(entry.object)) continue;
      watcher.send(event, entry.object);
    }
  }

  private renderManagedFields(owners: Map<string, Ownership>): JsonValue[] {
    return [...owners.values()]
      .filter((o) => o.fields.size > 0)
      .map((o) => ({ manager: o.manager, operation: o.operation, apiVersion: o.apiVersion, time: o.time, fieldsType: 'FieldsV1', fieldsV1: fieldsV1(o.fields) }));
  }

  /** Drops the paths whose fields no longer exist, and the managers left with none. */
  private pruneOwners(owners: Map<string, Ownership>, object: JsonObject): void {
    const present = pathsOf(object);
    for (const [key, owner] of owners) {
      for (const path of owner.fields) if (!present.has(path)) owner.fields.delete(path);
      if (owner.fields.size === 0) owners.delete(key);
    }
  }

  private cloneOwners(owners: Map<string, Ownership>): Map<string, Ownership> {
    return new Map([...owners].map(([k, o]) => [k, { ...o, fields: new Set(o.fields) }]));
  }

  private sameOwners(a: Map<string, Ownership>, b: Map<string, Ownership>): boolean {
    if (a.size !== b.size) return false;
    for (const [key, owner] of a) {
      const other = b.get(key);
      if (!other || other.fields.size !== owner.fields.size || [...owner.fields].some((f) => !other.fields.has(f))) return false;
    }
    return true;
  }

  /** Takes changed fields for an Update manager from everyone else, as the real field manager does. */
  private takeChanged(owners: Map<string, Ownership>, before: JsonObject | undefined, after: JsonObject, write: Write, apiVersion: string): void {
    const old = before ? pathsOf(before) : new Map<string, PathEntry>();
    const changed: string[] = [];
    for (const [key, entry] of pathsOf(after)) {
      const previous = old.get(key);
      if (!previous || (entry.value !== undefined && !deepEqual(previous.value, entry.value))) changed.push(key);
    }
    if (changed.length === 0) return;
    const mine = ownerKey(write.manager, write.operation);
    for (const [key, owner] of owners) if (key !== mine) for (const path of changed) owner.fields.delete(path);
    const owner = owners.get(mine) ?? { manager: write.manager, operation: write.operation, apiVersion, time: now(), fields: new Set<string>() };
    for (const path of changed) owner.fields.add(path);
    owner.time = now();
    owners.set(mine, owner);
  }

  private checkObject(type: ResourceType, namespace: string | undefined, object: JsonValue, name?: string): KObject {
    if (!isObject(object)) throw new ApiError(400, 'BadRequest', 'the body of the request was in an unknown format');
    const input = object as KObject;
    if (input.apiVersion !== undefined && input.apiVersion !== this.apiVersion(type)) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${String(input.apiVersion)}) does not match the expected API version (${this.apiVersion(type)})`);
    }
    if (input.kind !== undefined && input.kind !== type.kind) {
      throw new ApiError(400, 'BadRequest', `the kind in the data (${String(input.kind)}) does not match the expected kind (${type.kind})`);
    }
    input.apiVersion = this.apiVersion(type);
    input.kind = type.kind;
    input.metadata = obj(input.metadata);
    const metaNamespace = str(input.metadata.namespace);
    if (type.namespaced && metaNamespace !== undefined && metaNamespace !== '' && metaNamespace !== namespace) {
      throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (name !== undefined && input.metadata.name !== undefined && input.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${String(input.metadata.name)}) does not match the name on the URL (${name})`);
    }
    if (name !== undefined) input.metadata.name = name;
    if (!str(input.metadata.name)) {
      if (str(input.metadata.generateName)) input.metadata.name = `${String(input.metadata.generateName)}${randomSuffix(5)}`;
      else throw this.invalid(type, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    }
    const objectName = String(input.metadata.name);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(objectName) || objectName.length > 253) {
      throw this.invalid(type, objectName, [{ field: 'metadata.name', message: `Invalid value: "${objectName}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` }]);
    }
    if (type.namespaced) input.metadata.namespace = namespace;
    else delete input.metadata.namespace;
    return input;
  }

  private invalid(type: ResourceType, name: string, causes: { field: string; message: string }[]): ApiError {
    const kind = type.kind;
    return new ApiError(
      422,
      'Invalid',
      `${kind}${type.group ? `.${type.group}` : ''} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      { name, ...(type.group ? { group: type.group } : {}), kind, causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })) },
    );
  }

  /** Kind-specific defaults and immutable fields, the few that matter to Opsbook's objects. */
  private finish(type: ResourceType, object: KObject, before: KObject | undefined): void {
    const spec = isObject(object.spec) ? object.spec : undefined;
    if (type.kind === 'Deployment' && spec) {
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      const strategy = child(spec, 'strategy');
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const rolling = child(strategy, 'rollingUpdate');
        rolling.maxSurge ??= '25%';
        rolling.maxUnavailable ??= '25%';
      }
      this.defaultPodSpec(obj(obj(spec.template).spec));
      if (before && !deepEqual(obj(before.spec).selector, spec.selector)) {
        throw this.invalid(type, String(object.metadata.name), [{ field: 'spec.selector', message: `Invalid value: ${JSON.stringify(spec.selector)}: field is immutable` }]);
      }
    }
    if ((type.kind === 'ReplicaSet' || type.kind === 'Pod') && spec) {
      this.defaultPodSpec(type.kind === 'Pod' ? spec : obj(obj(spec.template).spec));
    }
    if (type.kind === 'Service' && spec) {
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      spec.internalTrafficPolicy ??= 'Cluster';
      for (const port of Array.isArray(spec.ports) ? spec.ports : []) {
        if (!isObject(port)) continue;
        port.protocol ??= 'TCP';
        port.targetPort ??= port.port;
      }
      const previousIp = before ? str(obj(before.spec).clusterIP) : undefined;
      if (previousIp && spec.clusterIP !== undefined && spec.clusterIP !== previousIp) {
        throw this.invalid(type, String(object.metadata.name), [{ field: 'spec.clusterIP', message: `Invalid value: "${String(spec.clusterIP)}": field is immutable` }]);
      }
      if (spec.clusterIP === undefined) {
        // Assigned by the server, so owned by no manager: an applier that omits it keeps it.
        const ip = previousIp ?? `10.96.${Math.floor(this.ipCounter / 250)}.${(this.ipCounter++ % 250) + 1}`;
        spec.clusterIP = ip;
        spec.clusterIPs = [ip];
        spec.ipFamilies = ['IPv4'];
        spec.ipFamilyPolicy = 'SingleStack';
      }
      object.status ??= { loadBalancer: {} };
    }
    if (type.kind === 'Namespace') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    }
  }

  private defaultPodSpec(podSpec: JsonObject): void {
    podSpec.restartPolicy ??= 'Always';
    podSpec.dnsPolicy ??= 'ClusterFirst';
    podSpec.schedulerName ??= 'default-scheduler';
    podSpec.terminationGracePeriodSeconds ??= 30;
    podSpec.securityContext ??= {};
    for (const list of ['containers', 'initContainers']) {
      for (const container of Array.isArray(podSpec[list]) ? podSpec[list] : []) {
        if (!isObject(container)) continue;
        const image = str(container.image) ?? '';
        container.imagePullPolicy ??= image.endsWith(':latest') || !/:[^/]+$/.test(image) ? 'Always' : 'IfNotPresent';
        container.terminationMessagePath ??= '/dev/termination-log';
        container.terminationMessagePolicy ??= 'File';
        container.resources ??= {};
        for (const port of Array.isArray(container.ports) ? container.ports : []) if (isObject(port)) port.protocol ??= 'TCP';
      }
    }
  }

  /** Everything that counts toward generation: the object without metadata and status. */
  private specPart(object: JsonObject): string {
    const { metadata: _m, status: _s, ...rest } = object;
    return canonical(rest);
  }

  /** Stores a new object (or, in a dry run, only builds it). */
  private create(type: ResourceType, namespace: string | undefined, input: KObject, write: Write, owners?: Map<string, Ownership>): KObject {
    const name = String(input.metadata.name);
    if (this.store.has(this.key(type, namespace, name))) {
      throw new ApiError(409, 'AlreadyExists', `${this.qualified(type)} "${name}" already exists`, { name, ...(type.group ? { group: type.group } : {}), kind: type.plural });
    }
    const object = clone(input);
    object.apiVersion = this.apiVersion(type);
    object.kind = type.kind;
    const meta = object.metadata;
    for (const field of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'selfLink']) delete meta[field];
    this.finish(type, object, undefined);
    const ownership = owners ?? new Map<string, Ownership>();
    if (!owners) this.takeChanged(ownership, undefined, object, write, object.apiVersion);
    this.pruneOwners(ownership, object);
    const stamped: KObject = {
      ...object,
      metadata: {
        ...meta,
        ...(type.namespaced ? { namespace } : {}),
        uid: crypto.randomUUID(),
        ...(write.dryRun ? {} : { resourceVersion: String(++this.resourceVersion) }),
        generation: 1,
        creationTimestamp: now(),
        managedFields: this.renderManagedFields(ownership),
      },
    };
    if (write.dryRun) return clone(stamped);
    if (type.namespaced && namespace) this.ensureNamespace(namespace);
    const entry: Entry = { type, object: stamped, owners: ownership };
    this.store.set(this.key(type, namespace, name), entry);
    if (!this.byType.has(type)) this.byType.set(type, new Map());
    this.byType.get(type)?.set(this.key(type, namespace, name), entry);
    this.emit('ADDED', entry);
    return clone(stamped);
  }

  /**
   * Stores a changed object. Status is the controllers': a client's write keeps the stored status unless
   * keepStatus is false (the controllers' own writes). Returns the stored object, unchanged (same resourceVersion)
   * when nothing changed.
   */
  private update(entry: Entry, next: KObject, write: Write, options: { owners?: Map<string, Ownership>; status?: boolean } = {}): KObject {
    const before = entry.object;
    const object = clone(next);
    object.apiVersion = before.apiVersion;
    object.kind = before.kind;
    if (!options.status) {
      if (before.status !== undefined) object.status = clone(before.status);
      else delete object.status;
    }
    const meta = obj(object.metadata);
    for (const field of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'namespace', 'name', 'deletionTimestamp']) {
      if (before.metadata[field] !== undefined) meta[field] = before.metadata[field];
      else delete meta[field];
    }
    object.metadata = meta;
    this.finish(entry.type, object, before);
    const owners = options.owners ?? this.cloneOwners(entry.owners);
    if (!options.owners) this.takeChanged(owners, before, object, write, before.apiVersion);
    this.pruneOwners(owners, object);
    const { managedFields: _a, resourceVersion: _b, ...metaNow } = meta;
    const { managedFields: _c, resourceVersion: _d, ...metaBefore } = before.metadata;
    if (deepEqual({ ...object, metadata: metaNow }, { ...before, metadata: metaBefore }) && this.sameOwners(owners, entry.owners)) {
      return clone(before);
    }
    if (this.specPart(object) !== this.specPart(before)) meta.generation = (num(before.metadata.generation) ?? 1) + 1;
    meta.managedFields = this.renderManagedFields(owners);
    if (write.dryRun) return clone(object);
    meta.resourceVersion = String(++this.resourceVersion);
    entry.object = object;
    entry.owners = owners;
    this.emit('MODIFIED', entry);
    return clone(object);
  }

  private parseBody(body: string, contentType: string): JsonValue {
    try {
      return (contentType.includes('yaml') ? YAML.parse(body) : JSON.parse(body)) as JsonValue;
    } catch (error) {
      throw new ApiError(400, 'BadRequest', `error decoding request body: ${String(error)}`);
    }
  }

  private createFromRequest(type: ResourceType, namespace: string | undefined, body: string, query: Record<string, string>, dryRun: boolean): KObject {
    const input = this.checkObject(type, namespace, this.parseBody(body, 'application/json'));
    delete input.status;
    return this.create(type, namespace, input, { manager: query.fieldManager ?? 'kubectl', operation: 'Update', dryRun });
  }

  private replace(type: ResourceType, namespace: string | undefined, name: string, body: string, query: Record<string, string>, dryRun: boolean): KObject {
    const entry = this.getEntry(type, namespace, name);
    const input = this.checkObject(type, namespace, this.parseBody(body, 'application/json'), name);
    const expected = str(input.metadata.resourceVersion);
    if (expected !== undefined && expected !== entry.object.metadata.resourceVersion) throw this.modifiedConflict(type, name);
    return this.update(entry, input, { manager: query.fieldManager ?? 'kubectl', operation: 'Update', dryRun });
  }

  private modifiedConflict(type: ResourceType, name: string): ApiError {
    return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${this.qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, ...(type.group ? { group: type.group } : {}), kind: type.plural });
  }

  private patch(type: ResourceType, namespace: string | undefined, name: string, contentType: string, body: string, query: Record<string, string>, dryRun: boolean): { code: number; body: KObject } {
    const mediaType = contentType.split(';')[0].trim();
    if (mediaType === 'application/apply-patch+yaml') return this.apply(type, namespace, name, body, query, dryRun);
    if (query.force !== undefined) throw new ApiError(400, 'BadRequest', 'force is only valid for apply patches');
    if (mediaType !== 'application/merge-patch+json' && mediaType !== 'application/strategic-merge-patch+json') {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml`);
    }
    const entry = this.getEntry(type, namespace, name);
    const patch = this.parseBody(body, mediaType);
    if (!isObject(patch)) throw new ApiError(400, 'BadRequest', 'the body of the request was in an unknown format');
    // Strategic merge merges the associative lists by key; JSON merge patch replaces lists.
    const next = mergeValues(entry.object, patch, [], mediaType === 'application/strategic-merge-patch+json') as KObject;
    this.checkObject(type, namespace, next, name);
    const expected = str(obj(patch.metadata).resourceVersion);
    if (expected !== undefined && expected !== entry.object.metadata.resourceVersion) throw this.modifiedConflict(type, name);
    return { code: 200, body: this.update(entry, next, { manager: query.fieldManager ?? 'kubectl', operation: 'Update', dryRun }) };
  }

  /** Server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/). */
  private apply(type: ResourceType, namespace: string | undefined, name: string, body: string, query: Record<string, string>, dryRun: boolean): { code: number; body: KObject } {
    const manager = query.fieldManager;
    if (!manager) throw new ApiError(400, 'BadRequest', 'PATCH, application/apply-patch+yaml requires fieldManager to be set');
    const force = query.force === 'true';
    const raw = this.parseBody(body, 'application/apply-patch+yaml');
    if (!isObject(raw) || raw.apiVersion === undefined || raw.kind === undefined) {
      throw new ApiError(400, 'BadRequest', 'apply patches must declare apiVersion and kind');
    }
    if (obj(raw.metadata).managedFields !== undefined) throw new ApiError(400, 'BadRequest', 'metadata.managedFields must be nil');
    const applied = this.checkObject(type, namespace, raw, name);
    delete applied.status;
    const write: Write = { manager, operation: 'Apply', dryRun };
    const mine = ownerKey(manager, 'Apply');
    const entry = this.store.get(this.key(type, namespace, name));
    const appliedPaths = pathsOf(applied);
    const owners = entry ? this.cloneOwners(entry.owners) : new Map<string, Ownership>();
    const live = entry?.object;
    // A resourceVersion in the applied object is a precondition, as on the real API.
    const expected = str(applied.metadata.resourceVersion);
    if (expected !== undefined && expected !== live?.metadata.resourceVersion) throw this.modifiedConflict(type, name);
    delete applied.metadata.resourceVersion;

    // Conflicts: a field another manager owns, applied with a different value than it has.
    const conflicts: { manager: string; path: FieldPath; key: string }[] = [];
    for (const [key, path] of appliedPaths) {
      if (path.value === undefined) continue;
      for (const [ownerId, owner] of owners) {
        if (ownerId === mine || !owner.fields.has(key)) continue;
        // The real message names an Update manager with the API version it wrote through.
        const who = owner.operation === 'Update' ? `"${owner.manager}" using ${owner.apiVersion}` : `"${owner.manager}"`;
        if (!deepEqual(valueAt(live, path.path), path.value)) conflicts.push({ manager: who, path: path.path, key });
      }
    }
    if (conflicts.length > 0 && !force) throw this.applyConflict(conflicts);
    for (const c of conflicts) for (const [ownerId, owner] of owners) if (ownerId !== mine) owner.fields.delete(c.key);

    // Merge, then drop what this manager applied before and no longer does, unless someone else owns it too.
    const merged = mergeValues(live ? clone(live) : {}, applied, [], true) as KObject;
    const previous = owners.get(mine)?.fields ?? new Set<string>();
    for (const key of previous) {
      if (appliedPaths.has(key)) continue;
      const sharedWith = [...owners].some(([ownerId, owner]) => ownerId !== mine && owner.fields.has(key));
      if (!sharedWith) removeAt(merged, JSON.parse(key) as FieldPath);
    }
    owners.set(mine, { manager, operation: 'Apply', apiVersion: this.apiVersion(type), time: owners.get(mine)?.time ?? now(), fields: new Set(appliedPaths.keys()) });
    const unchangedOwnership = entry !== undefined && this.sameOwners(owners, entry.owners);
    if (!unchangedOwnership) (owners.get(mine) as Ownership).time = now();

    if (!entry) return { code: 201, body: this.create(type, namespace, merged, write, owners) };
    const result = this.update(entry, merged, write, { owners });
    return { code: 200, body: result };
  }

  /** A 409 Conflict worded as the real API words it (k8s.io/apiserver fieldmanager getConflictMessage). */
  private applyConflict(conflicts: { manager: string; path: FieldPath }[]): ApiError {
    let message: string;
    if (conflicts.length === 1) {
      message = `Apply failed with 1 conflict: conflict with ${conflicts[0].manager}: ${pathText(conflicts[0].path)}`;
    } else {
      const managers = [...new Set(conflicts.map((c) => c.manager))].sort();
      const lines = managers.flatMap((m) => [`conflicts with ${m}:`, ...conflicts.filter((c) => c.manager === m).map((c) => `- ${pathText(c.path)}`)]);
      message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
    }
    return new ApiError(409, 'Conflict', message, {
      causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: pathText(c.path) })),
    });
  }

  private deleteOne(type: ResourceType, namespace: string | undefined, name: string, query: Record<string, string>, body: string, dryRun: boolean): JsonObject {
    const entry = this.getEntry(type, namespace, name);
    const options = body.trim() ? obj(this.parseBody(body, 'application/json')) : {};
    const policy = query.propagationPolicy ?? str(options.propagationPolicy) ?? (query.orphanDependents === 'true' ? 'Orphan' : 'Background');
    if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw new ApiError(400, 'BadRequest', `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
    }
    if (!dryRun) this.remove(entry, policy);
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, ...(type.group ? { group: type.group } : {}), kind: type.plural, uid: entry.object.metadata.uid },
    };
  }

  private deleteCollection(type: ResourceType, namespace: string | undefined, query: Record<string, string>, dryRun: boolean): JsonObject {
    const body = this.listBody(type, namespace, { ...query, limit: '', continue: '' });
    for (const item of body.items as JsonObject[]) {
      const entry = this.store.get(this.key(type, namespace, String(obj(item.metadata).name)));
      if (entry && !dryRun) this.remove(entry, query.propagationPolicy ?? 'Background');
    }
    return body;
  }

  /** Deletes an object; its dependents (ownerReferences) go too, as the garbage collector does, or are orphaned. */
  private remove(entry: Entry, policy: string): void {
    const { name, namespace, uid } = entry.object.metadata;
    if (!this.store.delete(this.key(entry.type, str(namespace), String(name)))) return;
    this.byType.get(entry.type)?.delete(this.key(entry.type, str(namespace), String(name)));
    this.podAges.delete(String(uid));
    this.rollouts.delete(String(uid));
    this.isvcRevisions.delete(String(uid));
    this.failedEvents.delete(String(uid));
    this.emit('DELETED', entry);
    const dependents = [...this.store.values()].filter((e) => Array.isArray(e.object.metadata.ownerReferences) && e.object.metadata.ownerReferences.some((r) => obj(r).uid === uid));
    for (const dependent of dependents) {
      if (policy === 'Orphan') {
        const refs = (dependent.object.metadata.ownerReferences as JsonValue[]).filter((r) => obj(r).uid !== uid);
        const next = clone(dependent.object);
        if (refs.length > 0) next.metadata.ownerReferences = refs;
        else delete next.metadata.ownerReferences;
        this.update(dependent, next, { manager: 'kube-controller-manager', operation: 'Update', dryRun: false });
      } else {
        this.remove(dependent, policy);
      }
    }
    if (entry.type.kind === 'Namespace') {
      for (const other of [...this.store.values()]) if (other.object.metadata.namespace === name) this.remove(other, 'Background');
    }
  }

  private listBody(type: ResourceType, namespace: string | undefined, query: Record<string, string>): JsonObject {
    const labelFilter = query.labelSelector ? parseLabelSelector(query.labelSelector) : [];
    const fieldFilter = query.fieldSelector ? parseFieldSelector(query.fieldSelector, type.kind) : [];
    let items = this.entries(type, namespace)
      .map((e) => e.object)
      .filter((o) => labelFilter.every((f) => f(obj(o.metadata.labels))) && fieldFilter.every((f) => f(o)));
    const start = query.continue ? Number(Buffer.from(query.continue, 'base64').toString('utf8')) : 0;
    const limit = query.limit ? Number(query.limit) : 0;
    let next: string | undefined;
    items = items.slice(start);
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      next = Buffer.from(String(start + limit)).toString('base64');
    }
    return {
      kind: `${type.kind}List`,
      apiVersion: this.apiVersion(type),
      metadata: { resourceVersion: String(this.resourceVersion), ...(next ? { continue: next } : {}) },
      // Built-in types' list items carry no apiVersion and kind on the wire; custom resources' do.
      items: items.map((o) => {
        if (type.custom) return clone(o);
        const { apiVersion: _v, kind: _k, ...rest } = clone(o);
        return rest;
      }),
    };
  }

  private watch(type: ResourceType, namespace: string | undefined, query: Record<string, string>, res: http.ServerResponse): void {
    const labelFilter = query.labelSelector ? parseLabelSelector(query.labelSelector) : [];
    const fieldFilter = query.fieldSelector ? parseFieldSelector(query.fieldSelector, type.kind) : [];
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const watcher: Watcher = {
      type,
      namespace,
      matches: (o) => labelFilter.every((f) => f(obj(obj(o.metadata).labels))) && fieldFilter.every((f) => f(o)),
      send: (event, object) => res.write(`${JSON.stringify({ type: event, object })}\n`),
    };
    // Without a resourceVersion (or with "0") a watch starts with the current state; history is not kept.
    if (!query.resourceVersion || query.resourceVersion === '0') {
      for (const entry of this.entries(type, namespace)) if (watcher.matches(entry.object)) watcher.send('ADDED', entry.object);
    }
    this.watchers.add(watcher);
    this.openResponses.add(res);
    const end = () => {
      this.watchers.delete(watcher);
      this.openResponses.delete(res);
      res.end();
    };
    res.on('close', end);
    if (query.timeoutSeconds) setTimeout(end, Number(query.timeoutSeconds) * 1000).unref();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Controllers (the deployment controller, the ReplicaSet controller, the kubelet, KServe)

  private controllerWrite(entry: Entry, mutate: (next: KObject) => void, status = false): void {
    const next = clone(entry.object);
    mutate(next);
    this.update(entry, next, { manager: CONTROLLER_MANAGER, operation: 'Update', dryRun: false }, status ? { owners: entry.owners, status: true } : {});
  }

  private ownedBy(type: ResourceType, owner: KObject): Entry[] {
    return this.entries(type, str(owner.metadata.namespace)).filter((e) =>
      (Array.isArray(e.object.metadata.ownerReferences) ? e.object.metadata.ownerReferences : []).some((r) => obj(r).uid === owner.metadata.uid && obj(r).controller === true),
    );
  }

  private event(involved: KObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): Entry {
    const events = this.resource('', 'events');
    const time = now();
    const name = `${String(involved.metadata.name)}.${crypto.randomBytes(8).toString('hex')}`;
    this.create(events, str(involved.metadata.namespace), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: involved.metadata.namespace },
      involvedObject: { kind: involved.kind, namespace: involved.metadata.namespace, name: involved.metadata.name, uid: involved.metadata.uid, apiVersion: involved.apiVersion, resourceVersion: involved.metadata.resourceVersion },
      reason,
      message,
      source: { component, ...(component === 'kubelet' ? { host: 'fake-node' } : {}) },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: component === 'kubelet' ? 'fake-node' : '',
    } as KObject, { manager: component, operation: 'Update', dryRun: false });
    return this.store.get(this.key(events, str(involved.metadata.namespace), name)) as Entry;
  }

  private templateWithoutHash(template: JsonValue | undefined): JsonObject {
    const copy = clone(obj(template));
    const labels = obj(obj(copy.metadata).labels);
    delete labels['pod-template-hash'];
    return copy;
  }

  private revisionOf(object: KObject): number {
    return Number(obj(object.metadata.annotations)[REVISION] ?? 0);
  }

  /**
   * The HPA controller without metrics: it keeps its Deployment's replicas within [minReplicas,
   * maxReplicas], writing spec.replicas as kube-controller-manager the way the real one does (through
   * the scale subresource), so an applier that also sets replicas meets a conflict as it would there.
   */
  private reconcileAutoscaler(entry: Entry): void {
    const spec = obj(entry.object.spec);
    const target = obj(spec.scaleTargetRef);
    if (target.kind !== 'Deployment') return;
    const deployment = this.store.get(this.key(this.resource('apps', 'deployments'), str(entry.object.metadata.namespace), String(target.name)));
    if (!deployment) return;
    const current = num(obj(deployment.object.spec).replicas) ?? 1;
    const wanted = Math.min(Math.max(current, num(spec.minReplicas) ?? 1), num(spec.maxReplicas) ?? current);
    if (wanted !== current) this.controllerWrite(deployment, (next) => (obj(next.spec).replicas = wanted));
  }

  private reconcileDeployment(entry: Entry): void {
    const deployment = entry.object;
    const spec = obj(deployment.spec);
    const replicas = num(spec.replicas) ?? 1;
    const replicaSets = this.resource('apps', 'replicasets');
    const owned = this.ownedBy(replicaSets, deployment);
    const template = this.templateWithoutHash(spec.template);
    const maxRevision = Math.max(0, ...owned.map((rs) => this.revisionOf(rs.object)));
    let current = owned.find((rs) => deepEqual(this.templateWithoutHash(obj(rs.object.spec).template), template));
    const rollout = this.rolloutState(entry);
    if (!current) {
      let hash = '';
      for (let collision = 0; !hash || this.store.has(this.key(replicaSets, str(deployment.metadata.namespace), `${String(deployment.metadata.name)}-${hash}`)); collision++) {
        hash = safeEncode(String(fnv32a(canonical(template) + (collision ? String(collision) : ''))));
      }
      const podTemplate = clone(template);
      child(child(podTemplate, 'metadata'), 'labels')['pod-template-hash'] = hash;
      const name = `${String(deployment.metadata.name)}-${hash}`;
      this.create(replicaSets, str(deployment.metadata.namespace), {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name,
          namespace: deployment.metadata.namespace,
          labels: { ...obj(obj(template.metadata).labels), 'pod-template-hash': hash },
          annotations: { [REVISION]: String(maxRevision + 1), 'deployment.kubernetes.io/desired-replicas': String(replicas) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name, uid: deployment.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          replicas: 0,
          ...(spec.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
          selector: { matchLabels: { ...obj(obj(spec.selector).matchLabels), 'pod-template-hash': hash } },
          template: podTemplate,
        },
      } as KObject, { manager: CONTROLLER_MANAGER, operation: 'Update', dryRun: false });
      current = this.store.get(this.key(replicaSets, str(deployment.metadata.namespace), name)) as Entry;
      rollout.lastProgressTick = this.ticks;
      rollout.progressKey = '';
    } else if (this.revisionOf(current.object) !== maxRevision) {
      // A template equal to an older ReplicaSet's (kubectl rollout undo): that ReplicaSet becomes the newest revision.
      this.controllerWrite(current, (next) => {
        child(next.metadata, 'annotations')[REVISION] = String(maxRevision + 1);
      });
      rollout.lastProgressTick = this.ticks;
      rollout.progressKey = '';
    }
    const newRs = current;
    const revision = String(this.revisionOf(newRs.object));
    if (obj(deployment.metadata.annotations)[REVISION] !== revision) {
      this.controllerWrite(entry, (next) => {
        child(next.metadata, 'annotations')[REVISION] = revision;
      });
    }
    if (num(obj(newRs.object.spec).replicas) !== replicas) {
      const from = num(obj(newRs.object.spec).replicas) ?? 0;
      this.controllerWrite(newRs, (next) => {
        child(next, 'spec').replicas = replicas;
        child(next.metadata, 'annotations')['deployment.kubernetes.io/desired-replicas'] = String(replicas);
      });
      this.event(entry.object, 'Normal', 'ScalingReplicaSet', `Scaled ${replicas > from ? 'up' : 'down'} replica set ${String(newRs.object.metadata.name)} from ${from} to ${replicas}`, 'deployment-controller');
    }
    // Old ReplicaSets go to 0 once the new one is fully available (a simplification of maxSurge/maxUnavailable).
    const newAvailable = num(obj(newRs.object.status).availableReplicas) ?? 0;
    if (newAvailable >= replicas) {
      for (const old of owned) {
        if (old === newRs || (num(obj(old.object.spec).replicas) ?? 0) === 0) continue;
        const from = num(obj(old.object.spec).replicas) ?? 0;
        this.controllerWrite(old, (next) => {
          child(next, 'spec').replicas = 0;
        });
        this.event(entry.object, 'Normal', 'ScalingReplicaSet', `Scaled down replica set ${String(old.object.metadata.name)} from ${from} to 0`, 'deployment-controller');
      }
    }
    // Old ReplicaSets beyond spec.revisionHistoryLimit are deleted, oldest first.
    const limit = num(spec.revisionHistoryLimit) ?? 10;
    const idle = owned
      .filter((rs) => rs !== newRs && (num(obj(rs.object.spec).replicas) ?? 0) === 0 && !num(obj(rs.object.status).replicas))
      .sort((a, b) => this.revisionOf(a.object) - this.revisionOf(b.object));
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) this.remove(rs, 'Background');
  }

  private rolloutState(entry: Entry): RolloutState {
    const uid = String(entry.object.metadata.uid);
    const generation = num(entry.object.metadata.generation) ?? 1;
    let state = this.rollouts.get(uid);
    if (!state || state.generation !== generation) {
      state = { lastProgressTick: this.ticks, progressKey: '', generation };
      this.rollouts.set(uid, state);
    }
    return state;
  }

  private reconcileReplicaSet(entry: Entry): void {
    const rs = entry.object;
    const wanted = num(obj(rs.spec).replicas) ?? 1;
    const pods = this.resource('', 'pods');
    const owned = this.ownedBy(pods, rs);
    for (let i = owned.length; i < wanted; i++) {
      const template = obj(obj(rs.spec).template);
      const name = `${String(rs.metadata.name)}-${randomSuffix(5)}`;
      const pod = this.create(pods, str(rs.metadata.namespace), {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          generateName: `${String(rs.metadata.name)}-`,
          namespace: rs.metadata.namespace,
          labels: clone(obj(obj(template.metadata).labels)),
          ...(obj(template.metadata).annotations ? { annotations: clone(obj(obj(template.metadata).annotations)) } : {}),
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { ...clone(obj(template.spec)), nodeName: 'fake-node' },
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() }], qosClass: 'Burstable', startTime: now() },
      } as KObject, { manager: CONTROLLER_MANAGER, operation: 'Update', dryRun: false });
      this.podAges.set(String(pod.metadata.uid), 0);
      this.event(entry.object, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, 'replicaset-controller');
      this.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${String(rs.metadata.namespace)}/${name} to fake-node`, 'default-scheduler');
    }
    // Scale down: the newest pods go first.
    const extra = owned.length - wanted;
    if (extra > 0) {
      const victims = [...owned].sort((a, b) => Number(b.object.metadata.resourceVersion) - Number(a.object.metadata.resourceVersion)).slice(0, extra);
      for (const victim of victims) {
        this.remove(victim, 'Background');
        this.event(entry.object, 'Normal', 'SuccessfulDelete', `Deleted pod: ${String(victim.object.metadata.name)}`, 'replicaset-controller');
      }
    }
  }

  private failureFor(podSpec: JsonObject): { container: string; reason: string; message: string } | undefined {
    for (const list of ['initContainers', 'containers']) {
      for (const container of Array.isArray(podSpec[list]) ? podSpec[list] : []) {
        const image = str(obj(container).image) ?? '';
        const failing = this.failingImages.find((f) => f.pattern.test(image));
        if (failing) return { container: String(obj(container).name), reason: failing.reason, message: failing.message.replaceAll('{image}', image) };
      }
    }
    return undefined;
  }

  private reconcilePod(entry: Entry): void {
    const pod = entry.object;
    if (obj(pod.status).phase !== 'Pending') return;
    const uid = String(pod.metadata.uid);
    const age = (this.podAges.get(uid) ?? 0) + 1;
    this.podAges.set(uid, age);
    const spec = obj(pod.spec);
    const containers = (Array.isArray(spec.containers) ? spec.containers : []).map(obj);
    const failure = this.failureFor(spec);
    const time = now();
    if (failure && !Array.isArray(obj(pod.status).containerStatuses)) {
      this.controllerWrite(entry, (next) => {
        next.status = {
          ...obj(next.status),
          conditions: [
            { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: time },
            { type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: time, reason: 'ContainersNotReady', message: `containers with unready status: [${containers.map((c) => String(c.name)).join(' ')}]` },
          ],
          containerStatuses: containers.map((c) => ({
            name: c.name,
            image: c.image,
            imageID: '',
            ready: false,
            started: false,
            restartCount: 0,
            state: { waiting: c.name === failure.container ? { reason: failure.reason, message: failure.message } : { reason: 'ContainerCreating' } },
          })),
        };
      }, true);
    }
    if (failure) {
      // The kubelet retries and its event counts the failures.
      const eventName = this.failedEvents.get(uid);
      const event = eventName ? this.store.get(eventName) : undefined;
      if (!event) {
        const created = this.event(entry.object, 'Warning', 'Failed', failure.message, 'kubelet');
        this.failedEvents.set(uid, this.key(created.type, str(created.object.metadata.namespace), String(created.object.metadata.name)));
      } else if (age % 5 === 0) {
        this.controllerWrite(event, (next) => {
          next.count = (num(next.count) ?? 1) + 1;
          next.lastTimestamp = time;
        });
      }
      return;
    }
    if (age <= this.readyAfterTicks) return;
    this.controllerWrite(entry, (next) => {
      next.status = {
        ...obj(next.status),
        phase: 'Running',
        hostIP: '10.0.0.10',
        podIP: `10.244.0.${(age + this.resourceVersion) % 250 + 2}`,
        conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: time })),
        containerStatuses: containers.map((c) => ({
          name: c.name,
          image: c.image,
          imageID: `${String(c.image)}@sha256:${crypto.createHash('sha256').update(String(c.image)).digest('hex')}`,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: time } },
        })),
      };
    }, true);
    for (const c of containers) this.event(entry.object, 'Normal', 'Started', `Started container ${String(c.name)}`, 'kubelet');
  }

  private podReady(pod: KObject): boolean {
    const conditions = Array.isArray(obj(pod.status).conditions) ? (obj(pod.status).conditions as JsonValue[]) : [];
    return conditions.some((c) => obj(c).type === 'Ready' && obj(c).status === 'True');
  }

  private replicaSetStatus(entry: Entry): void {
    const pods = this.ownedBy(this.resource('', 'pods'), entry.object).map((e) => e.object);
    const ready = pods.filter((p) => this.podReady(p)).length;
    const status = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: entry.object.metadata.generation ?? 1,
    };
    if (!deepEqual(status, entry.object.status)) this.controllerWrite(entry, (next) => (next.status = status), true);
  }

  private deploymentStatus(entry: Entry): void {
    const deployment = entry.object;
    const spec = obj(deployment.spec);
    const replicas = num(spec.replicas) ?? 1;
    const owned = this.ownedBy(this.resource('apps', 'replicasets'), deployment);
    const template = this.templateWithoutHash(spec.template);
    const newRs = owned.find((rs) => deepEqual(this.templateWithoutHash(obj(rs.object.spec).template), template));
    const rsStatus = (rs: Entry, field: string) => num(obj(rs.object.status)[field]) ?? 0;
    const total = owned.reduce((n, rs) => n + rsStatus(rs, 'replicas'), 0);
    const desiredTotal = owned.reduce((n, rs) => n + (num(obj(rs.object.spec).replicas) ?? 0), 0);
    const ready = owned.reduce((n, rs) => n + rsStatus(rs, 'readyReplicas'), 0);
    const available = owned.reduce((n, rs) => n + rsStatus(rs, 'availableReplicas'), 0);
    const updated = newRs ? rsStatus(newRs, 'replicas') : 0;
    const newName = newRs ? String(newRs.object.metadata.name) : '';
    const rollout = this.rolloutState(entry);
    const progressKey = `${newName}:${updated}:${ready}:${available}:${total}`;
    // Progress, as the real controller counts it: any change in the new ReplicaSet's or the total pod counts.
    if (rollout.progressKey !== progressKey) rollout.lastProgressTick = this.ticks;
    rollout.progressKey = progressKey;
    const complete = newRs !== undefined && updated === replicas && available >= replicas && total === replicas;
    const previous = Array.isArray(obj(deployment.status).conditions) ? (obj(deployment.status).conditions as JsonValue[]).map(obj) : [];
    const time = now();
    const condition = (type: string, status: string, reason: string, message: string): JsonObject => {
      const old = previous.find((c) => c.type === type);
      const same = old && old.status === status && old.reason === reason && old.message === message;
      if (same) return old;
      return { type, status, lastUpdateTime: time, lastTransitionTime: old && old.status === status ? old.lastTransitionTime : time, reason, message };
    };
    const minAvailable = replicas - this.maxUnavailable(spec, replicas);
    const availableCondition = available >= minAvailable
      ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
      : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.');
    let progressing: JsonObject;
    if (complete) {
      progressing = condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${newName}" has successfully progressed.`);
    } else if (this.ticks - rollout.lastProgressTick > this.progressDeadlineTicks) {
      progressing = condition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${newName}" has timed out progressing.`);
    } else if (updated === 0) {
      progressing = condition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${newName}"`);
    } else {
      progressing = condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${newName}" is progressing.`);
    }
    const status: JsonObject = {
      observedGeneration: deployment.metadata.generation ?? 1,
      replicas: total,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: available,
      unavailableReplicas: Math.max(0, desiredTotal - available),
      conditions: [availableCondition, progressing],
    };
    // The real API omits zero counts.
    for (const key of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']) if (status[key] === 0) delete status[key];
    if (!deepEqual(status, deployment.status)) this.controllerWrite(entry, (next) => (next.status = status), true);
  }

  /** maxUnavailable resolved as the real controller does (percentages round down; 0 and 0 become 1 unavailable). */
  private maxUnavailable(spec: JsonObject, replicas: number): number {
    const strategy = obj(spec.strategy);
    if (strategy.type !== 'RollingUpdate' || replicas === 0) return 0;
    const rolling = obj(strategy.rollingUpdate);
    const resolve = (value: JsonValue | undefined, roundUp: boolean) => {
      if (typeof value === 'number') return value;
      const percent = Number(String(value ?? '25%').replace('%', ''));
      const exact = (percent * replicas) / 100;
      return roundUp ? Math.ceil(exact) : Math.floor(exact);
    };
    const surge = resolve(rolling.maxSurge, true);
    let unavailable = resolve(rolling.maxUnavailable, false);
    if (surge === 0 && unavailable === 0) unavailable = 1;
    return Math.min(unavailable, replicas);
  }

  /** KServe, simply: a revision per predictor spec, ready after readyAfterTicks; canary splits traffic with the previous one. */
  private reconcileInferenceService(entry: Entry): void {
    const isvc = entry.object;
    const uid = String(isvc.metadata.uid);
    const predictor = obj(obj(isvc.spec).predictor);
    const { canaryTrafficPercent: _canary, ...predictorSpec } = predictor;
    const hash = canonical(predictorSpec);
    let state = this.isvcRevisions.get(uid);
    if (!state || state.hash !== hash) {
      state = { hash, revision: (state?.revision ?? 0) + 1, readyRevision: state?.readyRevision, previousRevision: state?.readyRevision, since: this.ticks };
      this.isvcRevisions.set(uid, state);
    }
    const images = [obj(predictor.model), ...(Array.isArray(predictor.containers) ? predictor.containers.map(obj) : [])].filter((c) => c.image !== undefined);
    const failure = this.failureFor({ containers: images.map((c) => ({ name: 'kserve-container', ...c })) });
    if (!failure && this.ticks - state.since >= this.readyAfterTicks) state.readyRevision = state.revision;
    const name = String(isvc.metadata.name);
    const namespace = String(isvc.metadata.namespace);
    const revisionName = (n: number) => `${name}-predictor-${String(n).padStart(5, '0')}`;
    const ready = state.readyRevision === state.revision;
    const canary = num(predictor.canaryTrafficPercent);
    const previous = state.previousRevision;
    let traffic: JsonObject[] = [];
    if (ready && canary !== undefined && canary < 100 && previous !== undefined && previous !== state.revision) {
      traffic = [
        { tag: 'latest', revisionName: revisionName(state.revision), percent: canary, latestRevision: true },
        { tag: 'prev', revisionName: revisionName(previous), percent: 100 - canary, latestRevision: false },
      ];
    } else if (state.readyRevision !== undefined) {
      traffic = [{ revisionName: revisionName(state.readyRevision), percent: 100, latestRevision: ready }];
    }
    const old = obj(isvc.status);
    const oldConditions = Array.isArray(old.conditions) ? old.conditions.map(obj) : [];
    const condition = (type: string, ok: boolean): JsonObject => {
      const before = oldConditions.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      const why = failure ? { reason: failure.reason, message: failure.message } : { reason: 'RevisionMissing', message: `Revision "${revisionName(state.revision)}" is not ready.` };
      // Transition times change only with the condition.
      return { type, status, lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now(), ...(ok ? {} : why) };
    };
    const status: JsonObject = {
      observedGeneration: isvc.metadata.generation ?? 1,
      url: `http://${name}.${namespace}.example.com`,
      address: { url: `http://${name}-predictor.${namespace}.svc.cluster.local` },
      conditions: [condition('IngressReady', state.readyRevision !== undefined), condition('PredictorReady', ready), condition('Ready', ready)],
      components: {
        predictor: {
          latestCreatedRevision: revisionName(state.revision),
          ...(state.readyRevision !== undefined ? { latestReadyRevision: revisionName(state.readyRevision) } : {}),
          ...(previous !== undefined && previous !== state.revision ? { previousRolledoutRevision: revisionName(previous) } : {}),
          url: `http://${name}-predictor.${namespace}.example.com`,
          traffic,
        },
      },
    };
    if (!deepEqual(status, isvc.status)) this.controllerWrite(entry, (next) => (next.status = status), true);
  }
}
