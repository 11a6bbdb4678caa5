/** The part of plotly.js the charts use. */
export interface PlotlyApi {
  react(element: HTMLElement, data: object[], layout: object, config: object): Promise<unknown>;
  purge(element: HTMLElement): void;
  Plots: { resize(element: HTMLElement): void };
}

/** Resolves plotly.js; charts take one as a prop so hosts (and tests) can supply their own. */
export type PlotlyLoader = () => Promise<PlotlyApi>;

let loading: Promise<PlotlyApi> | undefined;

/**
 * Loads the plotly.js basic bundle on first use. A dynamic import keeps its ~1 MB out of the
 * host's main bundle until a chart is actually shown.
 * @throws when the bundle cannot be loaded (the promise rejects)
 */
export const loadPlotly: PlotlyLoader = () => {
  loading ??= import('plotly.js-basic-dist-min').then((module) => {
    const candidate = (module as { default?: unknown }).default ?? module;
    return candidate as PlotlyApi;
  });
  return loading;
};
