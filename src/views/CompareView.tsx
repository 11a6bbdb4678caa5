import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import type { ComparedRun, MetricStats, RunComparison } from '@opsbook/schema';
import { bestIndex, defaultDirection, paramValue, type MetricDirection } from './compareData';
import { ensureCompareStyles, SERIES_COLOR_COUNT } from './compareStyles';
import { formatMetric } from './format';
import type { PlotlyLoader } from './plotly';
import { RunsOverlay, type SeriesLoader } from './RunsOverlay';
import { StatusBadge } from './StatusBadge';
import { ensureViewStyles } from './styles';

export interface CompareViewProps {
  comparison: RunComparison;
  /** Reads series for the overlay chart; without it (a static notebook output) no chart is drawn. */
  loadSeries?: SeriesLoader;
  /** Bump when the runs may have changed, so the chart reads its series again. */
  version?: number;
  /** Opens a run (its name in the column header is a button when given). */
  onOpenRun?: (runId: string) => void;
  /** Supplies plotly.js to the overlay chart. */
  plotly?: PlotlyLoader;
  /** Whether "only differences" starts on. */
  initialOnlyDifferences?: boolean;
}

/** Width of one run's column and of the key column, in px: fixed so only visible columns need rendering. */
export const RUN_COLUMN_WIDTH = 160;
const KEY_COLUMN_WIDTH = 220;
/** Columns rendered beyond each edge of the viewport, so a scroll does not show blanks. */
const OVERSCAN = 3;
/** Width assumed before the grid is measured (and in environments without layout). */
const DEFAULT_VIEWPORT = 1200;
/** Runs drawn in the overlay chart at first; more can be ticked, one by one. */
export const DEFAULT_CHARTED_RUNS = 10;

const STATS = ['last', 'min', 'max'] as const;
type Stat = (typeof STATS)[number];

/**
 * Runs side by side: runs as columns, params and metric summaries (last/min/max) as rows, the best
 * value of each metric highlighted (lower is better for losses and errors; flip it per metric), an
 * "only differences" toggle, and the selected runs' metric overlaid in one chart. Only the columns in
 * view are rendered, so it stays responsive with hundreds of runs.
 */
export function CompareView({ comparison, loadSeries, version, onOpenRun, plotly, initialOnlyDifferences = false }: CompareViewProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureCompareStyles();
  }, []);
  const id = useId();
  const { runs, metric_keys: metricKeys } = comparison;
  const [onlyDifferences, setOnlyDifferences] = useState(initialOnlyDifferences);
  const [flipped, setFlipped] = useState<Readonly<Record<string, MetricDirection>>>({});
  const [charted, setCharted] = useState<ReadonlySet<string> | null>(null);
  const grid = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState({ left: 0, width: DEFAULT_VIEWPORT });

  const differing = useMemo(() => new Set(comparison.differing_params), [comparison.differing_params]);
  const paramKeys = onlyDifferences ? comparison.param_keys.filter((key) => differing.has(key)) : comparison.param_keys;
  const directionOf = useCallback((key: string): MetricDirection => flipped[key] ?? defaultDirection(key), [flipped]);
  const best = useMemo(() => bestCells(runs, metricKeys, directionOf), [runs, metricKeys, directionOf]);
  const chartedIds = charted ?? new Set(runs.slice(0, DEFAULT_CHARTED_RUNS).map((run) => run.id));

  useEffect(() => {
    const element = grid.current;
    if (!element) return undefined;
    const measure = (): void => setViewport({ left: element.scrollLeft, width: element.clientWidth || DEFAULT_VIEWPORT });
    measure();
    const Resize = element.ownerDocument.defaultView?.ResizeObserver;
    const observer = Resize ? new Resize(measure) : undefined;
    observer?.observe(element);
    return () => observer?.disconnect();
  }, []);

  const first = Math.max(0, Math.floor((viewport.left - KEY_COLUMN_WIDTH) / RUN_COLUMN_WIDTH) - OVERSCAN);
  const last = Math.min(runs.length, Math.ceil((viewport.left + viewport.width) / RUN_COLUMN_WIDTH) + OVERSCAN);
  const visible = runs.slice(first, last).map((run, i) => ({ run, index: first + i }));
  const before = first * RUN_COLUMN_WIDTH;
  const after = (runs.length - last) * RUN_COLUMN_WIDTH;
  const spacers = (cells: JSX.Element[]): JSX.Element[] => [
    ...(before > 0 ? [<td key="before" className="opsbook-CompareView-spacer" aria-hidden="true" />] : []),
    ...cells,
    ...(after > 0 ? [<td key="after" className="opsbook-CompareView-spacer" aria-hidden="true" />] : []),
  ];

  const toggleCharted = (runId: string): void => {
    const next = new Set(chartedIds);
    if (next.has(runId)) next.delete(runId);
    else next.add(runId);
    setCharted(next);
  };
  const overlayRuns = runs
    .map((run, index) => ({ id: run.id, name: run.name, colorIndex: index }))
    .filter((run) => chartedIds.has(run.id));

  return (
    <div className="opsbook-view opsbook-CompareView" data-runs={runs.length}>
      <h2>
        Comparing {runs.length} run{runs.length === 1 ? '' : 's'}
      </h2>
      <div className="opsbook-toolbar">
        <label htmlFor={`${id}-only`}>
          <input id={`${id}-only`} type="checkbox" checked={onlyDifferences} onChange={(event) => setOnlyDifferences(event.target.checked)} />
          Only differences
        </label>
        <span className="opsbook-muted">
          {comparison.differing_params.length} of {comparison.param_keys.length} params differ
          {runs.length > last - first ? ` · showing columns ${first + 1}–${last} of ${runs.length}` : ''}
        </span>
      </div>
      <div
        ref={grid}
        className="opsbook-CompareView-grid"
        onScroll={(event) => {
          const element = event.currentTarget;
          setViewport({ left: element.scrollLeft, width: element.clientWidth || DEFAULT_VIEWPORT });
        }}
      >
        <table className="opsbook-CompareView-table" style={{ width: KEY_COLUMN_WIDTH + runs.length * RUN_COLUMN_WIDTH }}>
          <colgroup>
            <col style={{ width: KEY_COLUMN_WIDTH }} />
            {before > 0 && <col style={{ width: before }} />}
            {visible.map(({ run }) => (
              <col key={run.id} style={{ width: RUN_COLUMN_WIDTH }} />
            ))}
            {after > 0 && <col style={{ width: after }} />}
          </colgroup>
          <thead>
            <tr>
              <th className="opsbook-CompareView-key" scope="col">
                Run
              </th>
              {spacers(
                visible.map(({ run, index }) => (
                  <th key={run.id} scope="col" data-run-id={run.id} title={`${run.experiment} / ${run.name}\n${run.id}`}>
                    {onOpenRun ? (
                      <button type="button" className="opsbook-linkish opsbook-CompareView-runName" onClick={() => onOpenRun(run.id)}>
                        {run.name}
                      </button>
                    ) : (
                      <span className="opsbook-CompareView-runName">{run.name}</span>
                    )}
                    <span className="opsbook-CompareView-runMeta">
                      <StatusBadge status={run.status} />
                    </span>
                    {loadSeries && (
                      <label className="opsbook-CompareView-runMeta">
                        <input type="checkbox" checked={chartedIds.has(run.id)} onChange={() => toggleCharted(run.id)} />
                        <span className="opsbook-swatch" style={{ background: `var(--opsbook-series-${(index % SERIES_COLOR_COUNT) + 1})` }} />
                        chart
                      </label>
                    )}
                  </th>
                )),
              )}
            </tr>
          </thead>
          <tbody className="opsbook-CompareView-params">
            <tr className="opsbook-CompareView-section">
              <th className="opsbook-CompareView-key" scope="rowgroup">
                Params ({paramKeys.length})
              </th>
              {spacers(visible.map(({ run }) => <td key={run.id} />))}
            </tr>
            {paramKeys.length === 0 && (
              <tr>
                <th className="opsbook-CompareView-key opsbook-muted" scope="row">
                  {onlyDifferences ? 'No params differ' : 'No params logged'}
                </th>
                {spacers(visible.map(({ run }) => <td key={run.id} />))}
              </tr>
            )}
            {paramKeys.map((key) => (
              <tr key={key} data-param={key} className={differing.has(key) ? 'opsbook-CompareView-differs' : undefined}>
                <th className="opsbook-CompareView-key" scope="row" title={key}>
                  {key}
                </th>
                {spacers(
                  visible.map(({ run }) => {
                    const value = paramValue(run.params, key);
                    return (
                      <td key={run.id} title={value} className={value === undefined ? 'opsbook-muted' : undefined}>
                        {value ?? '—'}
                      </td>
                    );
                  }),
                )}
              </tr>
            ))}
          </tbody>
          <tbody className="opsbook-CompareView-metrics">
            <tr className="opsbook-CompareView-section">
              <th className="opsbook-CompareView-key" scope="rowgroup">
                Metrics ({metricKeys.length})
              </th>
              {spacers(visible.map(({ run }) => <td key={run.id} />))}
            </tr>
            {metricKeys.flatMap((key) => {
              const direction = directionOf(key);
              return STATS.map((stat) => (
                <tr key={`${key}\u0000${stat}`} data-metric={key} data-stat={stat}>
                  <th className="opsbook-CompareView-key" scope="row" title={`${key} (${stat})`}>
                    {stat === 'last' ? (
                      <>
                        {key}
                        <button
                          type="button"
                          className="opsbook-direction"
                          title={`${direction === 'lower' ? 'Lower' : 'Higher'} is better; click to flip`}
                          aria-label={`${key}: ${direction} is better; flip`}
                          onClick={() => setFlipped({ ...flipped, [key]: direction === 'lower' ? 'higher' : 'lower' })}
                        >
                          {direction === 'lower' ? '↓' : '↑'}
                        </button>
                      </>
                    ) : (
                      <span className="opsbook-muted">{stat}</span>
                    )}
                  </th>
                  {spacers(
                    visible.map(({ run, index }) => {
                      const stats = statsOf(run, key);
                      const isBest = best.get(`${key}\u0000${stat}`) === index;
                      return (
                        <td
                          key={run.id}
                          className={isBest ? 'opsbook-num opsbook-best' : 'opsbook-num'}
                          data-run-id={run.id}
                          aria-label={isBest ? `${formatMetric(stats?.[stat])}, best` : undefined}
                          title={stats ? `${stats[stat] ?? 'NaN'} (${stats.count} points)` : 'not logged'}
                        >
                          {stats ? formatMetric(stats[stat]) : ''}
                        </td>
                      );
                    }),
                  )}
                </tr>
              ));
            })}
          </tbody>
        </table>
      </div>
      {loadSeries && metricKeys.length > 0 && (
        <section>
          <h3>
            Metrics over steps{' '}
            <span className="opsbook-muted">
              ({overlayRuns.length} of {runs.length} runs charted)
            </span>
          </h3>
          <RunsOverlay runs={overlayRuns} metricKeys={metricKeys} loadSeries={loadSeries} version={version} plotly={plotly} />
        </section>
      )}
    </div>
  );
}

/**
 * The run index holding the best value of each metric, keyed `metric\0stat`, for `last` and for the
 * extreme in the metric's direction (`min` when lower is better, `max` otherwise): the other extreme
 * is no one's best.
 */
export function bestCells(
  runs: readonly ComparedRun[],
  metricKeys: readonly string[],
  directionOf: (key: string) => MetricDirection,
): Map<string, number> {
  const best = new Map<string, number>();
  for (const key of metricKeys) {
    const direction = directionOf(key);
    const extreme: Stat = direction === 'lower' ? 'min' : 'max';
    for (const stat of ['last', extreme] as const) {
      const index = bestIndex(
        runs.map((run) => statsOf(run, key)?.[stat]),
        direction,
      );
      if (index >= 0) best.set(`${key}\u0000${stat}`, index);
    }
  }
  return best;
}

/** A run's summary of metric `key`, or undefined when it did not log it (never an inherited property). */
function statsOf(run: ComparedRun, key: string): MetricStats | undefined {
  return Object.prototype.hasOwnProperty.call(run.metrics, key) ? run.metrics[key] : undefined;
}
