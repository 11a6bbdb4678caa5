import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { CheckOutcome, CheckResult, CheckSuite, ColumnDrift, DataProfile, DataSource, DriftReport, SuggestResult } from '@opsbook/schema';
import { OpsbookApiError, type OpsbookClient } from '../client/client';
// The suite parser and the source check only: the capability's index would load apache-arrow and the sandbox.
import { describedHandoff, resolveSource } from '../quality/source';
import { parseSuiteText } from '../quality/suite';
import { BadInputError } from '../store/errors';
import type { ParsedCommand } from './args';
import { connectDaemon, fromApiError } from './daemon-client';
import { alignRows, indent } from './format';
import { InterruptedError, UsageError } from './errors';
import type { CliOutput } from './runs-command';
import { resolveRunId } from './source';
import { cliValidator } from './validator';
import { workspaceOf } from './workspace';

/** Exit code of a table that failed its checks, or of two tables that drifted apart. */
const EXIT_FAILED = 1;
/** Sample rows shown per failed check in the human output (the JSON carries all that were fetched). */
const SHOWN_SAMPLE_ROWS = 5;

/**
 * `opsbook check DATA --suite FILE [--reference REF] [--run ID] [--samples N]`, `opsbook check DATA --suggest`,
 * `opsbook profile DATA` and `opsbook drift DATA REFERENCE [--column C]...`. The suite is read and parsed,
 * and the data files checked, here, before the daemon is contacted or started: bad input exits 2 with
 * nothing written. The work runs in the workspace's daemon.
 * @returns 0 when every check passed (or no column drifted), 1 when one failed or could not run (or a
 *   column drifted).
 * @throws BadInputError (exit 2) for a bad suite (naming the field and the line) or an unreadable file;
 *   NotFoundError (exit 2) for an unknown run; EnvironmentError (exit 3) when no daemon can be started.
 */
export async function qualityCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const json = parsed.values.json === true;
  const cwd = process.cwd();
  const workspace = workspaceOf(parsed.values.workspace as string | undefined, cwd);
  const data = await localSource(parsed.positionals.data, cwd, 'data', workspace);
  if (parsed.command === 'profile') {
    const profile = await inDaemon(parsed, 'data', (client, jobId) =>
      client.profileData({ data, bins: parsed.values.bins as number | undefined, top: parsed.values.top as number | undefined, job_id: jobId }),
    );
    return print(out, json, 'data-profile.schema.json', profile, formatProfile, 0);
  }
  if (parsed.command === 'drift') {
    const reference = await localSource(parsed.positionals.reference, cwd, 'reference', workspace);
    const columns = parsed.values.column as string[] | undefined;
    const report = await inDaemon(parsed, 'data', (client, jobId) =>
      client.compareDrift({ data, reference, columns, bins: parsed.values.bins as number | undefined, job_id: jobId }),
    );
    return print(out, json, 'drift-report.schema.json', report, formatDrift, report.columns.some((c) => c.drifted) ? EXIT_FAILED : 0);
  }
  if (parsed.values.suggest === true) {
    const suggested = await inDaemon(parsed, 'data', (client, jobId) => client.suggestSuite({ data, job_id: jobId }));
    return print(out, json, 'quality-request.schema.json#/$defs/SuggestResult', suggested, (s: SuggestResult) => s.yaml, 0);
  }
  const suiteFile = parsed.values.suite as string | undefined;
  if (suiteFile === undefined) throw new UsageError('check needs --suite FILE (or --suggest to print a starting suite)');
  const suite = readSuite(suiteFile, cwd);
  const referencePath = parsed.values.reference as string | undefined;
  const reference = referencePath === undefined ? undefined : await localSource(referencePath, cwd, 'reference', workspace);
  const samples = parsed.values.samples as number | undefined;
  if (samples !== undefined && (samples < 0 || samples > 20)) throw new UsageError(`--samples must be between 0 and 20, not ${samples}`);
  const runId = (parsed.values.run as string | undefined) ?? (process.env.OPSBOOK_RUN_ID || undefined);
  const result = await inDaemon(parsed, runId === undefined ? 'data' : 'run_id', async (client, jobId) =>
    client.runQualityCheck({
      data,
      suite,
      suite_dir: dirname(resolve(cwd, suiteFile)),
      job_id: jobId,
      ...(reference ? { reference } : {}),
      // A unique prefix names a run here as everywhere else in the CLI.
      ...(runId ? { run_id: await resolveRunId(client, runId) } : {}),
      ...(samples !== undefined ? { samples } : {}),
    }),
  );
  return print(out, json, 'check-result.schema.json', result, formatCheckResult, result.status === 'pass' ? 0 : EXIT_FAILED);
}

/**
 * A data file as the daemon is to read it: its absolute real path, after checking here that it exists
 * and is readable, and that its format is known.
 * @throws BadInputError naming `<field>.path` (or `.format`).
 */
async function localSource(path: string, cwd: string, field: 'data' | 'reference', workspace: string): Promise<DataSource> {
  const resolved = await resolveSource({ path }, cwd, field);
  return { path: resolved.path, format: resolved.format, label: basename(path), ...describedHandoff(resolved.path, workspace) };
}

/**
 * The suite file, read and checked against the schema.
 * @throws BadInputError naming `suite` when the file cannot be read, or the field and the line of a malformed suite.
 */
function readSuite(file: string, cwd: string): CheckSuite {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read';
    throw new BadInputError('suite', file, `suite file ${JSON.stringify(file)}: ${why}`);
  }
  return parseSuiteText(text, basename(file));
}

/**
 * Sends one quality request to the workspace's daemon under a job id of its own, which Ctrl-C cancels
 * (a second Ctrl-C ends the CLI at once), exiting 130. The daemon's error answers become the CLI's errors.
 */
async function inDaemon<T>(parsed: ParsedCommand, field: string, call: (client: OpsbookClient, jobId: string) => Promise<T>): Promise<T> {
  const client = await connectDaemon(workspaceOf(parsed.values.workspace as string | undefined));
  const jobId = `cli-${randomUUID()}`;
  let interrupted = false;
  const cancel = (): void => {
    interrupted = true;
    void client.cancelQualityJob(jobId).catch(() => undefined);
  };
  process.once('SIGINT', cancel);
  try {
    return await call(client, jobId);
  } catch (error) {
    if (interrupted && error instanceof OpsbookApiError && error.status === 409) throw new InterruptedError(`interrupted: ${error.message}`);
    throw fromApiError(error, field);
  } finally {
    process.off('SIGINT', cancel);
  }
}

/** Prints the answer, as one JSON document checked against its schema or as text; returns `code`. */
function print<T>(
  out: CliOutput,
  json: boolean,
  schema: Parameters<ReturnType<typeof cliValidator>['assert']>[0],
  value: unknown,
  text: (value: T) => string,
  code: number,
): number {
  // The API's answer types come from openapi.json, the formatters' from the schemas: the same documents.
  out.stdout(json ? `${JSON.stringify(cliValidator().assert<T>(schema, value))}\n` : text(value as T));
  return code;
}

const MARKS: Record<CheckOutcome['status'], string> = { pass: '✓', fail: '✗', error: '!' };

/**
 * A check result for people: one line per check (✓ passed, ✗ failed, ! could not run) with what was
 * observed against what was expected and the failing rows, then a few sample rows of each failed
 * check, then a summary line.
 */
export function formatCheckResult(result: CheckResult): string {
  const rows = result.checks.map((check) => [
    `${MARKS[check.status]} ${check.check}`,
    check.column ?? '',
    check.status === 'error' ? (check.message ?? 'could not run') : `${describeValue(check.observed)}${check.expected ? ` (expected ${check.expected})` : ''}`,
    check.failing_rows === undefined || check.failing_rows === 0 ? '' : `${check.failing_rows} failing row${check.failing_rows === 1 ? '' : 's'}`,
  ]);
  const lines = [alignRows(rows)];
  for (const check of result.checks) {
    if (check.status !== 'fail' || !check.sample || check.sample.rows.length === 0) continue;
    const { columns, rows: sampled } = check.sample;
    const more = (check.failing_rows ?? sampled.length) - Math.min(sampled.length, SHOWN_SAMPLE_ROWS);
    lines.push(`\nfailing rows of ${check.check}${check.column ? ` ${check.column}` : ''}:\n`);
    lines.push(`${indent(alignRows([columns.map((c) => c.name), ...sampled.slice(0, SHOWN_SAMPLE_ROWS).map((row) => row.map(describeCell))]))}\n`);
    if (more > 0) lines.push(`  … ${more} more\n`);
  }
  const counts = [`${result.passed ?? count(result, 'pass')} passed`, `${result.failed ?? count(result, 'fail')} failed`];
  const errors = result.errors ?? count(result, 'error');
  if (errors > 0) counts.push(`${errors} could not run`);
  const recorded = result.run_id ? `; recorded on run ${result.run_id} as ${result.artifact ?? ''}` : '';
  lines.push(`\n${result.suite}: ${result.status.toUpperCase()} — ${counts.join(', ')}; ${result.rows} rows in ${result.seconds.toFixed(2)} s${recorded}\n`);
  return lines.join('');
}

function count(result: CheckResult, status: CheckOutcome['status']): number {
  return result.checks.filter((check) => check.status === status).length;
}

/** A profile for people: one line per column. */
export function formatProfile(profile: DataProfile): string {
  const head = `${profile.data.label}: ${profile.rows} rows, ${profile.columns.length} columns (distinct ${profile.distinct_exact ? 'exact' : 'approximate'}; ${profile.seconds.toFixed(2)} s)\n`;
  const rows = profile.columns.map((column) => [
    column.name,
    column.type,
    `${column.nulls} (${(column.null_fraction * 100).toFixed(1)}%)`,
    `${column.distinct_exact ? '' : '~'}${column.distinct}`,
    describeCell(column.min ?? null),
    describeCell(column.max ?? null),
    column.mean === undefined || column.mean === null ? '' : describeCell(column.mean),
    column.stddev === undefined || column.stddev === null ? '' : describeCell(column.stddev),
    (column.top ?? []).slice(0, 3).map((top) => `${describeCell(top.value)} (${top.count})`).join(', '),
  ]);
  return head + alignRows([['COLUMN', 'TYPE', 'NULLS', 'DISTINCT', 'MIN', 'MAX', 'MEAN', 'STDDEV', 'TOP'], ...rows]);
}

/** A drift report for people: the columns ranked by drift, each score against its threshold. */
export function formatDrift(report: DriftReport): string {
  const ranked = [...report.columns].sort((a, b) => Number(b.drifted) - Number(a.drifted) || b.severity - a.severity);
  const rows = ranked.map((column: ColumnDrift) => [
    `${column.drifted ? '✗' : '✓'} ${column.column}`,
    column.kind,
    column.scores
      .map((score) => `${score.method} ${describeCell(score.statistic)}${score.statistic > score.threshold ? ' >' : ' ≤'} ${score.threshold}${score.p_value === undefined ? '' : ` (p ${describeCell(score.p_value)})`}`)
      .join('  '),
  ]);
  const drifted = report.columns.filter((column) => column.drifted).length;
  const only = [
    report.only_in_data?.length ? `only in ${report.data.label}: ${report.only_in_data.join(', ')}` : '',
    report.only_in_reference?.length ? `only in ${report.reference.label}: ${report.only_in_reference.join(', ')}` : '',
  ].filter((line) => line !== '');
  const summary = `${report.data.label} vs ${report.reference.label}: ${drifted} of ${report.columns.length} columns drifted (${report.seconds.toFixed(2)} s)\n`;
  return alignRows(rows) + only.map((line) => `${line}\n`).join('') + summary;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return describeCell(value as string | number | boolean);
}

function describeCell(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+(e|$)/, '$1');
  return String(value);
}
