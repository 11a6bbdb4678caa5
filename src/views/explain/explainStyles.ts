import { ensureCompareStyles } from '../compareStyles';
import { ensureStyleSheet, ensureViewStyles } from '../styles';

/**
 * Stylesheet of the explanation views, injected once per document like the other views' sheets.
 * Chart colours are shap's (drawn by plotly); the chrome follows the host's theme variables.
 */
export const EXPLAIN_CSS = `
.opsbook-ExplanationView { padding: 8px 12px; background: var(--opsbook-bg); min-width: 0; }
.opsbook-ExplanationView-title { margin: 0 0 4px; font-size: 1.2em; display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; }
.opsbook-ExplanationView-output { font-family: var(--opsbook-mono); font-size: 0.8em; font-weight: 400; color: var(--opsbook-fg-muted); }
.opsbook-ExplanationView-facts { display: flex; flex-wrap: wrap; gap: 2px 14px; margin: 0 0 8px; color: var(--opsbook-fg-muted); }
.opsbook-ExplanationView-facts strong { color: var(--opsbook-fg); font-weight: 600; }
.opsbook-ExplanationView-bar { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; margin-bottom: 6px; }
.opsbook-ExplanationView-tabs { display: inline-flex; flex-wrap: wrap; gap: 2px; }
.opsbook-ExplanationView-tabs button { font: inherit; color: var(--opsbook-fg); background: none; border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 2px 9px; cursor: pointer; }
.opsbook-ExplanationView-tabs button:hover { background: var(--opsbook-bg-hover); }
.opsbook-ExplanationView-tabs button[aria-selected='true'] { background: var(--opsbook-bg-selected); font-weight: 600; box-shadow: inset 0 -2px 0 var(--opsbook-focus); }
.opsbook-ExplanationView-tabs button:focus-visible, .opsbook-ExplanationView-rowPicker button:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: -2px; }
.opsbook-ExplanationView-rowPicker, .opsbook-ExplanationView-pickers { display: inline-flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.opsbook-ExplanationView-rowPicker button { font: inherit; min-width: 24px; color: var(--opsbook-fg); background: none; border: 1px solid var(--opsbook-border); border-radius: 3px; cursor: pointer; }
.opsbook-ExplanationView-rowPicker button:disabled { opacity: 0.4; cursor: default; }
.opsbook-ExplanationView-pickers { margin-bottom: 4px; }
.opsbook-ExplainChart { margin: 0; border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 4px; max-width: 900px; }
.opsbook-ExplainChart-plot { width: 100%; min-height: 150px; }
.opsbook-ExplainChart-summary { margin: 4px 4px 0; color: var(--opsbook-fg-muted); font-size: 0.9em; overflow-wrap: anywhere; }
`;

/** Adds the base, comparison (series palette) and explanation stylesheets to the document once. */
export function ensureExplainStyles(doc: Document | undefined = globalThis.document): void {
  ensureViewStyles(doc);
  ensureCompareStyles(doc);
  ensureStyleSheet('opsbook-explain-styles', EXPLAIN_CSS, doc);
}
