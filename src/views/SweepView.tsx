import { useEffect, useMemo, useState } from 'react';
import type { Run } from '@opsbook/schema';
import { bestIndex, defaultDirection, differingParamKeys, naturalCompare, paramValue, type MetricDirection } from './compareData';
import { ensureCompareStyles } from './compareStyles';
import { formatMetric } from './format';
import { KeyPicker } from './KeyPicker';
import { ParallelCoordinates, type ParamRun } from './ParallelCoordinates';
import { ParamScatter } from './ParamScatter';
import type { PlotlyLoader } from './plotly';
import { loadFullPlotly } from './plotlyFull';
import { RunsOverlay, type SeriesLoader } from './RunsOverlay';
import { StatusBadge } from './StatusBadge';
import { ensureViewStyles } from './styles';

/** A run of the sweep as listed: identity, status, params and latest metrics. */
export type SweepRun = Pick<Run, 'id' | 'name' | 'status'> & {
  experiment?: string;
  params?: Readonly<Record<string, string>>;
  metrics_latest?: Readonly<Record<string, number | null>>;
};

export interface SweepViewProps {
  /** The sweep's parent run. */
  parent: SweepRun;
  /** Its child runs (one per trial). */
  children: readonly SweepRun[];
  /** Reads series for the overlay of the children; without it no overlay is drawn. */
  loadSeries?: SeriesLoader;
  /** Bump when the runs may have changed, so the overlay reads its series again. */
  version?: number;
  onOpenRun?: (runId: string) => void;
  /** Supplies plotly.js with parallel coordinates (shared by both param charts). */
  plotly?: PlotlyLoader;
}

type SortColumn = { kind: 'name' } | { kind: 'status' } | { kind: 'param'; key: string } | { kind: 'metric' };

/** Children shown in the overlay chart: more lines than this are noise. */
const OVERLAY_CHILDREN = 10;

/**
 * A sweep: its parent run, the children as a sortable table (the params that vary and the chosen
 * metric, the best child highlighted), parallel coordinates of params → metric, and one param
 * against the metric.
 */
export function SweepView({ parent, children, loadSeries, version, onOpenRun, plotly = loadFullPlotly }: SweepViewProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureCompareStyles();
  }, []);
  const rows: ParamRun[] = useMemo(
    () => children.map((child) => ({ id: child.id, name: child.name, params: child.params ?? {}, metrics: child.metrics_latest ?? {} })),
    [children],
  );
  const metricKeys = useMemo(() => [...new Set(rows.flatMap((row) => Object.keys(row.metrics)))].sort(naturalCompare), [rows]);
  const paramKeys = useMemo(() => {
    const differing = differingParamKeys(rows);
    if (differing.length > 0 || rows.length > 1) return differing;
    return Object.keys(rows[0]?.params ?? {}).sort(naturalCompare);
  }, [rows]);
  const [chosenMetric, setChosenMetric] = useState<string | undefined>();
  const metricKey = chosenMetric !== undefined && metricKeys.includes(chosenMetric) ? chosenMetric : preferredMetric(metricKeys);
  const [flipped, setFlipped] = useState<Readonly<Record<string, MetricDirection>>>({});
  const direction = flipped[metricKey] ?? defaultDirection(metricKey);
  const [sort, setSort] = useState<{ column: SortColumn; descending: boolean }>({ column: { kind: 'metric' }, descending: direction === 'higher' });

  const sorted = useMemo(() => sortChildren(children, sort.column, sort.descending, metricKey), [children, sort, metricKey]);
  const bestId = children[bestIndex(children.map((child) => child.metrics_latest?.[metricKey]), direction)]?.id;

  const header = (label: string, column: SortColumn, numeric = false): JSX.Element => {
    const active = sameColumn(sort.column, column);
    return (
      <th scope="col" aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : undefined} className={numeric ? 'opsbook-num' : undefined}>
        <button
          type="button"
          title={`Sort by ${label}`}
          onClick={() => setSort({ column, descending: active ? !sort.descending : numeric && column.kind === 'metric' ? direction === 'higher' : false })}
        >
          {label}
          {active ? (sort.descending ? ' ▼' : ' ▲') : ''}
        </button>
      </th>
    );
  };

  return (
    <div className="opsbook-view opsbook-SweepView" data-run-id={parent.id} data-children={children.length}>
      <h2>
        Sweep {parent.name} <StatusBadge status={parent.status} />
      </h2>
      <p className="opsbook-muted">
        {children.length} trial{children.length === 1 ? '' : 's'}
        {paramKeys.length > 0 ? ` varying ${paramKeys.join(', ')}` : ''}
      </p>
      <div className="opsbook-toolbar">
        <KeyPicker label="Metric" value={metricKey} options={metricKeys} onChange={setChosenMetric} />
        {metricKey && (
          <button
            type="button"
            className="opsbook-direction"
            title="Click to flip which way the metric improves"
            onClick={() => setFlipped({ ...flipped, [metricKey]: direction === 'lower' ? 'higher' : 'lower' })}
          >
            {direction === 'lower' ? '↓ lower is better' : '↑ higher is better'}
          </button>
        )}
      </div>
      {children.length === 0 ? (
        <p className="opsbook-muted">This run has no child runs yet.</p>
      ) : (
        <>
          <table className="opsbook-SweepView-table">
            <thead>
              <tr>
                {header('Run', { kind: 'name' })}
                {header('Status', { kind: 'status' })}
                {paramKeys.map((key) => (
                  <th key={key} scope="col" aria-sort={sameColumn(sort.column, { kind: 'param', key }) ? (sort.descending ? 'descending' : 'ascending') : undefined}>
                    <button
                      type="button"
                      title={`Sort by ${key}`}
                      onClick={() =>
                        setSort({ column: { kind: 'param', key }, descending: sameColumn(sort.column, { kind: 'param', key }) ? !sort.descending : false })
                      }
                    >
                      {key}
                      {sameColumn(sort.column, { kind: 'param', key }) ? (sort.descending ? ' ▼' : ' ▲') : ''}
                    </button>
                  </th>
                ))}
                {metricKey && header(metricKey, { kind: 'metric' }, true)}
              </tr>
            </thead>
            <tbody>
              {sorted.map((child) => {
                const value = child.metrics_latest?.[metricKey];
                return (
                  <tr key={child.id} data-run-id={child.id}>
                    <td>
                      {onOpenRun ? (
                        <button type="button" className="opsbook-linkish" onClick={() => onOpenRun(child.id)}>
                          {child.name}
                        </button>
                      ) : (
                        child.name
                      )}
                    </td>
                    <td>
                      <StatusBadge status={child.status} />
                    </td>
                    {paramKeys.map((key) => (
                      <td key={key}>{paramValue(child.params ?? {}, key) ?? '—'}</td>
                    ))}
                    {metricKey && (
                      <td className={child.id === bestId ? 'opsbook-num opsbook-best' : 'opsbook-num'} aria-label={child.id === bestId ? `${formatMetric(value)}, best` : undefined}>
                        {formatMetric(value)}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
          <div className="opsbook-SweepView-charts">
            <section>
              <h3>Parallel coordinates</h3>
              <ParallelCoordinates runs={rows} metricKey={metricKey} paramKeys={paramKeys} direction={direction} plotly={plotly} />
            </section>
            <section>
              <h3>Param vs metric</h3>
              <ParamScatter runs={rows} metricKey={metricKey} paramKeys={paramKeys} direction={direction} plotly={plotly} />
            </section>
          </div>
          {loadSeries && metricKeys.length > 0 && (
            <section>
              <h3>
                Trials over steps{' '}
                {children.length > OVERLAY_CHILDREN && (
                  <span className="opsbook-muted">
                    ({OVERLAY_CHILDREN} best of {children.length})
                  </span>
                )}
              </h3>
              <RunsOverlay
                runs={bestFirst(children, metricKey, direction)
                  .slice(0, OVERLAY_CHILDREN)
                  .map((child, i) => ({ id: child.id, name: child.name, colorIndex: i }))}
                metricKeys={metricKeys}
                initialMetricKey={metricKey}
                loadSeries={loadSeries}
                version={version}
              />
            </section>
          )}
        </>
      )}
    </div>
  );
}

/** The metric a sweep is most likely judged by: a validation or test metric, else the first. */
function preferredMetric(keys: readonly string[]): string {
  return keys.find((key) => /^(val|valid|validation|test)[_/.-]/i.test(key)) ?? keys[0] ?? '';
}

function sameColumn(a: SortColumn, b: SortColumn): boolean {
  return a.kind === b.kind && (a.kind !== 'param' || (b.kind === 'param' && a.key === b.key));
}

function bestFirst(children: readonly SweepRun[], metricKey: string, direction: MetricDirection): SweepRun[] {
  return sortChildren(children, { kind: 'metric' }, direction === 'higher', metricKey);
}

/** Children sorted by a column; runs without a value sort last either way. */
export function sortChildren(children: readonly SweepRun[], column: SortColumn, descending: boolean, metricKey: string): SweepRun[] {
  const valueOf = (child: SweepRun): string | number | undefined => {
    switch (column.kind) {
      case 'name':
        return child.name;
      case 'status':
        return child.status;
      case 'param': {
        const text = paramValue(child.params ?? {}, column.key);
        return text !== undefined && text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
      }
      case 'metric': {
        const value = child.metrics_latest?.[metricKey];
        return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
      }
    }
  };
  return [...children].sort((a, b) => {
    const x = valueOf(a);
    const y = valueOf(b);
    if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : naturalCompare(String(x), String(y));
    return descending ? -order : order;
  });
}
