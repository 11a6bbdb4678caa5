/**
 * The server's configuration: a ServeConfig (schema/serve-config.schema.json) from a --config file
 * (YAML or JSON) or built by the CLI, checked, with defaults applied and every model's file resolved.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SchemaValidator, type ServeConfig, type ServedModelSpec } from '@opsbook/schema';
import type { ResolvedServeConfig } from './types';

/** A configuration the server refuses to start with (the process exits 2, fatal code bad_input). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  device: 'auto',
  max_batch: 64,
  max_delay_us: 200,
  insecure: false,
  body_limit_bytes: 64 * 1024 * 1024,
  nonfinite: 'reject',
  request_log: true,
  request_log_dir: 'opsbook-requests',
} as const;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export const API_KEY_ENV = 'OPSBOOK_SERVE_API_KEY';

export interface ResolveOptions {
  /** Relative model paths and request_log_dir are taken from here (the config file's folder, or the cwd). */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** The name a file is served under by default: its stem, with what a served name cannot hold replaced by '-'. */
export function servedNameOf(file: string): string {
  const name = path.basename(file, path.extname(file)).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return name === '' ? 'model' : name;
}

/** The default endpoint name: a served model name as a DNS label. */
export function endpointName(served: string): string {
  const label = served.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 63).replace(/-+$/, '');
  return label === '' ? 'endpoint' : label;
}

/** NAME, NAME:VERSION or NAME@ALIAS when `model` is not a file: the name and version it names. */
function registryParts(model: string): { name: string; version: string | null } {
  const at = model.search(/[:@]/);
  if (at < 0) return { name: model, version: null };
  return { name: model.slice(0, at), version: model[at] === ':' ? model.slice(at + 1) : null };
}

function resolveModel(spec: ServedModelSpec, baseDir: string): ServedModelSpec & { name: string; version: string; path: string } {
  const isFile = spec.model.toLowerCase().endsWith('.onnx') || spec.model.includes('/') || spec.model.includes(path.sep);
  let file = spec.path;
  if (!file) {
    if (!isFile) {
      throw new ConfigError(`model ${spec.model} is a registry reference without a path: serve it through the workspace daemon (opsbook serve without --foreground), or give the .onnx file`);
    }
    file = spec.model;
  }
  const registry = isFile ? null : registryParts(spec.model);
  // A file's stem may hold characters a served name cannot ("churn model (v2).onnx").
  const name = spec.name ?? registry?.name ?? servedNameOf(spec.model);
  const version = spec.version ?? registry?.version ?? '1';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new ConfigError(`model ${spec.model}: "${name}" cannot be a served name (letters, digits, '.', '_', '-'); give one with name`);
  }
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(version)) throw new ConfigError(`model ${spec.model}: "${version}" cannot be a served version`);
  return { ...spec, name, version, path: path.resolve(baseDir, file) };
}

/**
 * Checks a ServeConfig and applies the defaults.
 * @throws ConfigError for a config that does not match the schema, two models served under one
 *   name and version, a registry reference without a path, or a non-loopback host without an API key.
 */
export function resolveServeConfig(value: unknown, options: ResolveOptions = {}): ResolvedServeConfig {
  const issue = SchemaValidator.shared().check('serve-config.schema.json', value);
  if (issue) throw new ConfigError(`invalid serve config: ${issue.message}`);
  const config = value as ServeConfig;
  const baseDir = options.baseDir ?? process.cwd();
  const env = options.env ?? process.env;
  const models = config.models.map((spec) => resolveModel(spec, baseDir));
  const seen = new Set<string>();
  for (const model of models) {
    const key = `${model.name}/${model.version}`;
    if (seen.has(key)) throw new ConfigError(`two models are served as ${model.name} version ${model.version}`);
    seen.add(key);
  }
  const envKey = env[API_KEY_ENV];
  const apiKey = config.api_key ?? (envKey ? envKey : null);
  if (apiKey !== null && apiKey.length < 16) throw new ConfigError(`the API key must be at least 16 characters (${API_KEY_ENV} or api_key)`);
  const host = config.host ?? DEFAULTS.host;
  const insecure = config.insecure ?? DEFAULTS.insecure;
  if (!LOOPBACK.has(host) && apiKey === null && !insecure) {
    throw new ConfigError(`host ${host} is reachable from other machines: set an API key (--api-key or ${API_KEY_ENV}) or pass --insecure`);
  }
  const device = config.device ?? DEFAULTS.device;
  return {
    name: config.name ?? endpointName(models[0].name),
    models: models as ResolvedServeConfig['models'],
    host,
    port: config.port ?? DEFAULTS.port,
    device,
    max_batch: config.max_batch ?? DEFAULTS.max_batch,
    max_delay_us: config.max_delay_us ?? DEFAULTS.max_delay_us,
    // One session per core on the CPU; a GPU is shared better by one session than by many.
    workers: config.workers ?? (device === 'cuda' ? 1 : availableParallelism()),
    api_key: apiKey,
    insecure,
    body_limit_bytes: config.body_limit_bytes ?? DEFAULTS.body_limit_bytes,
    nonfinite: config.nonfinite ?? DEFAULTS.nonfinite,
    request_log: config.request_log ?? DEFAULTS.request_log,
    request_log_dir: path.resolve(baseDir, config.request_log_dir ?? DEFAULTS.request_log_dir),
  };
}

/**
 * Reads a --config file (YAML or JSON; JSON is YAML) as the ServeConfig it holds, paths as written.
 * @throws ConfigError when the file cannot be read or parsed; SchemaError naming the field when it
 *   is not a ServeConfig.
 */
export function readServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config ${file} is not YAML or JSON: ${(error as Error).message}`);
  }
  return SchemaValidator.shared().assert<ServeConfig>('serve-config.schema.json', value);
}

/** Reads a --config file and resolves it; relative paths in it are taken from the file's folder. */
export function loadServeConfig(file: string, env: NodeJS.ProcessEnv = process.env): ResolvedServeConfig {
  return resolveServeConfig(readServeConfig(file), { baseDir: path.dirname(path.resolve(file)), env });
}
