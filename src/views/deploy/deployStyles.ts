import { ensureStyleSheet, ensureViewStyles } from '../styles';

const ERROR = 'var(--jp-error-color1, var(--vscode-errorForeground, #c62828))';
const SUCCESS = 'var(--jp-success-color1, var(--vscode-charts-green, #2e7d32))';
const INFO = 'var(--jp-info-color1, var(--vscode-charts-blue, #0b6bcb))';
const WARN = 'var(--jp-warn-color1, var(--vscode-charts-orange, #b85c00))';

/**
 * Stylesheet of the deploy views, injected once per document like the other views' sheets. Every
 * colour is a host theme variable with a light fallback, so light and dark themes both read; the
 * diff's added and removed lines are tinted with translucent colours that suit both.
 */
export const DEPLOY_CSS = `
.opsbook-Deploy { display: flex; flex-direction: column; gap: 8px; min-width: 0; }
.opsbook-Deploy h3, .opsbook-Deploy h4 { margin: 4px 0 2px; font-size: 1em; font-weight: 600; }
.opsbook-Deploy-hint { margin: 0; color: var(--opsbook-fg-muted); overflow-wrap: anywhere; }
.opsbook-Deploy-error { margin: 0; color: ${ERROR}; overflow-wrap: anywhere; }
.opsbook-Deploy button, .opsbook-Deploy select, .opsbook-Deploy input {
  font: inherit; color: var(--opsbook-fg); background: var(--opsbook-bg); border: 1px solid var(--opsbook-border); border-radius: 3px; padding: 1px 6px; min-width: 0;
}
.opsbook-Deploy button { cursor: pointer; white-space: nowrap; padding: 1px 8px; }
.opsbook-Deploy button:hover:not(:disabled) { background: var(--opsbook-bg-hover); }
.opsbook-Deploy button:disabled { opacity: 0.55; cursor: default; }
.opsbook-Deploy button:focus-visible, .opsbook-Deploy select:focus-visible, .opsbook-Deploy input:focus-visible, .opsbook-Deploy summary:focus-visible {
  outline: 2px solid var(--opsbook-focus); outline-offset: 1px;
}
.opsbook-Deploy button.opsbook-Deploy-primary { border-color: var(--opsbook-focus); color: var(--opsbook-focus); font-weight: 600; }
.opsbook-Deploy button.opsbook-Deploy-danger { border-color: ${ERROR}; color: ${ERROR}; }
.opsbook-Deploy input[aria-invalid='true'], .opsbook-Deploy select[aria-invalid='true'] { border-color: ${ERROR}; }
.opsbook-DeployForm { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 8px; align-items: center; }
.opsbook-DeployForm label { color: var(--opsbook-fg-muted); }
.opsbook-DeployForm-wide { grid-column: 1 / -1; }
.opsbook-DeployForm-actions { grid-column: 1 / -1; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin-top: 2px; }
.opsbook-DeployForm-pair { display: flex; gap: 6px; align-items: center; min-width: 0; }
.opsbook-DeployForm-pair input { width: 5em; }
.opsbook-DeployState-available, .opsbook-Gate-pass, .opsbook-Rollout-available { color: ${SUCCESS}; }
.opsbook-DeployState-progressing, .opsbook-Rollout-not_watched { color: ${INFO}; }
.opsbook-DeployState-progressing::before { animation: opsbook-pulse 1.2s ease-in-out infinite; }
.opsbook-DeployState-failed, .opsbook-Gate-fail, .opsbook-Rollout-failed, .opsbook-Rollout-timed_out { color: ${ERROR}; }
.opsbook-DeployState-absent, .opsbook-DeployState-unknown, .opsbook-Gate-skipped { color: var(--opsbook-fg-muted); }
@media (prefers-reduced-motion: reduce) { .opsbook-DeployState-progressing::before { animation: none; } }
.opsbook-Action-create { color: ${SUCCESS}; }
.opsbook-Action-update { color: ${INFO}; }
.opsbook-Action-unchanged { color: var(--opsbook-fg-muted); }
.opsbook-Action-conflict { color: ${ERROR}; }
.opsbook-Action-none { color: var(--opsbook-fg-muted); }
.opsbook-DeployPlan-head { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.opsbook-DeployPlan-title { font-weight: 600; overflow-wrap: anywhere; }
.opsbook-Gates, .opsbook-Changes, .opsbook-PodEvents, .opsbook-Deployments { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 4px; }
.opsbook-Gate { display: flex; flex-direction: column; gap: 2px; }
.opsbook-Gate-line { display: flex; gap: 6px; align-items: baseline; flex-wrap: wrap; }
.opsbook-Gate-checks { margin: 0; padding-left: 18px; font-family: var(--opsbook-mono); font-size: 0.9em; }
.opsbook-Change { border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 3px 6px; min-width: 0; }
.opsbook-Change > summary { cursor: pointer; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; list-style-position: inside; }
.opsbook-Change-name { font-family: var(--opsbook-mono); overflow-wrap: anywhere; }
.opsbook-Change-stat { font-family: var(--opsbook-mono); font-size: 0.85em; color: var(--opsbook-fg-muted); margin-left: auto; }
.opsbook-Change-conflicts { margin: 2px 0; padding-left: 18px; color: ${ERROR}; }
.opsbook-Diff { margin: 4px 0 0; font-family: var(--opsbook-mono); font-size: 0.85em; background: var(--opsbook-code-bg); border-radius: 3px; overflow: auto; max-height: 360px; padding: 2px 0; }
.opsbook-Diff-line { display: block; white-space: pre; padding: 0 6px; }
.opsbook-Diff-add { background: rgba(46, 160, 67, 0.18); }
.opsbook-Diff-remove { background: rgba(248, 81, 73, 0.18); }
.opsbook-Diff-hunk { color: ${INFO}; }
.opsbook-Diff-header { color: var(--opsbook-fg-muted); }
.opsbook-Yaml > summary { cursor: pointer; color: var(--opsbook-focus); }
.opsbook-Yaml pre { margin: 4px 0 0; max-height: 420px; font-size: 0.85em; }
.opsbook-DeployProgress { display: flex; flex-direction: column; gap: 2px; }
.opsbook-DeployProgress progress { width: 100%; accent-color: var(--opsbook-focus); }
.opsbook-Rollout { display: flex; flex-direction: column; gap: 4px; }
.opsbook-Rollout-line { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.opsbook-PodEvent { font-size: 0.92em; overflow-wrap: anywhere; border-left: 3px solid ${WARN}; padding-left: 6px; }
.opsbook-PodEvent-reason { font-weight: 600; }
.opsbook-PodEvent-object { font-family: var(--opsbook-mono); color: var(--opsbook-fg-muted); }
.opsbook-Refused { border: 1px solid ${ERROR}; border-radius: 4px; padding: 6px; display: flex; flex-direction: column; gap: 4px; }
.opsbook-Confirm { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.opsbook-Deployment { border: 1px solid var(--opsbook-border); border-radius: 4px; padding: 6px 8px; display: flex; flex-direction: column; gap: 3px; background: var(--opsbook-bg); min-width: 0; }
.opsbook-Deployment-head { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.opsbook-Deployment-name { margin: 0; font-size: 1em; font-weight: 600; overflow-wrap: anywhere; }
.opsbook-Deployment-ready { font-family: var(--opsbook-mono); font-size: 0.9em; }
.opsbook-Deployment-facts { margin: 0; color: var(--opsbook-fg-muted); font-size: 0.92em; overflow-wrap: anywhere; }
.opsbook-Deployment-canary { font-size: 0.92em; }
.opsbook-Deployment-forced { color: ${WARN}; font-size: 0.9em; }
.opsbook-Deployment-actions { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; }
`;

/** Adds the base and deploy stylesheets to the document once. */
export function ensureDeployStyles(doc: Document | undefined = globalThis.document): void {
  ensureViewStyles(doc);
  ensureStyleSheet('opsbook-deploy-styles', DEPLOY_CSS, doc);
}
