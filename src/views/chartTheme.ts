/** Colours a chart needs, resolved from the host's CSS so light and dark themes both look right. */
export interface ChartTheme {
  font: string;
  fontFamily: string;
  line: string;
  grid: string;
}

const FALLBACK: ChartTheme = { font: '#222', fontFamily: 'sans-serif', line: '#1976d2', grid: '#ddd' };

/**
 * Reads the chart colours from an element inside `.opsbook-view`. Plotly draws SVG with explicit
 * colours, so it cannot follow CSS variables by itself; this resolves them at draw time.
 */
export function readChartTheme(element: Element): ChartTheme {
  const view = element.ownerDocument?.defaultView;
  if (!view) return FALLBACK;
  const style = view.getComputedStyle(element);
  const custom = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
  return {
    font: style.color || FALLBACK.font,
    fontFamily: style.fontFamily || FALLBACK.fontFamily,
    line: custom('--opsbook-chart-line', FALLBACK.line),
    grid: custom('--opsbook-chart-grid', FALLBACK.grid),
  };
}

/**
 * Calls `onChange` when the host switches theme: JupyterLab sets `data-jp-theme-*` on `<body>`,
 * VS Code swaps `vscode-light`/`vscode-dark` classes there.
 * @returns a function that stops watching
 */
export function watchThemeChanges(doc: Document, onChange: () => void): () => void {
  const Observer = doc.defaultView?.MutationObserver;
  if (!Observer || !doc.body) return () => undefined;
  const observer = new Observer(onChange);
  observer.observe(doc.body, { attributes: true, attributeFilter: ['class', 'data-jp-theme-name', 'data-jp-theme-light'] });
  return () => observer.disconnect();
}
