import type { RunComparison } from '@opsbook/schema';
import { bestIndex, defaultDirection } from '../views/compareData';
import type { ParsedCommand } from './args';
import type { CliOutput } from './runs-command';
import { openRunSource } from './source';
import { workspaceOf } from './workspace';
import { cliValidator } from './validator';


/**
 * `opsbook runs compare ID ID ... [--only-differences] [--json]`: with `--json` one
 * `compare.schema.json` document, otherwise runs as columns with params and metric summaries.
 * @throws UsageError for a missing workspace; NotFoundError / BadInputError for an unknown or ambiguous id.
 * @throws EnvironmentError when no daemon answers for the workspace and none can be started.
 */
export async function compareCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const source = await openRunSource(workspace);
  const comparison = await source.compareRuns(parsed.lists.run_ids ?? [parsed.positionals.run_ids]);
  if (parsed.values.json) out.stdout(`${JSON.stringify(cliValidator().assert<RunComparison>('compare.schema.json', comparison))}\n`);
  else out.stdout(formatComparison(comparison, parsed.values['only-differences'] === true));
  return 0;
}

/**
 * Runs as columns: params (a `*` marks those that differ), then each metric's last, min and max,
 * the best run's value marked `*` (lower is better for losses and errors, higher otherwise).
 */
export function formatComparison(comparison: RunComparison, onlyDifferences = false): string {
  const { runs } = comparison;
  const differing = new Set(comparison.differing_params);
  const paramKeys = onlyDifferences ? comparison.param_keys.filter((key) => differing.has(key)) : comparison.param_keys;
  const rows: string[][] = [
    ['', ...runs.map((run) => run.name)],
    ['id', ...runs.map((run) => run.id.slice(0, 8))],
    ['status', ...runs.map((run) => run.status)],
  ];
  rows.push([`PARAMS (${comparison.differing_params.length} of ${comparison.param_keys.length} differ)`]);
  for (const key of paramKeys) {
    rows.push([`${differing.has(key) ? '*' : ' '} ${key}`, ...runs.map((run) => (Object.prototype.hasOwnProperty.call(run.params, key) ? run.params[key] : '-'))]);
  }
  rows.push([`METRICS (* best)`]);
  for (const key of comparison.metric_keys) {
    const direction = defaultDirection(key);
    for (const stat of ['last', 'min', 'max'] as const) {
      const values = runs.map((run) => (Object.prototype.hasOwnProperty.call(run.metrics, key) ? run.metrics[key][stat] : undefined));
      const best = stat === 'last' || stat === (direction === 'lower' ? 'min' : 'max') ? bestIndex(values, direction) : -1;
      const label = stat === 'last' ? `  ${key} (${direction} is better) last` : `  ${' '.repeat(key.length)} ${stat}`;
      rows.push([label, ...values.map((value, i) => `${formatValue(value)}${i === best ? '*' : ''}`)]);
    }
  }
  return alignColumns(rows);
}

function formatValue(value: number | null | undefined): string {
  if (value === undefined) return '-';
  if (value === null) return 'NaN';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** Left-aligned columns two spaces apart; a row of one cell is a section heading. */
function alignColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) if (row.length > 1) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return `${rows
    .map((row) => (row.length === 1 ? row[0] : row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()))
    .join('\n')}\n`;
}
