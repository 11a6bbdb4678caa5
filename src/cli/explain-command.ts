import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { DataSource, Explanation } from '@opsbook/schema';
import { OpsbookApiError } from '../client/client';
// The source check only: the capability's index would load onnxruntime-node and the sandbox.
import { describedHandoff, resolveSource } from '../quality/source';
import { BadInputError } from '../store/errors';
import type { ParsedCommand } from './args';
import { connectDaemon, fromApiError } from './daemon-client';
import { alignRows } from './format';
import { InterruptedError } from './errors';
import type { CliOutput } from './runs-command';
import { cliValidator } from './validator';
import { workspaceOf } from './workspace';

/** Features listed in the human output. */
const SHOWN_FEATURES = 10;

/**
 * `opsbook explain MODEL --data X [--background BG] [--rows 0:100] [--method tree|kernel|lime]
 * [--output NAME] [--nsamples N] [--seed S] [--no-record] [--json]`. The data files (and a model given
 * as a path) are checked here before the daemon is contacted: bad input exits 2 with nothing written.
 * The work runs in the workspace's daemon (a worker thread there); Ctrl-C cancels it (exit 130).
 * @returns 0 once explained.
 * @throws BadInputError (exit 2) for a model that is not ONNX, `--method tree` on a model without a tree
 *   ensemble, data whose columns do not fit the model, bad rows; NotFoundError (exit 2) for an unknown model.
 */
export async function explainCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const cwd = process.cwd();
  const workspace = workspaceOf(parsed.values.workspace as string | undefined, cwd);
  const model = localModel(parsed.positionals.model, cwd);
  const dataPath = parsed.values.data as string | undefined;
  if (dataPath === undefined) throw new BadInputError('data', null, 'explain needs --data FILE: the rows to explain');
  const data = await localSource(dataPath, cwd, 'data', workspace);
  const backgroundPath = parsed.values.background as string | undefined;
  const background = backgroundPath === undefined ? undefined : await localSource(backgroundPath, cwd, 'background', workspace);
  const client = await connectDaemon(workspace);
  const jobId = `cli-${randomUUID()}`;
  let interrupted = false;
  const cancel = (): void => {
    interrupted = true;
    void client.cancelExplainJob(jobId).catch(() => undefined);
  };
  process.once('SIGINT', cancel);
  let explanation: Explanation;
  try {
    explanation = (await client.explainModel({
      model,
      data,
      job_id: jobId,
      ...(background ? { background } : {}),
      ...optional('rows', parsed.values.rows as string | undefined),
      ...optional('method', parsed.values.method as Explanation['method'] | undefined),
      ...optional('output', parsed.values.output as string | undefined),
      ...optional('nsamples', parsed.values.nsamples as number | undefined),
      ...optional('seed', parsed.values.seed as number | undefined),
      ...(parsed.values['no-record'] === true ? { record: false } : {}),
    })) as Explanation;
  } catch (error) {
    if (interrupted && error instanceof OpsbookApiError && error.status === 409) throw new InterruptedError(`interrupted: ${error.message}`);
    throw fromApiError(error, 'model');
  } finally {
    process.off('SIGINT', cancel);
  }
  out.stdout(parsed.values.json === true ? `${JSON.stringify(cliValidator().assert<Explanation>('explanation.schema.json', explanation))}\n` : formatExplanation(explanation));
  return 0;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/**
 * A model reference as the daemon takes it: a path (anything with '/' or ending in .onnx) made
 * absolute and checked to be a file here; a registry reference as given.
 * @throws BadInputError (field model) when the path is not a readable file.
 */
export function localModel(ref: string, cwd: string): string {
  if (!ref.includes('/') && !ref.includes('\\') && !ref.toLowerCase().endsWith('.onnx')) return ref;
  const path = resolve(cwd, ref);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new BadInputError('model', ref, `model ${JSON.stringify(ref)}: no such file`);
  return path;
}

/** @throws BadInputError naming `<field>.path` when the file is missing or of an unknown format. */
async function localSource(path: string, cwd: string, field: 'data' | 'background', workspace: string): Promise<DataSource> {
  const resolved = await resolveSource({ path }, cwd, field);
  return { path: resolved.path, format: resolved.format, label: basename(path), ...describedHandoff(resolved.path, workspace) };
}

/**
 * An explanation for people: what was explained, the features by mean |value| over the rows, and the
 * first row's contributions from its base value to its prediction (LIME: its conditions and weights).
 */
export function formatExplanation(e: Explanation): string {
  const rows = e.values.length;
  const M = e.feature_names.length;
  const what = `${e.method === 'tree' ? `TreeSHAP (${e.tree_mode ?? 'interventional'})` : e.method === 'kernel' ? 'KernelSHAP' : 'LIME'} of ${e.model.ref}`;
  const output = `${e.output.name}${e.output.label !== undefined ? ` = ${String(e.output.label)}` : e.output.index > 0 ? `[${e.output.index}]` : ''}`;
  const lines = [`${what}, output ${output}: ${rows} row${rows === 1 ? '' : 's'} of ${e.data?.label ?? 'the data'} in ${e.seconds.toFixed(2)} s\n\n`];
  const mean = Array.from({ length: M }, (_, j) => e.values.reduce((s, row) => s + Math.abs(row[j]), 0) / Math.max(1, rows));
  const order = mean.map((_, j) => j).sort((a, b) => mean[b] - mean[a]);
  const shown = order.slice(0, SHOWN_FEATURES);
  lines.push(`${alignRows([['FEATURE', e.method === 'lime' ? 'MEAN |WEIGHT|' : 'MEAN |SHAP|'], ...shown.map((j) => [e.feature_names[j], number(mean[j])])])}`);
  if (M > shown.length) lines.push(`  … ${M - shown.length} more features\n`);
  if (rows > 0) {
    const first = e.rows[0];
    if (e.method === 'lime' && e.lime?.[0]) {
      const lime = e.lime[0];
      lines.push(`\nrow ${first}: intercept ${number(lime.intercept)}, local prediction ${number(lime.local_prediction)}, model ${number(e.predictions?.[0] ?? NaN)}, fit R² ${number(lime.score)}\n`);
      lines.push(alignRows(lime.weights.map((w) => [w.condition, signed(w.weight)])));
    } else {
      const row = e.values[0];
      const top = row.map((_, j) => j).sort((a, b) => Math.abs(row[b]) - Math.abs(row[a])).slice(0, SHOWN_FEATURES);
      lines.push(`\nrow ${first}: base ${number(e.base_values[0])} → prediction ${number(e.predictions?.[0] ?? e.base_values[0] + row.reduce((s, v) => s + v, 0))}\n`);
      lines.push(alignRows(top.map((j) => [`${e.feature_names[j]} = ${number(e.features[0][j] ?? NaN)}`, signed(row[j])])));
    }
  }
  if (e.artifact) lines.push(`\nrecorded on run ${e.run_id ?? ''} as ${e.artifact}\n`);
  return lines.join('');
}

function number(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : ''}${number(v)}`;
}
