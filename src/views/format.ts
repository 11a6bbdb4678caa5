import type { Run } from '@opsbook/schema';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; older than a week: the date. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const ago = Math.max(0, now - then);
  if (ago < 5 * SECOND) return 'just now';
  if (ago < MINUTE) return `${Math.floor(ago / SECOND)} s ago`;
  if (ago < HOUR) return `${Math.floor(ago / MINUTE)} min ago`;
  if (ago < DAY) return `${Math.floor(ago / HOUR)} h ago`;
  if (ago < 7 * DAY) return `${Math.floor(ago / DAY)} d ago`;
  return new Date(then).toLocaleDateString();
}

/** "420 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < SECOND) return `${Math.round(ms)} ms`;
  if (ms < MINUTE) return `${(ms / SECOND).toFixed(1)} s`;
  if (ms < HOUR) {
    const minutes = Math.floor(ms / MINUTE);
    const seconds = Math.floor((ms % MINUTE) / SECOND);
    return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
  }
  const hours = Math.floor(ms / HOUR);
  const minutes = Math.floor((ms % HOUR) / MINUTE);
  return `${hours} h ${String(minutes).padStart(2, '0')} min`;
}

/**
 * How long a run took, or for a running run how long it has been going.
 * Running runs have no `duration_ms` yet, so their elapsed time comes from the clock.
 */
export function runDuration(run: Pick<Run, 'status' | 'start_time' | 'duration_ms'>, now: number = Date.now()): number | null {
  if (run.duration_ms !== null && run.duration_ms !== undefined) return run.duration_ms;
  if (run.status !== 'running') return null;
  const start = Date.parse(run.start_time);
  return Number.isNaN(start) ? null : Math.max(0, now - start);
}

/** Four significant digits, without exponent noise for ordinary values; null (NaN/inf logged) shows as "—". */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

/** Runs of one experiment, newest first. */
export interface ExperimentGroup {
  experiment: string;
  runs: Run[];
}

/**
 * Groups runs by experiment. Groups are ordered by their newest run and runs inside a group
 * newest first, so the experiment being worked on stays on top.
 */
export function groupRunsByExperiment(runs: readonly Run[]): ExperimentGroup[] {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const list = groups.get(run.experiment);
    if (list) list.push(run);
    else groups.set(run.experiment, [run]);
  }
  const newestFirst = (a: Run, b: Run): number => Date.parse(b.start_time) - Date.parse(a.start_time);
  const result = [...groups.entries()].map(([experiment, list]) => ({ experiment, runs: list.sort(newestFirst) }));
  return result.sort((a, b) => newestFirst(a.runs[0], b.runs[0]));
}

/** Human words for a run status, shown next to its colour so colour is never the only signal. */
export const STATUS_LABEL: Record<Run['status'], string> = {
  running: 'Running',
  finished: 'Finished',
  failed: 'Failed',
  killed: 'Killed',
};
