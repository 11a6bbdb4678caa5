import type { Run } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { WorkspaceDaemon } from '../services';
import { ago, DaemonTree } from './tree';

/** The latest recorded result of one suite: which run, and how many checks passed and failed. */
export interface SuiteResult {
  suite: string;
  run: Run;
  passed: number;
  failed: number;
}

/**
 * The latest result of each suite, from the runs' metrics: a check recorded against a run leaves
 * `quality.<suite>.passed` and `quality.<suite>.failed` (and the artifact `quality/<suite>.json`).
 */
export function latestSuiteResults(runs: readonly Run[]): SuiteResult[] {
  const latest = new Map<string, SuiteResult>();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.metrics_latest ?? {})) {
      const match = /^quality\.(.+)\.passed$/.exec(key);
      if (!match || value === null) continue;
      const suite = match[1];
      const known = latest.get(suite);
      if (known && Date.parse(known.run.start_time) >= Date.parse(run.start_time)) continue;
      latest.set(suite, { suite, run, passed: value, failed: run.metrics_latest?.[`quality.${suite}.failed`] ?? 0 });
    }
  }
  return [...latest.values()].sort((a, b) => a.suite.localeCompare(b.suite));
}

/** A suite's latest result: opens the recorded result when chosen. */
export class SuiteResultItem extends vscode.TreeItem {
  constructor(readonly result: SuiteResult) {
    super(result.suite, vscode.TreeItemCollapsibleState.None);
    this.id = `quality:${result.suite}`;
    const ok = result.failed === 0;
    this.description = `${ok ? 'passed' : 'failed'} ${result.passed}/${result.passed + result.failed} · ${result.run.name} · ${ago(result.run.start_time)}`;
    this.iconPath = new vscode.ThemeIcon(ok ? 'pass' : 'error', new vscode.ThemeColor(ok ? 'charts.green' : 'errorForeground'));
    this.tooltip = `Suite ${result.suite}: ${result.passed} check(s) passed, ${result.failed} failed or could not run, in run ${result.run.name}.`;
    this.contextValue = 'opsbook.suiteResult';
    this.command = { command: 'opsbook.openQualityResult', title: 'Open Result', arguments: [result.run.id, result.suite] };
  }
}

/** A suite file of the workspace with no recorded result yet: opens the file. */
export class SuiteFileItem extends vscode.TreeItem {
  constructor(readonly uri: vscode.Uri) {
    super(uri, vscode.TreeItemCollapsibleState.None);
    this.id = `suite-file:${uri.toString()}`;
    this.description = 'no result yet';
    this.iconPath = new vscode.ThemeIcon('checklist');
    this.contextValue = 'opsbook.suiteFile';
    this.command = { command: 'vscode.open', title: 'Open Suite', arguments: [uri] };
  }
}

/** Whether a YAML or JSON text looks like a check suite (a top-level `checks:` list). */
export function looksLikeSuite(text: string): boolean {
  return /^checks\s*:/m.test(text) || /"checks"\s*:\s*\[/.test(text);
}

/** The Data Quality tree: each suite's latest result, then the workspace's suite files not yet run. */
export class QualityTree extends DaemonTree<SuiteResultItem | SuiteFileItem> {
  constructor(daemon: WorkspaceDaemon) {
    super(daemon);
    this.subscriptions.push(
      daemon.onEvent(({ name, data }) => {
        if (name === 'quality' && (data as { phase?: string }).phase === 'done') this.refreshSoon();
      }),
      daemon.onConnected(() => this.refresh()),
    );
  }

  protected async roots(): Promise<(SuiteResultItem | SuiteFileItem)[]> {
    const { runs } = await (await this.daemon.client()).listRuns({ limit: 500 });
    const results = latestSuiteResults(runs);
    const files = await suiteFiles();
    const named = new Set(results.map((result) => result.suite));
    return [
      ...results.map((result) => new SuiteResultItem(result)),
      ...files.filter((uri) => !named.has(suiteName(uri))).map((uri) => new SuiteFileItem(uri)),
    ];
  }
}

/** The suite name a file gives when it names none: its file name without extension. */
export function suiteName(uri: vscode.Uri): string {
  return uri.path.split('/').pop()!.replace(/\.(ya?ml|json)$/, '');
}

/** The workspace's YAML files that look like check suites (outside .opsbook, node_modules and venvs). */
export async function suiteFiles(): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles('**/*.{yaml,yml}', '{**/node_modules/**,**/.opsbook/**,**/.venv*/**}', 200);
  const suites: vscode.Uri[] = [];
  for (const uri of found) {
    try {
      if (looksLikeSuite(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)))) suites.push(uri);
    } catch {
      // unreadable: not a suite we can offer
    }
  }
  return suites.sort((a, b) => a.path.localeCompare(b.path));
}
