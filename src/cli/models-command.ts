import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelAlias, ModelList, ModelVersion, RegisteredModel, SchemaValidator } from '@opsbook/schema';
import { BadInputError } from '../store/errors';
import { parseModelRef } from '../tracking/registry';
import type { ParsedCommand } from './args';
import { connectDaemon, fromApiError } from './daemon-client';
import { UsageError } from './errors';
import type { CliOutput } from './runs-command';
import { workspaceOf } from './workspace';
import { cliValidator } from './validator';

/**
 * `opsbook models list`, `opsbook models show NAME[:VERSION|@ALIAS]` and
 * `opsbook models alias NAME:VERSION ALIAS`, answered by the workspace's daemon.
 * @throws BadInputError (exit 2) for a malformed reference; NotFoundError (exit 2) for an unknown model,
 *   version or alias; UsageError for `alias` without a version.
 * @throws EnvironmentError when no daemon answers for the workspace and none can be started.
 */
export async function modelsCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const json = parsed.values.json === true;
  if (parsed.command === 'models list' && !existsSync(join(workspace, '.opsbook', 'opsbook.duckdb'))) {
    // A workspace with no store has no models, and needs no daemon to say so.
    return print(out, json, 'model-list.schema.json', { models: [] }, formatModelList);
  }
  if (parsed.command === 'models show' || parsed.command === 'models alias') parseModelRef(parsed.positionals.model);
  const client = await connectDaemon(workspace);
  try {
    if (parsed.command === 'models list') return print(out, json, 'model-list.schema.json', await client.listModels(), formatModelList);
    if (parsed.command === 'models show') {
      const ref = parseModelRef(parsed.positionals.model);
      if (ref.kind === 'latest') return print(out, json, 'model.schema.json', await client.getModel(ref.name), formatModel);
      const resolved = await client.resolveModel(parsed.positionals.model);
      if (!resolved.version) throw new BadInputError('model', parsed.positionals.model, 'models show takes a registered model, not an .onnx path');
      return print(out, json, 'model-version.schema.json', { ...resolved.version }, (v) => formatVersion(v, resolved.path));
    }
    const ref = parseModelRef(parsed.positionals.model);
    if (ref.kind !== 'version') {
      throw new UsageError(`models alias needs NAME:VERSION, got ${JSON.stringify(parsed.positionals.model)}`);
    }
    const alias = await client.setModelAlias(ref.name, parsed.positionals.alias, ref.version);
    return print(out, json, 'model-alias.schema.json', alias, (a: ModelAlias) => `${a.name}@${a.alias} -> version ${a.version}\n`);
  } catch (error) {
    throw fromApiError(error, 'model');
  }
}

function print<T>(out: CliOutput, json: boolean, schema: Parameters<SchemaValidator['assert']>[0], value: T, text: (value: T) => string): number {
  out.stdout(json ? `${JSON.stringify(cliValidator().assert<T>(schema, value))}\n` : text(value));
  return 0;
}

function formatModelList(list: ModelList): string {
  if (list.models.length === 0) return 'No registered models.\n';
  const rows = list.models.map((m) => [
    m.name,
    String(m.latest_version),
    String(m.versions.length),
    Object.entries(m.aliases).map(([alias, version]) => `${alias}=${version}`).join(' '),
    m.versions[0]?.flavor ?? '',
  ]);
  return table([['NAME', 'LATEST', 'VERSIONS', 'ALIASES', 'FLAVOR'], ...rows]);
}

function formatModel(model: RegisteredModel): string {
  const head = `${model.name}${model.description ? ` — ${model.description}` : ''}\n`;
  const rows = model.versions.map((v) => [
    String(v.version),
    v.flavor,
    v.parity_max_abs_diff === null ? '' : v.parity_max_abs_diff.toExponential(2),
    v.aliases.join(' '),
    v.run_id ?? '',
    v.created_at,
  ]);
  return head + table([['VERSION', 'FLAVOR', 'PARITY', 'ALIASES', 'RUN', 'CREATED'], ...rows]);
}

function formatVersion(version: ModelVersion, path: string): string {
  const features = version.signature.feature_names?.join(', ') ?? '(array input)';
  return [
    `${version.name}:${version.version}${version.aliases.length ? ` (${version.aliases.map((a) => `@${a}`).join(' ')})` : ''}`,
    `flavor     ${version.flavor}`,
    `file       ${path}`,
    `run        ${version.run_id ?? ''}`,
    `features   ${features}`,
    `inputs     ${version.signature.inputs.map((i) => `${i.name}:${i.dtype}[${i.shape.map((d) => d ?? '?').join(',')}]`).join(' ')}`,
    `outputs    ${version.signature.outputs.map((o) => `${o.name}:${o.dtype}`).join(' ')}`,
    `parity     ${version.parity_max_abs_diff === null ? 'not checked' : `max |diff| ${version.parity_max_abs_diff.toExponential(2)}`}`,
    `data       ${version.data_fingerprint ? `${version.data_fingerprint.rows} rows, ${version.data_fingerprint.hash.slice(0, 19)}…` : ''}`,
    `created    ${version.created_at}`,
    '',
  ].join('\n');
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}
