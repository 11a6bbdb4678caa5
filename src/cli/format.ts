import type { Run, RunDetail, RunList } from '@opsbook/schema';

/** Runs as an aligned table, one line per run. */
export function formatRunTable(list: RunList): string {
  if (list.runs.length === 0) return 'No runs.\n';
  const header = ['ID', 'EXPERIMENT', 'NAME', 'STATUS', 'STARTED', 'DURATION', 'METRICS'];
  const rows = list.runs.map((run) => [
    run.id.slice(0, 8),
    run.experiment,
    run.name,
    run.status,
    formatTime(run.start_time),
    formatDuration(run.duration_ms),
    formatLatest(run),
  ]);
  return alignRows([header, ...rows]);
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

function alignRows(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

function indent(text: string): string {
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

function formatLatest(run: Run): string {
  const text = Object.entries(run.metrics_latest ?? {})
    .map(([key, value]) => `${key}=${formatNumber(value)}`)
    .join(' ');
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}
