import { ensureStyleSheet } from './styles';

/**
 * The runs table's stylesheet, injected once per document beside VIEW_CSS (whose `--opsbook-*`
 * theme variables it uses, so JupyterLab and VS Code themes, light and dark, both apply).
 */
export const RUNS_TABLE_CSS = `
.opsbook-RunsTable { display: flex; flex-direction: column; height: 100%; min-height: 240px; background: var(--opsbook-bg); }
.opsbook-RunsTable-toolbar {
  display: flex; flex-wrap: wrap; align-items: flex-start; gap: 6px 10px; padding: 6px 8px;
  border-bottom: 1px solid var(--opsbook-border);
}
.opsbook-RunsTable-filter { flex: 1 1 320px; min-width: 200px; }
.opsbook-RunsTable-filterInput, .opsbook-ColumnChooser-search, .opsbook-RunsTable-rename,
.opsbook-RunDetailsPane input, .opsbook-RunDetailsPane-notes {
  width: 100%; font: inherit; color: var(--opsbook-fg); background: var(--opsbook-bg);
  border: 1px solid var(--opsbook-border); border-radius: 3px; padding: 3px 6px;
}
.opsbook-RunsTable-filterInput { font-family: var(--opsbook-mono); }
.opsbook-RunsTable-filterInput[aria-invalid='true'] { border-color: var(--jp-error-color1, var(--vscode-inputValidation-errorBorder, #c62828)); }
.opsbook-RunsTable-filterInput:focus, .opsbook-ColumnChooser-search:focus, .opsbook-RunsTable-rename:focus,
.opsbook-RunDetailsPane input:focus, .opsbook-RunDetailsPane-notes:focus { outline: 2px solid var(--opsbook-focus); outline-offset: -1px; }
.opsbook-RunsTable-filterError { margin-top: 2px; font-size: 0.9em; }
.opsbook-RunsTable-caret { margin: 0; font-family: var(--opsbook-mono); white-space: pre; overflow: hidden; }
.opsbook-RunsTable-tool {
  font: inherit; cursor: pointer; padding: 2px 10px; border-radius: 3px; color: var(--opsbook-fg);
  background: var(--opsbook-bg-hover); border: 1px solid var(--opsbook-border);
}
.opsbook-RunsTable-tool:disabled, .opsbook-button:disabled { opacity: 0.5; cursor: default; }
.opsbook-RunsTable-tool:focus-visible, .opsbook-RunsTable-link:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: 1px; }
.opsbook-RunsTable-link {
  font: inherit; cursor: pointer; border: 0; background: transparent; padding: 0 4px;
  color: var(--jp-content-link-color, var(--vscode-textLink-foreground, #1976d2));
}
.opsbook-RunsTable-toggle { display: inline-flex; align-items: center; gap: 4px; padding-top: 3px; white-space: nowrap; }
.opsbook-RunsTable-count { padding-top: 3px; white-space: nowrap; }
.opsbook-RunsTable-selection { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
.opsbook-RunsTable-message { margin: 6px 8px; }
.opsbook-RunsTable-body { flex: 1; display: flex; min-height: 0; }
.opsbook-RunsTable-scroll { flex: 1; overflow: auto; position: relative; min-width: 0; }
.opsbook-RunsTable-scroll:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: -2px; }
.opsbook-RunsTable-rows { position: relative; }
.opsbook-RunsTable-row {
  display: grid; align-items: center; position: absolute; top: 0; left: 0; width: 100%;
  border-bottom: 1px solid var(--opsbook-border); cursor: default;
}
.opsbook-RunsTable-header {
  position: sticky; top: 0; z-index: 1; height: 32px; background: var(--opsbook-bg);
  font-weight: 600; color: var(--opsbook-fg-muted);
}
.opsbook-RunsTable-rows .opsbook-RunsTable-row:hover { background: var(--opsbook-bg-hover); }
.opsbook-RunsTable-selected { background: var(--opsbook-bg-selected); }
.opsbook-RunsTable-focused { box-shadow: inset 3px 0 0 var(--opsbook-focus); }
.opsbook-RunsTable-scroll:focus .opsbook-RunsTable-focused { outline: 1px solid var(--opsbook-focus); outline-offset: -1px; }
.opsbook-RunsTable-deleted .opsbook-RunsTable-nameText { text-decoration: line-through; color: var(--opsbook-fg-muted); }
.opsbook-RunsTable-cell { padding: 0 6px; min-width: 0; display: flex; align-items: center; gap: 6px; overflow: hidden; }
.opsbook-RunsTable-check { justify-content: center; }
.opsbook-RunsTable-text, .opsbook-RunsTable-nameText { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.opsbook-RunsTable-cell.opsbook-RunsTable-text { display: block; line-height: 30px; }
.opsbook-RunsTable-name { font-weight: 600; }
.opsbook-RunsTable .opsbook-num { font-family: var(--opsbook-mono); }
.opsbook-RunsTable-sort {
  display: inline-flex; gap: 4px; align-items: center; max-width: 100%; padding: 0; border: 0;
  background: transparent; font: inherit; color: inherit; cursor: pointer; text-align: left;
}
.opsbook-RunsTable-sort:hover { color: var(--opsbook-fg); }
.opsbook-RunsTable-star {
  border: 0; background: transparent; padding: 0; font-size: 1.1em; cursor: pointer; line-height: 1;
  color: var(--jp-warn-color1, var(--vscode-charts-yellow, #b88600));
}
.opsbook-RunsTable-star[aria-pressed='false'] { color: var(--opsbook-fg-muted); }
.opsbook-RunsTable-sweep {
  font: inherit; font-weight: normal; font-size: 0.85em; cursor: pointer; white-space: nowrap;
  border: 1px solid var(--opsbook-border); border-radius: 9px; padding: 0 6px; background: var(--opsbook-bg-hover); color: inherit;
}
.opsbook-RunsTable-tag {
  display: inline-flex; align-items: center; gap: 2px; font-weight: normal; font-size: 0.85em; white-space: nowrap;
  border: 1px solid var(--opsbook-border); border-radius: 9px; padding: 0 6px; color: var(--opsbook-fg-muted); margin: 0;
}
.opsbook-ColumnChooser { position: relative; }
.opsbook-ColumnChooser-panel {
  position: absolute; z-index: 10; top: calc(100% + 4px); left: 0; width: 280px; max-height: 360px;
  display: flex; flex-direction: column; gap: 6px; padding: 8px; background: var(--opsbook-bg);
  border: 1px solid var(--opsbook-border); border-radius: 4px; box-shadow: 0 4px 12px rgba(0, 0, 0, 0.25);
}
.opsbook-ColumnChooser-list { list-style: none; margin: 0; padding: 0; overflow: auto; }
.opsbook-ColumnChooser-list label { display: flex; gap: 6px; align-items: center; padding: 2px 0; font-family: var(--opsbook-mono); }
.opsbook-ColumnChooser-actions { display: flex; justify-content: flex-end; gap: 8px; }
.opsbook-RunDetailsPane {
  flex: 0 0 280px; overflow: auto; padding: 8px 12px; border-left: 1px solid var(--opsbook-border); background: var(--opsbook-bg);
}
.opsbook-RunDetailsPane-title { display: flex; align-items: center; gap: 8px; }
.opsbook-RunDetailsPane-title h3 { margin: 0; flex: 1; min-width: 0; overflow-wrap: anywhere; font-size: 1.15em; }
.opsbook-RunDetailsPane h4 { margin: 12px 0 4px; font-size: 1em; }
.opsbook-RunDetailsPane-id { font-size: 0.85em; overflow-wrap: anywhere; }
.opsbook-RunDetailsPane-actions { display: flex; flex-wrap: wrap; gap: 6px; }
.opsbook-RunDetailsPane-tags { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px; }
.opsbook-RunDetailsPane-addTag { display: flex; gap: 6px; margin-top: 6px; }
.opsbook-RunDetailsPane .opsbook-RunDetailsPane-addTag input { flex: 1; width: auto; min-width: 0; }
.opsbook-RunDetailsPane-addTag button { white-space: nowrap; }
.opsbook-RunDetailsPane-notes { display: block; resize: vertical; margin-bottom: 4px; }
.opsbook-RunDetailsPane-notesText { white-space: pre-wrap; }
`;

/** Adds {@link RUNS_TABLE_CSS} to the document once; later calls are no-ops. */
export function ensureRunsTableStyles(doc: Document | undefined = globalThis.document): void {
  ensureStyleSheet('opsbook-runs-table-styles', RUNS_TABLE_CSS, doc);
}
