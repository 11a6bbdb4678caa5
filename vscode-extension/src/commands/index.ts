import { OpsbookApiError } from '@opsbook/core/client';
import { SchemaValidator, type CheckResult, type Explanation, type QualityOutput, type WebviewView } from '@opsbook/schema';
import { randomUUID } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { parse as parseYaml } from 'yaml';
import type { NotebookKernels, WebviewPanels, WorkspaceDaemon } from '../services';
import type { DeploymentItem, DeploymentsTree } from '../trees/deployments';
import type { EndpointItem, EndpointsTree } from '../trees/endpoints';
import { isRunning } from '../trees/endpoints';
import type { ModelItem, ModelVersionItem } from '../trees/models';
import { suiteFiles, suiteName } from '../trees/quality';
import type { RunItem } from '../trees/runs';
import { describeError } from '../errors';
import { actOnDeployment, deleteDeployment, deployModel, showDeployment } from './deploy';
import { pickData } from './sources';

/** What the commands act on: the services and the trees whose selection some commands read. */
export interface CommandContext {
  daemon: WorkspaceDaemon;
  panels: WebviewPanels;
  kernels: NotebookKernels;
  log: vscode.LogOutputChannel;
  runsView: vscode.TreeView<vscode.TreeItem>;
  endpoints: EndpointsTree;
  deployments: DeploymentsTree;
  refresh(): void;
}

/** Whether a name passes ServedModelSpec.name of schema/serve-config.schema.json (what `/v2/models/{name}` accepts). */
function isServedName(model: string, name: string): boolean {
  return SchemaValidator.shared().check('serve-config.schema.json#/$defs/ServedModelSpec', { model, name }) === null;
}

/** Registers every command of package.json; each reports its failure as a message, never throws. */
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const register = (id: string, run: (...args: never[]) => Promise<unknown> | unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await run(...args);
      } catch (error) {
        ctx.log.error(`${id}: ${describeError(error)}`);
        void vscode.window.showErrorMessage(`Opsbook: ${describeError(error)}`);
        return undefined;
      }
    });
  return [
    register('opsbook.showExperiments', () => ctx.panels.open({ kind: 'runs' })),
    register('opsbook.compareRuns', (clicked?: RunItem, selected?: RunItem[]) => compareRuns(ctx, clicked, selected)),
    register('opsbook.checkDataQuality', (uri?: vscode.Uri) => checkDataQuality(ctx, uri)),
    register('opsbook.profileData', (uri?: vscode.Uri) => profileData(ctx, uri)),
    register('opsbook.explainModel', (target?: vscode.Uri | ModelVersionItem) => explainModel(ctx, target)),
    register('opsbook.serveModel', (target?: vscode.Uri | ModelVersionItem) => serveModel(ctx, target)),
    register('opsbook.stopEndpoint', (item?: EndpointItem) => stopEndpoint(ctx, item)),
    register('opsbook.deployModel', (target?: vscode.Uri | ModelItem | ModelVersionItem) => deployModel(ctx, target)),
    register('opsbook.showDeployment', (item?: DeploymentItem) => showDeployment(ctx, item)),
    register('opsbook.promoteDeployment', (item?: DeploymentItem) => actOnDeployment(ctx, 'promote', item)),
    register('opsbook.rollbackDeployment', (item?: DeploymentItem) => actOnDeployment(ctx, 'rollback', item)),
    register('opsbook.deleteDeployment', (item?: DeploymentItem) => deleteDeployment(ctx, item)),
    register('opsbook.openSettings', () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:opsbook.opsbook-vscode')),
    register('opsbook.showLog', () => ctx.log.show()),
    register('opsbook.refresh', () => ctx.refresh()),
    register('opsbook.openRun', (runId: string) => ctx.panels.open({ kind: 'run', run_id: runId })),
    register('opsbook.openModel', (name: string) => ctx.panels.open({ kind: 'model', name })),
    register('opsbook.openEndpoint', (name: string) => ctx.panels.open({ kind: 'endpoints', name })),
    register('opsbook.openQualityResult', (runId: string, suite: string) => openQualityResult(ctx, runId, suite)),
  ];
}

/** The runs to compare: the clicked run with the selection (context menu), else the Runs view's selection. */
export function runsToCompare(clicked: RunItem | undefined, selected: readonly vscode.TreeItem[] | undefined, viewSelection: readonly vscode.TreeItem[]): string[] {
  const items = selected?.length ? selected : clicked ? [clicked, ...viewSelection] : viewSelection;
  const ids = items.map((item) => (item as Partial<RunItem>).run?.id).filter((id): id is string => typeof id === 'string');
  return [...new Set(ids)];
}

async function compareRuns(ctx: CommandContext, clicked?: RunItem, selected?: RunItem[]): Promise<void> {
  const runIds = runsToCompare(clicked, selected, ctx.runsView.selection);
  if (runIds.length < 2) {
    void vscode.window.showInformationMessage('Opsbook: select two or more runs in the Runs view (Ctrl/Cmd+click), then Compare Selected Runs.');
    return;
  }
  ctx.panels.open({ kind: 'compare', run_ids: runIds.slice(0, 50) } as WebviewView);
}

async function workspaceFolder(): Promise<string> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('open a folder first: Opsbook keeps runs per workspace folder.');
  return realpath(folder.uri.fsPath);
}

/**
 * Runs one daemon job under a cancellable notification, reporting the job's progress events; Cancel
 * deletes the job. @returns undefined when cancelled.
 */
export async function runJob<T>(
  ctx: Pick<CommandContext, 'daemon'>,
  title: string,
  kind: 'quality' | 'explain',
  start: (jobId: string) => Promise<T>,
  cancel: (jobId: string) => Promise<unknown>,
): Promise<T | undefined> {
  const jobId = `vscode-${randomUUID()}`;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      let reported = 0;
      const events = ctx.daemon.onEvent(({ name, data }) => {
        const event = data as { job_id?: string; phase?: string; done?: number; total?: number };
        if (name !== kind || event.job_id !== jobId) return;
        const fraction = event.total ? Math.min(1, (event.done ?? 0) / event.total) : undefined;
        const increment = fraction === undefined ? undefined : Math.max(0, fraction * 100 - reported);
        if (increment !== undefined) reported += increment;
        progress.report({ message: event.phase, increment });
      });
      let cancelled = false;
      const onCancel = token.onCancellationRequested(() => {
        cancelled = true;
        void cancel(jobId).catch(() => undefined);
      });
      try {
        return await start(jobId);
      } catch (error) {
        if (cancelled && error instanceof OpsbookApiError && error.status === 409) return undefined;
        throw error;
      } finally {
        onCancel.dispose();
        events.dispose();
      }
    },
  );
}

async function pickSuite(workspace: string): Promise<vscode.Uri | undefined> {
  const files = await suiteFiles();
  type Choice = vscode.QuickPickItem & { uri?: vscode.Uri };
  const choices: Choice[] = files.map((uri) => ({ label: suiteName(uri), description: vscode.workspace.asRelativePath(uri), uri }));
  choices.push({ label: '$(folder-opened) Browse for a suite file…' });
  const picked = await vscode.window.showQuickPick(choices, { title: 'Opsbook: check suite', placeHolder: 'A YAML suite of checks' });
  if (!picked) return undefined;
  if (picked.uri) return picked.uri;
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Suites: ['yaml', 'yml', 'json'] }, defaultUri: vscode.Uri.file(workspace) });
  return chosen?.[0];
}

async function checkDataQuality(ctx: CommandContext, uri?: vscode.Uri): Promise<void> {
  const workspace = await workspaceFolder();
  const data = await pickData(workspace, ctx.kernels, uri);
  if (!data) return;
  const suiteUri = await pickSuite(workspace);
  if (!suiteUri) return;
  let suite: unknown;
  try {
    suite = parseYaml(await readFile(suiteUri.fsPath, 'utf8'));
  } catch (error) {
    throw new Error(`${vscode.workspace.asRelativePath(suiteUri)} is not valid YAML: ${describeError(error)}`);
  }
  const client = await ctx.daemon.client();
  const result = await runJob(
    ctx,
    `Opsbook: checking ${data.label}`,
    'quality',
    (jobId) =>
      client.runQualityCheck({
        data: data.source,
        suite: suite as never,
        suite_dir: dirname(suiteUri.fsPath),
        ...(data.runId ? { run_id: data.runId } : {}),
        job_id: jobId,
      }),
    (jobId) => client.cancelQualityJob(jobId),
  );
  if (!result) return;
  const checkResult = result as CheckResult;
  ctx.panels.open({ kind: 'quality', title: `Check: ${data.label}`, output: { kind: 'check', result: checkResult } as QualityOutput });
}

async function profileData(ctx: CommandContext, uri?: vscode.Uri): Promise<void> {
  const workspace = await workspaceFolder();
  const data = await pickData(workspace, ctx.kernels, uri);
  if (!data) return;
  const client = await ctx.daemon.client();
  const profile = await runJob(
    ctx,
    `Opsbook: profiling ${data.label}`,
    'quality',
    (jobId) => client.profileData({ data: data.source, job_id: jobId }),
    (jobId) => client.cancelQualityJob(jobId),
  );
  if (!profile) return;
  ctx.panels.open({ kind: 'quality', title: `Profile: ${data.label}`, output: { kind: 'profile', profile } as QualityOutput });
}

/** A model reference from the command's target: a registry version, an `.onnx` file, or a pick. */
async function pickModel(ctx: CommandContext, target: vscode.Uri | ModelVersionItem | undefined, purpose: string): Promise<string | undefined> {
  if (target instanceof vscode.Uri) return target.fsPath;
  if (target && 'version' in target) return `${target.version.name}:${target.version.version}`;
  const { models } = await (await ctx.daemon.client()).listModels();
  type Choice = vscode.QuickPickItem & { reference?: string };
  const choices: Choice[] = models.map((model) => ({
    label: model.name,
    description: `v${model.latest_version}${Object.keys(model.aliases).length ? ' · ' + Object.keys(model.aliases).map((a) => '@' + a).join(' ') : ''}`,
    reference: model.name,
  }));
  choices.push({ label: '$(folder-opened) Browse for an .onnx file…' });
  const picked = await vscode.window.showQuickPick(choices, { title: `Opsbook: model to ${purpose}`, placeHolder: 'A registered model (its latest version) or an ONNX file' });
  if (!picked) return undefined;
  if (picked.reference) return picked.reference;
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] } });
  return chosen?.[0]?.fsPath;
}

async function explainModel(ctx: CommandContext, target?: vscode.Uri | ModelVersionItem): Promise<void> {
  const workspace = await workspaceFolder();
  const model = await pickModel(ctx, target, 'explain');
  if (!model) return;
  const data = await pickData(workspace, ctx.kernels);
  if (!data) return;
  const method = await vscode.window.showQuickPick(
    [
      { label: 'auto', description: 'exact TreeSHAP for tree ensembles, KernelSHAP otherwise' },
      { label: 'tree', description: 'exact TreeSHAP' },
      { label: 'kernel', description: 'KernelSHAP (any model)' },
      { label: 'lime', description: 'LIME' },
    ],
    { title: 'Opsbook: explanation method' },
  );
  if (!method) return;
  const client = await ctx.daemon.client();
  const explanation = await runJob(
    ctx,
    `Opsbook: explaining ${model}`,
    'explain',
    (jobId) =>
      client.explainModel({
        model,
        data: data.source,
        ...(method.label === 'auto' ? {} : { method: method.label as 'tree' | 'kernel' | 'lime' }),
        job_id: jobId,
      }),
    (jobId) => client.cancelExplainJob(jobId),
  );
  if (!explanation) return;
  ctx.panels.open({ kind: 'explanation', title: `Explain: ${model}`, explanation: explanation as Explanation });
}

/** The name a model reference is served under by default: the registry name or the file's stem. */
export function defaultServedName(model: string): string {
  const stem = model.split(/[\\/]/).pop()!.replace(/\.onnx$/i, '').replace(/[:@].*$/, '');
  const cleaned = stem.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned.slice(0, 128) || 'model';
}

async function serveModel(ctx: CommandContext, target?: vscode.Uri | ModelVersionItem): Promise<void> {
  const model = await pickModel(ctx, target, 'serve');
  if (!model) return;
  const name = await vscode.window.showInputBox({
    title: 'Opsbook: endpoint name',
    prompt: `The name ${model} is served under (/v2/models/NAME)`,
    value: defaultServedName(model),
    validateInput: (value) => (isServedName(model, value) ? undefined : 'Letters, digits, ".", "_" and "-", starting with a letter or digit; at most 128.'),
  });
  if (!name) return;
  const device = vscode.workspace.getConfiguration('opsbook').get<'auto' | 'cpu' | 'cuda'>('serve.device') ?? 'auto';
  const client = await ctx.daemon.client();
  const endpoint = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Opsbook: serving ${model} as ${name} (${device})` },
    () => client.startEndpoint({ name, device, models: [{ model, name }] }),
  );
  ctx.refresh();
  ctx.panels.open({ kind: 'endpoints', name: endpoint.name });
  void vscode.window.showInformationMessage(`Opsbook: ${endpoint.name} is ${endpoint.status}${endpoint.url ? ` at ${endpoint.url}` : ''}.`);
}

async function stopEndpoint(ctx: CommandContext, item?: EndpointItem): Promise<void> {
  let name = item?.endpoint.name;
  if (!name) {
    const running = ctx.endpoints.current.filter(isRunning);
    if (running.length === 0) {
      void vscode.window.showInformationMessage('Opsbook: no endpoint is running.');
      return;
    }
    const picked = await vscode.window.showQuickPick(
      running.map((endpoint) => ({ label: endpoint.name, description: endpoint.url ?? endpoint.status })),
      { title: 'Opsbook: stop which endpoint?' },
    );
    name = picked?.label;
  }
  if (!name) return;
  const client = await ctx.daemon.client();
  await client.stopEndpoint(name);
  ctx.refresh();
}

async function openQualityResult(ctx: CommandContext, runId: string, suite: string): Promise<void> {
  const blob = await (await ctx.daemon.client()).artifactContent(runId, `quality/${suite}.json`);
  const result = JSON.parse(await blob.text()) as CheckResult;
  ctx.panels.open({ kind: 'quality', title: `Check: ${suite}`, output: { kind: 'check', result } as QualityOutput });
}
