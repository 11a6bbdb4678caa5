import { ensureCompareStyles } from '../compareStyles';
import { ensureStyleSheet, ensureViewStyles } from '../styles';

/**
 * Stylesheet of the data-quality views, injected once per document like the other views' sheets.
 * Status colours come from the host's success/error/warning variables; every status also carries
 * an icon and a word, so none rests on colour alone.
 */
export const QUALITY_CSS = `
.opsbook-QualityView { padding: 8px 12px; background: var(--opsbook-bg); }
.opsbook-QualityView h2 { margin: 0 0 4px; font-size: 1.2em; display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.opsbook-QualityView h3 { margin: 0; font-size: 1em; display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; }
.opsbook-QualityView-facts { display: flex; flex-wrap: wrap; gap: 2px 14px; margin: 0 0 8px; color: var(--opsbook-fg-muted); }
.opsbook-QualityView-facts strong { color: var(--opsbook-fg); font-weight: 600; }
.opsbook-quality-status { display: inline-flex; align-items: center; gap: 4px; padding: 0 7px; border-radius: 9px; border: 1px solid currentColor; font-size: 0.85em; font-weight: 600; white-space: nowrap; }
.opsbook-quality-icon { font-weight: 700; }
.opsbook-quality-pass { color: var(--jp-success-color1, var(--vscode-testing-iconPassed, #2e7d32)); }
.opsbook-quality-fail { color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); }
.opsbook-quality-error { color: var(--jp-warn-color1, var(--vscode-editorWarning-foreground, #b85c00)); }
.opsbook-CheckResultView-checks { width: 100%; }
.opsbook-CheckResultView-checks td, .opsbook-CheckResultView-checks th { padding-right: 10px; }
.opsbook-CheckResultView-checks td.opsbook-num, .opsbook-CheckResultView-checks th.opsbook-num { text-align: right; }
.opsbook-CheckResultView-checks code { font-family: var(--opsbook-mono); }
.opsbook-CheckResultView-checks tr[aria-expanded] { cursor: pointer; }
.opsbook-CheckResultView-checks tr[aria-expanded]:hover { background: var(--opsbook-bg-hover); }
.opsbook-CheckResultView-checks tr[aria-expanded]:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: -2px; }
.opsbook-disclosure { display: inline-block; width: 1em; color: var(--opsbook-fg-muted); }
.opsbook-CheckResultView-detail > td { padding: 6px 8px 12px 20px; }
.opsbook-CheckResultView-message { margin: 0 0 6px; }
.opsbook-SampleGrid { overflow: auto; max-height: 340px; border: 1px solid var(--opsbook-border); border-radius: 4px; margin: 4px 0 8px; }
.opsbook-SampleGrid table { border-collapse: collapse; }
.opsbook-SampleGrid caption { caption-side: top; text-align: left; padding: 4px 8px; color: var(--opsbook-fg-muted); }
.opsbook-SampleGrid th, .opsbook-SampleGrid td { padding: 2px 10px; border-bottom: 1px solid var(--opsbook-border); text-align: left; white-space: nowrap; font-family: var(--opsbook-mono); }
.opsbook-SampleGrid th { position: sticky; top: 0; background: var(--opsbook-bg); font-family: inherit; font-weight: 600; }
.opsbook-SampleGrid th small { display: block; font-weight: 400; color: var(--opsbook-fg-muted); }
.opsbook-SampleGrid td.opsbook-num { text-align: right; }
.opsbook-null { color: var(--opsbook-fg-muted); font-style: italic; }
.opsbook-QualityHistogram { margin: 4px 0 0; border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 4px; max-width: 720px; }
.opsbook-QualityHistogram-plot { width: 100%; height: 220px; }
.opsbook-ProfileView-columns { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px; margin: 0; padding: 0; list-style: none; }
.opsbook-ProfileView-column { border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 6px 8px; min-width: 0; }
.opsbook-ProfileView-name { font-weight: 600; overflow-wrap: anywhere; }
.opsbook-ProfileView-type { font-family: var(--opsbook-mono); font-size: 0.9em; color: var(--opsbook-fg-muted); }
.opsbook-ProfileView-kind { font-size: 0.8em; padding: 0 5px; border-radius: 8px; border: 1px solid var(--opsbook-border); color: var(--opsbook-fg-muted); }
.opsbook-ProfileView-facts { margin: 4px 0; font-size: 0.9em; }
.opsbook-ProfileView-facts > div { display: flex; gap: 8px; }
.opsbook-ProfileView-facts dt { flex: 0 0 5.5em; color: var(--opsbook-fg-muted); }
.opsbook-ProfileView-facts dd { flex: 1; margin: 0; font-family: var(--opsbook-mono); min-width: 0; overflow-wrap: anywhere; }
.opsbook-ProfileView-top { margin: 2px 0 0; padding: 0; list-style: none; font-size: 0.9em; }
.opsbook-ProfileView-top li { display: flex; justify-content: space-between; gap: 8px; }
.opsbook-ProfileView-top li span:first-child { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: var(--opsbook-mono); }
.opsbook-MiniHistogram { display: block; width: 100%; height: 36px; margin-top: 4px; fill: var(--opsbook-chart-line); }
.opsbook-DriftView-columns { margin: 0; padding: 0; list-style: none; }
.opsbook-DriftView-column { border: 1px solid var(--opsbook-border); border-left-width: 4px; border-radius: 4px; padding: 6px 8px; margin-bottom: 8px; }
.opsbook-DriftView-column[data-drifted='true'] { border-left-color: var(--jp-error-color1, var(--vscode-errorForeground, #c62828)); }
.opsbook-DriftView-column[data-drifted='false'] { border-left-color: var(--jp-success-color1, var(--vscode-testing-iconPassed, #2e7d32)); }
.opsbook-DriftView-rank { color: var(--opsbook-fg-muted); font-family: var(--opsbook-mono); }
.opsbook-DriftView-scores { margin: 4px 0; font-size: 0.9em; }
.opsbook-DriftView-scores td.opsbook-num, .opsbook-DriftView-scores th.opsbook-num { text-align: right; }
.opsbook-DriftView-toggle { font: inherit; font-size: 0.9em; color: var(--opsbook-focus); background: none; border: 0; padding: 0; cursor: pointer; }
.opsbook-DriftView-toggle:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: 1px; }
.opsbook-DriftView-only { margin: 2px 0; }
`;

/** Adds the base, comparison (series palette) and quality stylesheets to the document once. */
export function ensureQualityStyles(doc: Document | undefined = globalThis.document): void {
  ensureViewStyles(doc);
  ensureCompareStyles(doc);
  ensureStyleSheet('opsbook-quality-styles', QUALITY_CSS, doc);
}
