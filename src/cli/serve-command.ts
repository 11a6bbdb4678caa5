import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SchemaError, type Endpoint, type EndpointList, type EndpointLogs, type SchemaValidator, type ServeConfig, type ServedModelSpec } from '@opsbook/schema';
import type { OpsbookClient } from '../client/client';
import type * as Config from '../serving/config';
import type * as Foreground from '../serving/foreground';
import type * as Gpu from '../serving/gpu';
import { findDaemon } from '../daemon/daemon';
import { SUPERVISED_ENV } from '../daemon/serve-endpoints';
import { endpointName, servedNameOf } from '../serving/config';
import { BadInputError, NotFoundError } from '../store/errors';
import { parseModelRef } from '../tracking/registry';
import type { ParsedCommand } from './args';
import { connectDaemon, fromApiError } from './daemon-client';
import { EnvironmentError, EXIT_ENVIRONMENT, InterruptedError, UsageError } from './errors';
import { alignRows } from './format';
import type { CliOutput } from './runs-command';
import { cliValidator } from './validator';
import { workspaceOf } from './workspace';

/* eslint-disable @typescript-eslint/no-require-imports -- plain requires on use: webpack bundles them, and a
   command that does not serve in this process never loads onnxruntime-node. */
const serving = {
  foreground: () => require('../serving/foreground') as typeof Foreground,
  config: () => require('../serving/config') as typeof Config,
  gpu: () => require('../serving/gpu') as typeof Gpu,
};
/* eslint-enable @typescript-eslint/no-require-imports */

const SERVED_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * `opsbook serve MODEL… [--model [SERVED=]MODEL]… [--config F] [options]`: by default the workspace
 * daemon starts and supervises the server and this prints its endpoint; `--foreground` serves in this
 * process until SIGTERM/Ctrl-C and exits with the server's code.
 * @returns 0 once the endpoint is ready (or the foreground server stopped cleanly); the server's exit code otherwise.
 * @throws UsageError / BadInputError (exit 2) for no model, bad options, a file that is not ONNX, a
 *   server that loaded none of its models; NotFoundError (exit 2) for an unknown registry model;
 *   EnvironmentError (exit 3) when the port is taken or CUDA is unavailable with --device cuda.
 */
export async function serveCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const cwd = process.cwd();
  const workspace = workspaceOf(parsed.values.workspace as string | undefined, cwd);
  const config = serveConfigOf(parsed, cwd);
  if (parsed.values.foreground === true) {
    const resolved = await resolveForForeground(config, workspace);
    if (process.env[SUPERVISED_ENV] !== '1') return serving.foreground().runForeground(resolved);
    // Started by the daemon: its end (stdin closes when it dies, however it dies) stops this server too.
    const parentGone = new AbortController();
    const stop = (): void => parentGone.abort();
    process.stdin.once('end', stop).once('close', stop).once('error', stop).resume();
    try {
      return await serving.foreground().runForeground(resolved, { stop: parentGone.signal });
    } finally {
      process.stdin.off('end', stop).off('close', stop).off('error', stop);
      // An open stdin would keep this process alive after the server stopped.
      process.stdin.destroy();
    }
  }
  // Named here (as the daemon would name it), so Ctrl-C while the models load can stop it by name.
  const name = config.name ?? endpointName(config.models[0].name ?? defaultServedName(config.models[0].model));
  const client = await connectDaemon(workspace);
  let interrupted = false;
  const cancel = (): void => {
    interrupted = true;
    void client.stopEndpoint(name).catch(() => undefined);
  };
  process.once('SIGINT', cancel);
  let endpoint: Endpoint;
  try {
    endpoint = (await client.startEndpoint({ ...config, name })) as Endpoint;
  } catch (error) {
    if (interrupted) throw new InterruptedError(`interrupted: endpoint ${name} stopped before it was ready`);
    throw serveFailure(error);
  } finally {
    process.off('SIGINT', cancel);
  }
  if (interrupted) {
    await client.stopEndpoint(name).catch(() => undefined);
    throw new InterruptedError(`interrupted: endpoint ${name} stopped`);
  }
  return print(out, parsed.values.json === true, 'endpoint.schema.json', endpoint, (e) => formatEndpoint(e, config.api_key != null));
}

/**
 * The ServeConfig the command line asks for: the --config file (if any), the models named, and the
 * options over them; checked against serve-config.schema.json here, before any daemon is contacted.
 * @throws UsageError (exit 2) for no model, a malformed --model; BadInputError (exit 2) naming the field of a bad value.
 */
export function serveConfigOf(parsed: ParsedCommand, cwd: string): ServeConfig {
  const values = parsed.values;
  const configPath = values.config as string | undefined;
  const base: Partial<ServeConfig> = configPath === undefined ? {} : { ...readConfigFile(resolve(cwd, configPath)) };
  const named = [...(parsed.lists.model ?? []), ...((values.model as string[] | undefined) ?? [])].map((given) => modelSpec(given, cwd));
  const configDir = configPath === undefined ? cwd : dirname(resolve(cwd, configPath));
  // A model whose file is given (the daemon's config of a server it starts) is taken as it is; paths in a file are taken from its folder.
  const fromFile = (base.models ?? []).map((spec) => (spec.path !== undefined ? { ...spec, path: resolve(configDir, spec.path) } : { ...spec, model: localPath(spec.model, configDir) }));
  const models: ServedModelSpec[] = named.length > 0 ? named : fromFile;
  if (models.length === 0) throw new UsageError('serve needs a MODEL (NAME, NAME:VERSION, NAME@ALIAS or an .onnx file), --model, or --config FILE');
  const name = values.name as string | undefined;
  const version = values.version as string | undefined;
  if (version !== undefined && models.length > 1) throw new UsageError('--version applies to one model; give each of several its version in --config');
  if (models.length === 1) {
    // With one model, --name and --version also say what it is served as.
    if (name !== undefined && models[0].name === undefined) models[0] = { ...models[0], name };
    if (version !== undefined) models[0] = { ...models[0], version };
  }
  const apiKey = (values['api-key'] as string | undefined) ?? base.api_key ?? (process.env.OPSBOOK_SERVE_API_KEY || undefined);
  const config: ServeConfig = {
    ...base,
    models: models as ServeConfig['models'],
    ...defined('name', name ?? base.name),
    ...defined('host', values.host as string | undefined),
    ...defined('port', values.port as number | undefined),
    ...defined('device', values.device as ServeConfig['device'] | undefined),
    ...defined('max_batch', values['max-batch'] as number | undefined),
    ...defined('max_delay_us', values['max-delay-us'] as number | undefined),
    ...defined('workers', values.workers as number | undefined),
    ...defined('api_key', apiKey),
    ...(values.insecure === true ? { insecure: true } : {}),
    ...defined('body_limit_bytes', values['body-limit'] as number | undefined),
    ...(values['allow-nonfinite'] === true ? { nonfinite: 'allow' as const } : {}),
    ...(values['no-request-log'] === true ? { request_log: false } : {}),
  };
  const issue = cliValidator().check('serve-config.schema.json', config);
  if (issue) {
    const field = optionOf(issue.field);
    // The key is never echoed: the schema's message would end with it.
    if (field === 'api-key') throw new BadInputError(field, null, '--api-key must be at least 16 characters');
    throw new BadInputError(field, issue.value, `${field === '/' ? 'the serve config' : `--${field}`}: ${issue.message}`);
  }
  const host = config.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !config.api_key && config.insecure !== true) {
    throw new BadInputError('host', host, `--host ${host} is not loopback: give --api-key (or $OPSBOOK_SERVE_API_KEY), or --insecure`);
  }
  return config;
}

/** The option a schema field comes from (`/max_batch` → `max-batch`), for messages. */
function optionOf(pointer: string): string {
  const known: Record<string, string> = { max_batch: 'max-batch', max_delay_us: 'max-delay-us', api_key: 'api-key', body_limit_bytes: 'body-limit', models: 'model' };
  const first = pointer.split('/')[1] ?? '';
  return first === '' ? '/' : (known[first] ?? first);
}

function defined<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** `MODEL` or `SERVED=MODEL`, with a path made absolute (the daemon resolves paths from the workspace, not here). */
function modelSpec(given: string, cwd: string): ServedModelSpec {
  const equals = given.indexOf('=');
  const served = equals > 0 ? given.slice(0, equals) : undefined;
  if (served !== undefined && SERVED_NAME.test(served)) {
    const model = given.slice(equals + 1);
    if (model === '') throw new UsageError(`--model ${JSON.stringify(given)} names no model after "="`);
    return { model: localPath(model, cwd), name: served };
  }
  return { model: localPath(given, cwd) };
}

/** A path (anything parseModelRef reads as one) made absolute; a registry reference as given. */
function localPath(ref: string, from: string): string {
  let kind: string;
  try {
    kind = parseModelRef(ref).kind;
  } catch (error) {
    if (error instanceof BadInputError) throw new BadInputError('model', ref, error.message);
    throw error;
  }
  if (kind !== 'path') return ref;
  const path = resolve(from, ref);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new BadInputError('model', ref, `model ${JSON.stringify(ref)}: no such file (${path})`);
  return path;
}

/** @throws BadInputError (exit 2) naming the field of a file that is not a ServeConfig, or `config` for one that cannot be read. */
function readConfigFile(path: string): ServeConfig {
  const { readServeConfig, ConfigError } = serving.config();
  try {
    return readServeConfig(path);
  } catch (error) {
    if (error instanceof SchemaError) throw new BadInputError(`config${error.issue.field}`, error.issue.value, `--config ${path}: ${error.issue.message}`);
    if (error instanceof ConfigError) throw new BadInputError('config', path, error.message);
    throw error;
  }
}

/**
 * The config with every model's file: paths as they are, registry references resolved through the
 * workspace daemon (started if none runs, as other commands do); served names and versions defaulted.
 */
async function resolveForForeground(config: ServeConfig, workspace: string): Promise<ServeConfig> {
  let client: OpsbookClient | undefined;
  const models: ServedModelSpec[] = [];
  for (const spec of config.models) {
    if (spec.path !== undefined) {
      models.push(spec);
      continue;
    }
    if (parseModelRef(spec.model).kind === 'path') {
      models.push({ ...spec, path: spec.model, name: spec.name ?? servedNameOf(spec.model), version: spec.version ?? '1' });
      continue;
    }
    client ??= await connectDaemon(workspace);
    let resolved: Awaited<ReturnType<OpsbookClient['resolveModel']>>;
    try {
      resolved = await client.resolveModel(spec.model);
    } catch (error) {
      throw fromApiError(error, 'model');
    }
    models.push({
      ...spec,
      path: resolved.path,
      name: spec.name ?? resolved.version?.name ?? servedNameOf(resolved.path),
      version: spec.version ?? String(resolved.version?.version ?? 1),
      run_id: resolved.version?.run_id ?? null,
    });
  }
  return { ...config, models: models as ServeConfig['models'] };
}

/** The name a model is served under by default: the registry name, or the file's. */
function defaultServedName(model: string): string {
  const ref = parseModelRef(model);
  return ref.kind === 'path' ? servedNameOf(ref.path) : ref.name;
}

/** startEndpoint's refusal as the CLI's error: the port taken or no CUDA is the machine's problem (exit 3). */
function serveFailure(error: unknown): unknown {
  const mapped = fromApiError(error, 'model');
  if (mapped instanceof Error && 'field' in mapped && (mapped as { field?: string }).field === 'port') return new EnvironmentError(mapped.message);
  return mapped;
}

/**
 * `opsbook endpoints list|show|stop|logs`: asks the workspace's daemon; with none running there are no
 * endpoints, and no daemon is started to say so.
 * @throws NotFoundError (exit 2) for an unknown endpoint.
 */
export async function endpointsCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const json = parsed.values.json === true;
  const running = await findDaemon(workspace);
  const name = parsed.positionals.name;
  if (!running) {
    if (parsed.command === 'endpoints list') return print(out, json, 'endpoint.schema.json#/$defs/EndpointList', { endpoints: [] }, formatEndpointList);
    throw new NotFoundError('name', name, `no endpoint named ${JSON.stringify(name)} (no opsbook daemon runs for ${workspace})`);
  }
  const client = await connectDaemon(workspace);
  try {
    switch (parsed.command) {
      case 'endpoints list':
        return print(out, json, 'endpoint.schema.json#/$defs/EndpointList', (await client.listEndpoints()) as EndpointList, formatEndpointList);
      case 'endpoints show':
        return print(out, json, 'endpoint.schema.json', (await client.getEndpoint(name)) as Endpoint, (e) => formatEndpoint(e, false));
      case 'endpoints stop':
        return print(out, json, 'endpoint.schema.json', (await client.stopEndpoint(name)) as Endpoint, (e) => `endpoint ${e.name} ${e.status}${e.error ? `: ${e.error}` : ''}\n`);
      default: {
        const tail = parsed.values.tail as number | undefined;
        if (tail !== undefined && (tail < 1 || tail > 1000)) throw new BadInputError('tail', tail, `--tail must be between 1 and 1000, not ${tail}`);
        return print(out, json, 'endpoint.schema.json#/$defs/EndpointLogs', await client.endpointLogs(name, tail), formatLogs);
      }
    }
  } catch (error) {
    throw fromApiError(error, 'name');
  }
}

/** `opsbook gpu setup [--check] [--json]`: exit 0 when onnxruntime-node's CUDA provider loads, 3 when not. */
export async function gpuCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  let status: Awaited<ReturnType<typeof Gpu.gpuSetup>>;
  try {
    status = await serving.gpu().gpuSetup({ check: parsed.values.check === true, log: (fields) => out.stderr(`${fields.msg}\n`) });
  } catch (error) {
    // pip missing or refused, no network, a wheel without the libraries: the machine's problem.
    throw new EnvironmentError(`gpu setup failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (parsed.values.json === true) out.stdout(`${JSON.stringify(status)}\n`);
  else {
    out.stdout(`CUDA ${status.cuda ? 'loads' : 'does not load'}: ${status.reason}\n`);
    out.stdout(`provider libraries: ${status.provider_dir}\n`);
    if (status.library_path) out.stdout(`library path: ${status.library_path}\n`);
  }
  return status.cuda ? 0 : EXIT_ENVIRONMENT;
}

function print<T>(out: CliOutput, json: boolean, schema: Parameters<SchemaValidator['assert']>[0], value: T, text: (value: T) => string): number {
  out.stdout(json ? `${JSON.stringify(cliValidator().assert<T>(schema, value))}\n` : text(value));
  return 0;
}

/** An endpoint for people: where it answers, on what, its models, and a request to try. */
export function formatEndpoint(e: Endpoint, keyed: boolean): string {
  const lines = [`endpoint ${e.name} ${e.status}${e.url ? ` at ${e.url}` : ''}${e.device ? ` (${e.device})` : ''}${e.error ? `: ${e.error}` : ''}\n`];
  lines.push(
    alignRows(
      e.models.map((m) => [
        `  ${m.name}`,
        `version ${m.version}`,
        m.ready ? 'ready' : m.error ? 'FAILED' : 'loading',
        m.error ?? m.inputs.map((i) => `${i.name}:${i.datatype}[${i.shape.join(',')}]`).join(' '),
      ]),
    ),
  );
  if (e.stats) lines.push(`traffic: ${e.stats.requests} requests, ${e.stats.errors} errors, ${e.stats.rps} req/s, p50 ${e.stats.p50_ms ?? '-'} ms, p99 ${e.stats.p99_ms ?? '-'} ms\n`);
  if (e.request_log_dir) lines.push(`request log: ${e.request_log_dir}\n`);
  const sample = e.models.find((m) => m.ready && m.sample_request);
  if (e.url && e.status === 'ready' && sample) {
    const auth = keyed ? ` -H "Authorization: Bearer $OPSBOOK_SERVE_API_KEY"` : '';
    const body = JSON.stringify(sample.sample_request).replace(/'/g, "'\\''");
    lines.push(`try it:\n  curl -s ${e.url}/v2/models/${sample.name}/infer -H 'Content-Type: application/json'${auth} -d '${body}'\n`);
  }
  return lines.join('');
}

function formatEndpointList(list: EndpointList): string {
  if (list.endpoints.length === 0) return 'No endpoints.\n';
  const rows = list.endpoints.map((e) => [
    e.name,
    e.status,
    e.url ?? '-',
    e.device ?? '-',
    e.models.map((m) => `${m.name}:${m.version}${m.ready ? '' : '!'}`).join(' '),
    e.stats ? String(e.stats.rps) : '-',
    e.stats?.p99_ms == null ? '-' : String(e.stats.p99_ms),
  ]);
  return alignRows([['NAME', 'STATUS', 'URL', 'DEVICE', 'MODELS', 'REQ/S', 'P99 MS'], ...rows]);
}

function formatLogs(logs: EndpointLogs): string {
  return logs.lines.map((line) => `${JSON.stringify(line)}\n`).join('');
}
