/**
 * The views' stylesheet. It is shipped as a string and injected once per document, so the same
 * components look right from the JupyterLab bundle and from a VS Code webview without a CSS loader.
 * Every colour comes from the host's theme variables (JupyterLab's `--jp-*`, VS Code's `--vscode-*`)
 * with a light fallback, so light and dark themes both work.
 */
export const VIEW_CSS = `
.opsbook-view {
  --opsbook-fg: var(--jp-ui-font-color1, var(--vscode-foreground, #222));
  --opsbook-fg-muted: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #666));
  --opsbook-bg: var(--jp-layout-color1, var(--vscode-editor-background, #fff));
  --opsbook-bg-hover: var(--jp-layout-color2, var(--vscode-list-hoverBackground, #eee));
  --opsbook-bg-selected: var(--jp-layout-color2, var(--vscode-list-inactiveSelectionBackground, #e4e4e4));
  --opsbook-border: var(--jp-border-color2, var(--vscode-panel-border, #ddd));
  --opsbook-focus: var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));
  --opsbook-code-bg: var(--jp-cell-editor-background, var(--vscode-textCodeBlock-background, #f5f5f5));
  --opsbook-mono: var(--jp-code-font-family, var(--vscode-editor-font-family, monospace));
  --opsbook-chart-line: var(--jp-brand-color1, var(--vscode-charts-blue, #1976d2));
  --opsbook-chart-grid: var(--jp-border-color2, var(--vscode-panel-border, #ddd));
  color: var(--opsbook-fg);
  font-family: var(--jp-ui-font-family, var(--vscode-font-family, system-ui, sans-serif));
  font-size: var(--jp-ui-font-size1, var(--vscode-font-size, 13px));
  box-sizing: border-box;
}
.opsbook-view *, .opsbook-view *::before, .opsbook-view *::after { box-sizing: inherit; }
.opsbook-badge {
  display: inline-flex; align-items: center; gap: 4px;
  padding: 1px 6px; border-radius: 9px; font-size: 0.85em; line-height: 1.4;
  border: 1px solid currentColor; white-space: nowrap;
}
.opsbook-badge::before { content: ''; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.opsbook-badge-running { color: var(--jp-info-color1, var(--vscode-charts-blue, #0b6bcb)); }
.opsbook-badge-running::before { animation: opsbook-pulse 1.2s ease-in-out infinite; }
.opsbook-badge-finished { color: var(--jp-success-color1, var(--vscode-charts-green, #2e7d32)); }
.opsbook-badge-failed { color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); }
.opsbook-badge-killed { color: var(--jp-warn-color1, var(--vscode-charts-orange, #b85c00)); }
@keyframes opsbook-pulse { 50% { opacity: 0.3; } }
@media (prefers-reduced-motion: reduce) { .opsbook-badge-running::before { animation: none; } }
.opsbook-RunList { padding: 4px 0; }
.opsbook-RunList-group { margin-bottom: 8px; }
.opsbook-RunList-groupTitle {
  display: flex; justify-content: space-between; align-items: baseline;
  margin: 0; padding: 4px 8px; font-size: 0.8em; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em; color: var(--opsbook-fg-muted);
}
.opsbook-RunList-runs { list-style: none; margin: 0; padding: 0; }
.opsbook-RunList-run {
  display: block; width: 100%; text-align: left; font: inherit; color: inherit;
  background: transparent; border: 0; border-bottom: 1px solid var(--opsbook-border);
  padding: 6px 8px; cursor: pointer;
}
.opsbook-RunList-run:hover { background: var(--opsbook-bg-hover); }
.opsbook-RunList-run:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: -2px; }
.opsbook-RunList-run[aria-current='true'] { background: var(--opsbook-bg-selected); box-shadow: inset 3px 0 0 var(--opsbook-focus); }
.opsbook-RunList-line { display: flex; align-items: center; gap: 6px; min-width: 0; }
.opsbook-RunList-name { flex: 1; min-width: 0; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.opsbook-RunList-meta { color: var(--opsbook-fg-muted); font-size: 0.9em; margin-top: 2px; }
.opsbook-RunList-metrics { display: flex; flex-wrap: wrap; gap: 2px 10px; margin-top: 2px; font-size: 0.9em; }
.opsbook-metric-key { color: var(--opsbook-fg-muted); }
.opsbook-metric-value { font-family: var(--opsbook-mono); }
.opsbook-RunDetail { padding: 12px 16px; overflow: auto; height: 100%; background: var(--opsbook-bg); }
.opsbook-RunDetail h2 { margin: 0 0 4px; font-size: 1.4em; display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.opsbook-RunDetail h3 { margin: 18px 0 6px; font-size: 1.1em; }
.opsbook-RunDetail-facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
.opsbook-RunDetail-facts dt { color: var(--opsbook-fg-muted); }
.opsbook-RunDetail-facts dd { margin: 0; }
.opsbook-table { border-collapse: collapse; min-width: 50%; }
.opsbook-table th, .opsbook-table td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--opsbook-border); vertical-align: top; }
.opsbook-table th { color: var(--opsbook-fg-muted); font-weight: 600; }
.opsbook-table td.opsbook-num { font-family: var(--opsbook-mono); }
.opsbook-RunDetail-charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.opsbook-MetricChart { border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 4px; min-height: 240px; }
.opsbook-MetricChart-plot { width: 100%; height: 240px; }
.opsbook-MetricChart-message { color: var(--opsbook-fg-muted); padding: 8px; }
.opsbook-code {
  font-family: var(--opsbook-mono); font-size: 0.95em; background: var(--opsbook-code-bg);
  border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 8px; overflow: auto; white-space: pre; margin: 0;
}
.opsbook-error-text { color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); }
.opsbook-muted { color: var(--opsbook-fg-muted); }
.opsbook-RunCard {
  display: inline-flex; flex-direction: column; gap: 4px; padding: 8px 12px; margin: 2px 0;
  border: 1px solid var(--opsbook-border); border-left: 3px solid var(--opsbook-focus); border-radius: 4px;
  background: var(--opsbook-bg); max-width: 100%;
}
.opsbook-RunCard-title { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.opsbook-RunCard-name { font-weight: 600; }
.opsbook-RunCard-metrics { display: flex; flex-wrap: wrap; gap: 2px 12px; }
.opsbook-button {
  font: inherit; cursor: pointer; padding: 2px 10px; border-radius: 3px;
  color: var(--jp-ui-inverse-font-color1, var(--vscode-button-foreground, #fff));
  background: var(--jp-brand-color1, var(--vscode-button-background, #1976d2));
  border: 1px solid transparent;
}
.opsbook-button:hover { filter: brightness(1.1); }
.opsbook-button:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: 2px; }
`;

const STYLE_ELEMENT_ID = 'opsbook-view-styles';

/** Adds {@link VIEW_CSS} to the document once; later calls are no-ops. */
export function ensureViewStyles(doc: Document | undefined = globalThis.document): void {
  ensureStyleSheet(STYLE_ELEMENT_ID, VIEW_CSS, doc);
}

/** Adds a view's stylesheet to the document once, as a `<style>` element with this id. */
export function ensureStyleSheet(id: string, css: string, doc: Document | undefined = globalThis.document): void {
  if (!doc || doc.getElementById(id)) return;
  const style = doc.createElement('style');
  style.id = id;
  style.textContent = css;
  doc.head.appendChild(style);
}
