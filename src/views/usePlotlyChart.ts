import { useEffect, useRef, useState, type RefObject } from 'react';
import { readChartTheme, watchThemeChanges, type ChartTheme } from './chartTheme';
import { readSeriesColors } from './compareStyles';
import type { PlotlyApi, PlotlyLoader } from './plotly';

/** Colours a figure is built with: the host theme and the series palette. */
export interface FigureTheme extends ChartTheme {
  series: string[];
}

/** What plotly draws: traces and layout. `null` draws nothing (the caller shows a message). */
export type Figure = { data: object[]; layout: object } | null;

const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['select2d', 'lasso2d'] };

/**
 * Draws the figure `build` returns into the returned element with plotly, again whenever `deps`
 * change, the host theme changes or the element is resized; purges the plot on unmount.
 * @returns the element to attach and the last drawing failure (e.g. the bundle failed to load)
 */
export function usePlotlyChart(
  plotly: PlotlyLoader,
  build: (theme: FigureTheme) => Figure,
  deps: readonly unknown[],
): { ref: RefObject<HTMLDivElement>; error: string | null } {
  const ref = useRef<HTMLDivElement>(null);
  const plotlyRef = useRef<PlotlyApi | null>(null);
  const [themeVersion, setThemeVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const element = ref.current;
    if (!element) return undefined;
    const stopWatching = watchThemeChanges(element.ownerDocument, () => setThemeVersion((v) => v + 1));
    const Resize = element.ownerDocument.defaultView?.ResizeObserver;
    // The host's panels resize without a window resize event, which is all plotly listens to.
    const resizeObserver = Resize
      ? new Resize(() => {
          if (plotlyRef.current && element.isConnected && element.offsetWidth > 0) plotlyRef.current.Plots.resize(element);
        })
      : undefined;
    resizeObserver?.observe(element);
    return () => {
      stopWatching();
      resizeObserver?.disconnect();
      plotlyRef.current?.purge(element);
    };
  }, []);

  useEffect(() => {
    const element = ref.current;
    if (!element) return undefined;
    let cancelled = false;
    const figure = build({ ...readChartTheme(element), series: readSeriesColors(element) });
    const draw = async (): Promise<void> => {
      if (!figure) {
        plotlyRef.current?.purge(element);
        return;
      }
      const api = await plotly();
      if (cancelled) return;
      plotlyRef.current = api;
      await api.react(element, figure.data, figure.layout, PLOT_CONFIG);
      if (!cancelled) setError(null);
    };
    draw().catch((reason: unknown) => {
      if (!cancelled) setError(`Chart unavailable: ${reason instanceof Error ? reason.message : String(reason)}`);
    });
    return () => {
      cancelled = true;
    };
    // `build` is a fresh closure each render; `deps` name what it reads.
  }, [...deps, themeVersion, plotly]);

  return { ref, error };
}

/** The layout parts every comparison chart shares: transparent background, theme font, grid colours. */
export function baseLayout(theme: FigureTheme): Record<string, unknown> {
  return {
    font: { color: theme.font, family: theme.fontFamily, size: 11 },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    autosize: true,
  };
}

/** Axis styling from the theme. */
export function themedAxis(theme: FigureTheme, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { gridcolor: theme.grid, zerolinecolor: theme.grid, linecolor: theme.grid, automargin: true, ...extra };
}

/** Plotly titles, labels and hover text accept HTML; run names, params and metric keys are user text. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
