/**
 * Stylesheet of the comparison views (overlay chart, compare, sweep, parallel coordinates), injected
 * once per document like {@link VIEW_CSS}. The series palette is a set of CSS variables so charts
 * follow the host: VS Code's chart colours where they exist, and a palette tuned for light or dark
 * backgrounds (JupyterLab marks dark themes with `data-jp-theme-light="false"`, VS Code with
 * `vscode-dark` / `vscode-high-contrast`).
 */
export const COMPARE_CSS = `
.opsbook-view {
  --opsbook-series-1: var(--vscode-charts-blue, #1f77b4);
  --opsbook-series-2: var(--vscode-charts-orange, #e8710a);
  --opsbook-series-3: var(--vscode-charts-green, #2ca02c);
  --opsbook-series-4: var(--vscode-charts-red, #d62728);
  --opsbook-series-5: var(--vscode-charts-purple, #9467bd);
  --opsbook-series-6: #8c564b;
  --opsbook-series-7: #e377c2;
  --opsbook-series-8: #7f7f7f;
  --opsbook-series-9: #bcbd22;
  --opsbook-series-10: #17becf;
  --opsbook-best-bg: var(--jp-success-color3, rgba(46, 125, 50, 0.18));
  --opsbook-best-fg: var(--jp-success-color0, #1b5e20);
}
body[data-jp-theme-light='false'] .opsbook-view, body.vscode-dark .opsbook-view, body.vscode-high-contrast .opsbook-view {
  --opsbook-series-1: var(--vscode-charts-blue, #4e9cff);
  --opsbook-series-2: var(--vscode-charts-orange, #ffa04d);
  --opsbook-series-3: var(--vscode-charts-green, #5bd163);
  --opsbook-series-4: var(--vscode-charts-red, #ff6b6b);
  --opsbook-series-5: var(--vscode-charts-purple, #c39bff);
  --opsbook-series-6: #d4a27f;
  --opsbook-series-7: #ff9ee0;
  --opsbook-series-8: #b8b8b8;
  --opsbook-series-9: #e0e04a;
  --opsbook-series-10: #4fe0f0;
  --opsbook-best-bg: rgba(91, 209, 99, 0.22);
  --opsbook-best-fg: #b9f6bd;
}
.opsbook-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; margin: 4px 0 6px; }
.opsbook-toolbar label { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
.opsbook-toolbar select, .opsbook-toolbar input[type='range'] { font: inherit; color: inherit; }
.opsbook-toolbar select {
  background: var(--opsbook-bg); border: 1px solid var(--opsbook-border); border-radius: 3px; padding: 1px 4px; max-width: 240px;
}
.opsbook-OverlayChart, .opsbook-ParallelCoordinates, .opsbook-ParamScatter {
  border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 6px 8px; margin: 0 0 12px;
}
.opsbook-OverlayChart-plot, .opsbook-ParamScatter-plot { width: 100%; height: 320px; }
.opsbook-ParallelCoordinates-plot { width: 100%; height: 360px; }
.opsbook-chart-message { color: var(--opsbook-fg-muted); padding: 4px 0; }
.opsbook-CompareView, .opsbook-SweepView { padding: 12px 16px; height: 100%; overflow: auto; background: var(--opsbook-bg); }
.opsbook-CompareView h2, .opsbook-SweepView h2 { margin: 0 0 6px; font-size: 1.3em; }
.opsbook-CompareView h3, .opsbook-SweepView h3 { margin: 14px 0 6px; font-size: 1.05em; }
.opsbook-CompareView-grid { overflow: auto; max-height: 60vh; border: 1px solid var(--opsbook-border); border-radius: 4px; }
.opsbook-CompareView-table { border-collapse: separate; border-spacing: 0; table-layout: fixed; }
.opsbook-CompareView-table th, .opsbook-CompareView-table td {
  padding: 3px 8px; border-bottom: 1px solid var(--opsbook-border); white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; text-align: left; background: var(--opsbook-bg);
}
.opsbook-CompareView-table thead th { position: sticky; top: 0; z-index: 2; vertical-align: bottom; }
.opsbook-CompareView-table th.opsbook-CompareView-key { position: sticky; left: 0; z-index: 1; color: var(--opsbook-fg-muted); font-weight: 600; }
.opsbook-CompareView-table thead th.opsbook-CompareView-key { z-index: 3; }
.opsbook-CompareView-table tr.opsbook-CompareView-differs th.opsbook-CompareView-key { color: var(--opsbook-fg); }
.opsbook-CompareView-table tr.opsbook-CompareView-section th { font-weight: 700; color: var(--opsbook-fg); padding-top: 10px; }
.opsbook-CompareView-table td.opsbook-num { font-family: var(--opsbook-mono); }
.opsbook-CompareView-table td.opsbook-best { background: var(--opsbook-best-bg); color: var(--opsbook-best-fg); font-weight: 700; }
.opsbook-CompareView-runName { display: block; font-weight: 600; overflow: hidden; text-overflow: ellipsis; }
.opsbook-CompareView-runMeta { display: flex; align-items: center; gap: 4px; font-weight: 400; color: var(--opsbook-fg-muted); font-size: 0.9em; }
.opsbook-linkish { font: inherit; color: inherit; background: none; border: 0; padding: 0; cursor: pointer; text-align: left; }
.opsbook-linkish:hover { text-decoration: underline; }
.opsbook-linkish:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: 1px; }
.opsbook-direction { font: inherit; font-size: 0.85em; cursor: pointer; margin-left: 6px; padding: 0 5px; border-radius: 3px;
  color: var(--opsbook-fg-muted); background: transparent; border: 1px solid var(--opsbook-border); }
.opsbook-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; flex: none; }
.opsbook-SweepView-table { border-collapse: collapse; }
.opsbook-SweepView-table th, .opsbook-SweepView-table td { padding: 3px 10px 3px 0; border-bottom: 1px solid var(--opsbook-border); text-align: left; white-space: nowrap; }
.opsbook-SweepView-table th button { font: inherit; font-weight: 600; color: var(--opsbook-fg-muted); background: none; border: 0; padding: 0; cursor: pointer; }
.opsbook-SweepView-table th[aria-sort] button { color: var(--opsbook-fg); }
.opsbook-SweepView-table td.opsbook-num { font-family: var(--opsbook-mono); }
.opsbook-SweepView-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 12px; margin-top: 12px; }
`;

const STYLE_ELEMENT_ID = 'opsbook-compare-styles';

/** Adds {@link COMPARE_CSS} to the document once; later calls are no-ops. */
export function ensureCompareStyles(doc: Document | undefined = globalThis.document): void {
  if (!doc || doc.getElementById(STYLE_ELEMENT_ID)) return;
  const style = doc.createElement('style');
  style.id = STYLE_ELEMENT_ID;
  style.textContent = COMPARE_CSS;
  doc.head.appendChild(style);
}

/** Series colours when no stylesheet resolves (jsdom, a detached element). */
const FALLBACK_SERIES = ['#1f77b4', '#e8710a', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The number of distinct series colours; runs beyond it reuse them in order. */
export const SERIES_COLOR_COUNT = FALLBACK_SERIES.length;

/**
 * The series palette as resolved for `element` (inside `.opsbook-view`). Plotly needs explicit
 * colours, so the CSS variables are read at draw time and again when the theme changes.
 */
export function readSeriesColors(element: Element): string[] {
  const view = element.ownerDocument?.defaultView;
  const style = view?.getComputedStyle(element);
  return FALLBACK_SERIES.map((fallback, i) => style?.getPropertyValue(`--opsbook-series-${i + 1}`).trim() || fallback);
}
