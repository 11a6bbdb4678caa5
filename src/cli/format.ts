import type { Run, RunDetail, RunList } from '@opsbook/schema';

/** Most param and metric columns a table shows, each. */
const MAX_KEY_COLUMNS = 4;

/**
 * Runs as an aligned table, one line per run (a starred run's name is marked `*`), with a column
 * for each param and metric the filter or sort names (`wanted`, e.g. `params.lr`), then for the
 * keys most runs have, up to four of each; a last line says how many more runs match.
 */
export function formatRunTable(list: RunList, wanted: readonly string[] = []): string {
  if (list.runs.length === 0) return list.total ? `No runs on this page (${list.total} match).\n` : 'No runs.\n';
  const columns = [...keyColumns(list.runs, 'params', wanted), ...keyColumns(list.runs, 'metrics', wanted)];
  const header = ['ID', 'EXPERIMENT', 'NAME', 'STATUS', 'STARTED', 'DURATION', ...columns];
  const rows = list.runs.map((run) => [
    run.id.slice(0, 8),
    run.experiment,
    `${run.starred ? '*' : ''}${clip(run.name, 40)}`,
    run.status,
    formatTime(run.start_time),
    formatDuration(run.duration_ms),
    ...columns.map((column) => {
      const key = column.slice(column.indexOf('.') + 1);
      if (column.startsWith('params.')) return clip(run.params?.[key] ?? '-', 24);
      const latest = run.metrics_latest ?? {};
      return Object.prototype.hasOwnProperty.call(latest, key) ? formatNumber(latest[key]) : '-';
    }),
  ]);
  const shown = list.runs.length;
  const more = list.total !== undefined && list.total > shown ? `(${shown} of ${list.total} runs; --offset ${shown} or --limit for more)\n` : '';
  return alignRows([header, ...rows]) + more;
}

/** `params.<k>` or `metrics.<k>` columns: the wanted ones first, then the keys most runs have. */
function keyColumns(runs: readonly Run[], kind: 'params' | 'metrics', wanted: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) {
    for (const key of Object.keys((kind === 'params' ? run.params : run.metrics_latest) ?? {})) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const chosen = wanted.filter((column) => column.startsWith(`${kind}.`));
  const frequent = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([key]) => `${kind}.${key}`);
  for (const column of frequent) {
    if (chosen.length >= Math.max(MAX_KEY_COLUMNS, wanted.length)) break;
    if (!chosen.includes(column)) chosen.push(column);
  }
  return chosen;
}

/** One run in one line: what `runs update`, `delete` and `restore` print. */
export function formatRunLine(run: Run): string {
  const tags = Object.entries(run.tags ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`).join(' ');
  const marks = [run.starred ? 'starred' : '', run.deleted ? 'deleted' : '', tags ? `tags: ${tags}` : '', run.notes ? `notes: ${clip(run.notes.split('\n')[0], 60)}` : '']
    .filter((mark) => mark !== '')
    .join('; ');
  return `${run.id}  ${run.name}  ${run.status}${marks ? `  (${marks})` : ''}\n`;
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** One run as a readable block: identity, params, metric summaries, tags, source. */
export function formatRunDetail(detail: RunDetail): string {
  const { run } = detail;
  const lines: string[] = [];
  const fields: [string, string][] = [
    ['Run', run.id],
    ['Name', run.name],
    ['Experiment', run.experiment],
    ['Status', run.status],
    ['Started', formatTime(run.start_time)],
    ['Ended', run.end_time === null ? '-' : formatTime(run.end_time)],
    ['Duration', formatDuration(run.duration_ms)],
    ['Source', detail.source.type],
  ];
  if (detail.source.error) fields.push(['Error', detail.source.error.split('\n')[0]]);
  lines.push(alignRows(fields).trimEnd(), '');
  lines.push(`Params (${detail.params.length})`);
  if (detail.params.length > 0) lines.push(indent(alignRows(detail.params.map((p) => [p.key, p.value]))));
  lines.push('', `Metrics (${detail.metrics.length})`);
  if (detail.metrics.length > 0) {
    lines.push(
      indent(
        alignRows([
          ['KEY', 'COUNT', 'LAST', 'MIN', 'MAX', 'LAST STEP'],
          ...detail.metrics.map((m) => [m.key, String(m.count), formatNumber(m.last), formatNumber(m.min), formatNumber(m.max), String(m.last_step)]),
        ]),
      ),
    );
  }
  const tags = Object.entries(detail.tags);
  if (tags.length > 0) lines.push('', `Tags (${tags.length})`, indent(alignRows(tags)));
  return `${lines.join('\n').trimEnd()}\n`;
}

/** Rows of cells as aligned columns (two spaces apart; the last column not padded), one line each. */
export function alignRows(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Text indented by two spaces, without its trailing newline. */
export function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

function formatNumber(value: number | null): string {
  if (value === null) return 'NaN';
  return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+(e|$)/, '$1');
}
