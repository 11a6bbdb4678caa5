import type { PlotlyLoader, PlotlyApi } from './plotly';

let loading: Promise<PlotlyApi> | undefined;

/**
 * Loads the full plotly.js bundle (about 4.8 MB minified) on first use, for the charts the basic
 * bundle lacks (parallel coordinates). A dynamic import puts it in a chunk of its own, fetched only
 * when such a chart is shown; the overlay and run charts keep using the basic bundle.
 * @throws when the bundle cannot be loaded (the promise rejects)
 */
export const loadFullPlotly: PlotlyLoader = () => {
  loading ??= import('plotly.js-dist-min').then((module) => {
    const candidate = (module as { default?: unknown }).default ?? module;
    return candidate as PlotlyApi;
  });
  return loading;
};
