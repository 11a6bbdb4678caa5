import { ensureStyleSheet, ensureViewStyles } from '../styles';

/**
 * Stylesheet of the serving views, injected once per document like the other views' sheets. Every
 * colour is a host theme variable (through the base sheet's --opsbook-* names), so light and dark
 * themes both read.
 */
export const SERVE_CSS = `
.opsbook-Endpoints { display: flex; flex-direction: column; gap: 6px; min-width: 0; }
.opsbook-Endpoints-hint, .opsbook-ServeTest-hint { margin: 0; color: var(--opsbook-fg-muted); }
.opsbook-Endpoint { border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 6px 8px; display: flex; flex-direction: column; gap: 4px; min-width: 0; background: var(--opsbook-bg); color: var(--opsbook-fg); }
.opsbook-Endpoint[data-status='stopped'], .opsbook-Endpoint[data-status='failed'] { opacity: 0.85; }
.opsbook-Endpoint-head { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.opsbook-Endpoint-name { margin: 0; font-size: 1em; font-weight: 600; overflow-wrap: anywhere; }
.opsbook-Endpoint-device { font-family: var(--opsbook-mono); font-size: 0.8em; padding: 0 4px; border: 1px solid var(--opsbook-border); border-radius: 3px; color: var(--opsbook-fg-muted); }
.opsbook-Endpoint-stop { margin-left: auto; }
.opsbook-Endpoint button, .opsbook-ServeTest button, .opsbook-ServeTest select {
  font: inherit; color: var(--opsbook-fg); background: var(--opsbook-bg); border: 1px solid var(--opsbook-border); border-radius: 3px; padding: 1px 8px; cursor: pointer;
}
.opsbook-Endpoint button:hover:not(:disabled), .opsbook-ServeTest button:hover:not(:disabled) { background: var(--opsbook-bg-hover); }
.opsbook-Endpoint button:disabled, .opsbook-ServeTest button:disabled { opacity: 0.5; cursor: default; }
.opsbook-Endpoint button:focus-visible, .opsbook-Endpoint a:focus-visible, .opsbook-Endpoint summary:focus-visible,
.opsbook-ServeTest textarea:focus-visible, .opsbook-ServeTest button:focus-visible, .opsbook-ServeTest select:focus-visible,
.opsbook-Sparkline-chart:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: 1px; }
.opsbook-Endpoint .opsbook-ServeTest-send { border-color: var(--opsbook-focus); }
.opsbook-Endpoint-url { margin: 0; display: flex; align-items: center; gap: 6px; min-width: 0; }
.opsbook-Endpoint-link { font-family: var(--opsbook-mono); color: var(--opsbook-focus); overflow-wrap: anywhere; }
.opsbook-Endpoint-error, .opsbook-ServeTest-error { margin: 0; color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); overflow-wrap: anywhere; }
.opsbook-Endpoint-models { margin: 0; padding: 0 0 0 14px; font-size: 0.92em; }
.opsbook-Endpoint-model { font-weight: 600; }
.opsbook-Endpoint-shape { font-family: var(--opsbook-mono); font-size: 0.9em; color: var(--opsbook-fg-muted); overflow-wrap: anywhere; }
.opsbook-Endpoint-test > summary { cursor: pointer; color: var(--opsbook-focus); }
.opsbook-ServeStatus-starting, .opsbook-ServeStatus-stopping { color: var(--jp-info-color1, var(--vscode-charts-blue, #0b6bcb)); }
.opsbook-ServeStatus-starting::before, .opsbook-ServeStatus-stopping::before { animation: opsbook-pulse 1.2s ease-in-out infinite; }
.opsbook-ServeStatus-ready { color: var(--jp-success-color1, var(--vscode-charts-green, #2e7d32)); }
.opsbook-ServeStatus-stopped { color: var(--opsbook-fg-muted); }
.opsbook-ServeStatus-failed { color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); }
@media (prefers-reduced-motion: reduce) { .opsbook-ServeStatus-starting::before, .opsbook-ServeStatus-stopping::before { animation: none; } }
.opsbook-Sparkline { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; font-size: 0.9em; color: var(--opsbook-fg-muted); }
.opsbook-Sparkline-chart { background: var(--opsbook-code-bg); border-radius: 2px; }
.opsbook-Sparkline-axis { stroke: var(--opsbook-chart-grid); stroke-width: 1; }
.opsbook-Sparkline-p50 { fill: none; stroke: var(--opsbook-chart-line); stroke-width: 1.5; }
.opsbook-Sparkline-p99 { fill: none; stroke: var(--jp-warn-color1, var(--vscode-charts-orange, #b85c00)); stroke-width: 1; stroke-dasharray: 3 2; }
.opsbook-Sparkline-key { font-weight: 600; }
.opsbook-Sparkline-key50 { color: var(--opsbook-chart-line); }
.opsbook-Sparkline-key99 { color: var(--jp-warn-color1, var(--vscode-charts-orange, #b85c00)); }
.opsbook-ServeTest { display: flex; flex-direction: column; gap: 4px; margin-top: 4px; min-width: 0; }
.opsbook-ServeTest-row { display: flex; gap: 6px; align-items: center; }
.opsbook-ServeTest-label { color: var(--opsbook-fg-muted); font-size: 0.9em; }
.opsbook-ServeTest-body { width: 100%; font-family: var(--opsbook-mono); font-size: 0.9em; color: var(--opsbook-fg); background: var(--opsbook-code-bg); border: 1px solid var(--opsbook-border); border-radius: 3px; padding: 4px; resize: vertical; }
.opsbook-ServeTest-body[aria-invalid='true'] { border-color: var(--jp-error-color1, #c62828); }
.opsbook-ServeTest-actions { display: flex; gap: 6px; }
.opsbook-ServeTest-status { margin: 0; }
.opsbook-ServeTest-code { font-family: var(--opsbook-mono); font-weight: 600; }
.opsbook-ServeTest-ok { color: var(--jp-success-color1, var(--vscode-charts-green, #2e7d32)); }
.opsbook-ServeTest-bad { color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); }
.opsbook-ServeTest-answer, .opsbook-ServeTest-curl pre { margin: 0; padding: 4px; font-family: var(--opsbook-mono); font-size: 0.85em; background: var(--opsbook-code-bg); border-radius: 3px; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 200px; overflow: auto; }
.opsbook-ServeTest-curl summary { cursor: pointer; color: var(--opsbook-fg-muted); font-size: 0.9em; }
`;

/** Adds the base and serving stylesheets to the document once. */
export function ensureServeStyles(doc: Document | undefined = globalThis.document): void {
  ensureViewStyles(doc);
  ensureStyleSheet('opsbook-serve-styles', SERVE_CSS, doc);
}
