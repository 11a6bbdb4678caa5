import {
  schemaDocuments,
  type Deployment,
  type DeploymentActionResult,
  type DeploymentList,
  type DeployPlan,
  type DeployProgress,
  type DeployRequest,
  type DeployResult,
  type Endpoint,
  type ModelList,
  type KubeContexts,
  type LiveStatus,
} from '@opsbook/schema';
import type { ModelChoice } from './DeployForm';

/** What a Deploy form holds, as the user typed it (numbers as text until they are checked). */
export interface DeployFormValues {
  model: string;
  context: string;
  namespace: string;
  name: string;
  image: string;
  replicas: string;
  gpu: string;
  target: 'deployment' | 'kserve';
  /** Percent of traffic as a canary; empty for none. */
  canary: string;
  /** Path of a data-quality suite the model's training data must pass; empty for none. */
  gate: string;
}

export const EMPTY_DEPLOY_FORM: DeployFormValues = {
  model: '',
  context: '',
  namespace: 'default',
  name: '',
  image: '',
  replicas: '2',
  gpu: '0',
  target: 'deployment',
  canary: '',
  gate: '',
};

type PatternDef = { pattern: string; description?: string };
const deployDefs = (schemaDocuments['deploy.schema.json'] as unknown as { $defs: Record<string, PatternDef> }).$defs;
// The contract's own patterns, so the form refuses exactly what the daemon would.
const NAME_PATTERN = new RegExp(deployDefs.DeployName.pattern);
const NAMESPACE_PATTERN = new RegExp(deployDefs.Namespace.pattern);

/** The form's field a problem is about, so the view marks that field. */
export type DeployField = keyof DeployFormValues;

/**
 * The request a form's values make, or the first field that is wrong and why (the same limits as
 * `DeployRequest` of deploy.schema.json). Context is left out when empty: the kubeconfig's current one.
 */
export function deployRequest(values: DeployFormValues): { request: DeployRequest } | { field: DeployField; error: string } {
  const model = values.model.trim();
  if (!model) return { field: 'model', error: 'Pick a model to deploy.' };
  const name = values.name.trim();
  if (!NAME_PATTERN.test(name)) {
    return { field: 'name', error: `Name "${name}": lower-case letters, digits and '-', starting with a letter, at most 40 characters.` };
  }
  const namespace = values.namespace.trim() || 'default';
  if (!NAMESPACE_PATTERN.test(namespace)) return { field: 'namespace', error: `Namespace "${namespace}" is not a DNS-1123 label.` };
  const image = values.image.trim();
  if (!image || /\s/.test(image)) return { field: 'image', error: 'Image: the serving runtime image, e.g. ghcr.io/you/opsbook-runtime@sha256:…' };
  const replicas = wholeNumber(values.replicas, 1, 1000);
  if (replicas === null) return { field: 'replicas', error: `Replicas "${values.replicas}": a whole number from 1 to 1000.` };
  const gpu = wholeNumber(values.gpu || '0', 0, 16);
  if (gpu === null) return { field: 'gpu', error: `GPUs "${values.gpu}": a whole number from 0 to 16.` };
  const request: DeployRequest = { model, name, image, namespace, replicas, gpu, target: values.target };
  if (values.canary.trim()) {
    const canary = wholeNumber(values.canary, 1, 99);
    if (canary === null) return { field: 'canary', error: `Canary "${values.canary}": a percentage from 1 to 99, or empty for none.` };
    request.canary = canary;
  }
  if (values.gate.trim()) request.gate = { suite: values.gate.trim() };
  if (values.context) request.context = values.context;
  return { request };
}

function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/** A deployment's name suggested from a model reference: `churn@prod` → `churn`. */
export function suggestedName(model: string): string {
  const base = (model.split('/').pop() ?? model).replace(/\.onnx$/i, '').split(/[:@]/)[0];
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return name;
}

/** Says how to point at a cluster, for when the daemon found no kubeconfig. */
export const NO_CLUSTER_HINT =
  'No kubeconfig found: set KUBECONFIG (in the environment the Jupyter server starts from) or write ~/.kube/config, then Refresh. Preview still shows the manifests.';

/** The line the form shows about the kubeconfig the daemon read. */
export function contextsSummary(contexts: KubeContexts): string {
  if (!contexts.kubeconfig || contexts.contexts.length === 0) return NO_CLUSTER_HINT;
  return `From ${contexts.kubeconfig}`;
}

/**
 * JSON as YAML (block style), for showing manifests as a user would write them. Strings that YAML
 * would read as something else (numbers, booleans, null, or text with special characters) are
 * double-quoted with JSON's escapes, which YAML reads back the same.
 */
export function toYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value
      .map((item) => {
        const inner = toYaml(item, `${indent}  `);
        return isBlock(item) ? `${indent}- ${inner.slice(indent.length + 2)}` : `${indent}- ${inner}`;
      })
      .join('\n');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return entries
      .map(([key, item]) => {
        const k = yamlScalar(key);
        return isBlock(item) ? `${indent}${k}:\n${toYaml(item, `${indent}  `)}` : `${indent}${k}: ${toYaml(item, `${indent}  `)}`;
      })
      .join('\n');
  }
  return yamlScalar(value);
}

function isBlock(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0;
}

// No leading digit, dot or sign: YAML would read .5, -1 or 1e3 as numbers.
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|y|n|null|~)$/i;

function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = String(value);
  return PLAIN.test(text) && !YAML_WORDS.test(text) ? text : JSON.stringify(text);
}

/** The manifests as one YAML stream, `---` between documents, as `kubectl apply -f` reads them. */
export function manifestsYaml(manifests: readonly unknown[]): string {
  return manifests.map((m) => toYaml(m)).join('\n---\n');
}

/** One line of a unified diff, with what it is for colouring. */
export interface DiffLine {
  kind: 'add' | 'remove' | 'hunk' | 'header' | 'context';
  text: string;
}

/** The lines of a unified diff, each classified; a rule of `=` (jsdiff's file separator) says nothing and is left out. */
export function diffLines(diff: string): DiffLine[] {
  const lines = diff.replace(/\n$/, '').split('\n');
  return lines
    .filter((text, i) => !(text === '' && i === lines.length - 1) && !/^=+$/.test(text))
    .map((text) => {
      if (text.startsWith('+++') || text.startsWith('---') || text.startsWith('Index:')) return { kind: 'header', text };
      if (text.startsWith('@@')) return { kind: 'hunk', text };
      if (text.startsWith('+')) return { kind: 'add', text };
      if (text.startsWith('-')) return { kind: 'remove', text };
      return { kind: 'context', text };
    });
}

/** How many lines a diff adds and removes. */
export function diffStat(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diffLines(diff)) {
    if (line.kind === 'add') added++;
    else if (line.kind === 'remove') removed++;
  }
  return { added, removed };
}

/** A deployment's state as its badge shows it: the live state, or "unknown" when the cluster was not reached. */
export function deploymentState(deployment: Pick<Deployment, 'live'>): LiveStatus['state'] {
  return deployment.live?.state ?? 'unknown';
}

export const STATE_TEXT: Record<LiveStatus['state'], string> = {
  available: 'Available',
  progressing: 'Progressing',
  failed: 'Failed',
  absent: 'Absent',
  unknown: 'Unknown',
};

export const PHASE_TEXT: Record<DeployProgress['phase'], string> = {
  gates: 'Checking gates',
  plan: 'Planning',
  apply: 'Applying',
  rollout: 'Rolling out',
  done: 'Done',
  failed: 'Failed',
};

/** A progress event as one line: `Rolling out 1/2: …`. */
export function progressText(progress: DeployProgress): string {
  const count = progress.total > 0 ? ` ${progress.done}/${progress.total}` : '';
  return `${PHASE_TEXT[progress.phase] ?? progress.phase}${count}${progress.message ? `: ${progress.message}` : ''}`;
}

/** A duration of a rollout, for people. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** What a `%deploy` output holds: which of the deploy documents it is (`deploy status NAME` answers one Deployment). */
export type DeployOutput =
  | { kind: 'plan'; value: DeployPlan }
  | { kind: 'result'; value: DeployResult }
  | { kind: 'list'; value: DeploymentList }
  | { kind: 'action'; value: DeploymentActionResult }
  | { kind: 'deployment'; value: Deployment }
  | { kind: 'unknown' };

/** Tells the deploy documents apart by their required fields. */
export function classifyDeployOutput(value: unknown): DeployOutput {
  if (value === null || typeof value !== 'object') return { kind: 'unknown' };
  const v = value as Record<string, unknown>;
  if (Array.isArray(v.deployments)) return { kind: 'list', value: value as DeploymentList };
  if (typeof v.action === 'string' && v.deployment) return { kind: 'action', value: value as DeploymentActionResult };
  if (typeof v.status === 'string' && v.plan) return { kind: 'result', value: value as DeployResult };
  if (Array.isArray(v.manifests) && Array.isArray(v.gates)) return { kind: 'plan', value: value as DeployPlan };
  if (typeof v.name === 'string' && typeof v.model_ref === 'string' && 'live' in v) return { kind: 'deployment', value: value as Deployment };
  return { kind: 'unknown' };
}

/**
 * The models the form offers: each registered model (latest, its aliases, its versions newest
 * first), then the models of running endpoints as they were served.
 */
export function modelChoices(registry: ModelList, endpoints: readonly Endpoint[]): ModelChoice[] {
  const choices: ModelChoice[] = [];
  for (const model of registry.models) {
    choices.push({ ref: model.name, label: `${model.name} (latest)`, group: 'Registered' });
    for (const alias of Object.keys(model.aliases)) choices.push({ ref: `${model.name}@${alias}`, label: `${model.name}@${alias}`, group: 'Registered' });
    const versions = [...model.versions].sort((a, b) => b.version - a.version);
    for (const v of versions) choices.push({ ref: `${model.name}:${v.version}`, label: `${model.name}:${v.version}`, group: 'Registered' });
  }
  const seen = new Set<string>();
  for (const endpoint of endpoints) {
    if (endpoint.status !== 'ready' && endpoint.status !== 'starting') continue;
    for (const m of endpoint.models) {
      if (seen.has(m.model)) continue;
      seen.add(m.model);
      choices.push({ ref: m.model, label: `${m.model} (served by ${endpoint.name})`, group: 'Served' });
    }
  }
  return choices;
}
