import { useEffect, useState } from 'react';
import type { MetricSeries } from '@opsbook/schema';
import { OverlayChart, type OverlaySeries, type OverlayXAxis } from './OverlayChart';
import type { PlotlyLoader } from './plotly';

/**
 * Fetches one metric of several runs (the API's `getMetricSeries`); `x: 'time'` asks for timestamps.
 * @throws (rejects) when the series cannot be read
 */
export type SeriesLoader = (runIds: readonly string[], metricKey: string, x: 'step' | 'time') => Promise<MetricSeries>;

/** A run drawn in the overlay: its id, legend name and palette slot. */
export interface OverlayRun {
  id: string;
  name: string;
  colorIndex?: number;
}

export interface RunsOverlayProps {
  runs: readonly OverlayRun[];
  metricKeys: readonly string[];
  /** The metric first drawn; defaults to the first of `metricKeys`. */
  initialMetricKey?: string;
  loadSeries: SeriesLoader;
  /** Bump to read the series again (the runs may have logged more points). */
  version?: number;
  plotly?: PlotlyLoader;
}

type Loaded = { key: string; basis: 'step' | 'time'; series: OverlaySeries[] } | null;

/** {@link OverlayChart} over runs whose series it reads itself, again when the metric, x basis or `version` changes. */
export function RunsOverlay({ runs, metricKeys, initialMetricKey, loadSeries, version = 0, plotly }: RunsOverlayProps): JSX.Element {
  const [chosenKey, setChosenKey] = useState<string | undefined>(initialMetricKey);
  const metricKey = chosenKey !== undefined && metricKeys.includes(chosenKey) ? chosenKey : (metricKeys[0] ?? '');
  const [basis, setBasis] = useState<'step' | 'time'>('step');
  const [loaded, setLoaded] = useState<Loaded>(null);
  const [error, setError] = useState<string | null>(null);
  const runKey = runs.map((run) => `${run.id}\u0000${run.name}\u0000${run.colorIndex ?? ''}`).join('\u0001');

  useEffect(() => {
    if (!metricKey || runs.length === 0) {
      setLoaded(null);
      return undefined;
    }
    let stale = false;
    loadSeries(
      runs.map((run) => run.id),
      metricKey,
      basis,
    )
      .then((answer) => {
        if (stale) return;
        const byId = new Map(answer.series.map((s) => [s.run_id, s]));
        const series = runs.map((run, position): OverlaySeries => {
          const s = byId.get(run.id);
          return {
            runId: run.id,
            name: run.name,
            colorIndex: run.colorIndex ?? position,
            steps: s?.steps ?? [],
            values: s?.values ?? [],
            times: s?.timestamps,
            count: s?.count ?? 0,
          };
        });
        setLoaded({ key: metricKey, basis, series });
        setError(null);
      })
      .catch((reason: unknown) => {
        if (!stale) setError(reason instanceof Error ? reason.message : String(reason));
      });
    return () => {
      stale = true;
    };
    // `runKey` stands for `runs` (a new array each render with the same runs).
  }, [runKey, metricKey, basis, version, loadSeries]);

  const current = loaded && loaded.key === metricKey ? loaded.series : [];
  const loading = metricKey !== '' && (!loaded || loaded.key !== metricKey || loaded.basis !== basis) && !error;
  return (
    <>
      <OverlayChart
        metricKeys={metricKeys}
        metricKey={metricKey}
        onMetricKeyChange={setChosenKey}
        series={current}
        loading={loading}
        onXAxisChange={(x: OverlayXAxis) => setBasis(x === 'step' ? 'step' : 'time')}
        plotly={plotly}
      />
      {error && <p className="opsbook-chart-message opsbook-error-text">Could not read {metricKey}: {error}</p>}
    </>
  );
}
