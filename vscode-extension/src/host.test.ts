/// <reference types="jest" />
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpsbookClient } from '@opsbook/core/client';
import type { WebviewView } from '@opsbook/schema';
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import type { ApiAnswer, NotebookKernels, WebviewPanels, WorkspaceDaemon } from './services';
import { EndpointsStatus } from './statusBar';
import { DeploymentsTree } from './trees/deployments';
import { EndpointsTree } from './trees/endpoints';
import { QualityTree } from './trees/quality';
import { ExperimentItem, RunItem, RunsTree } from './trees/runs';
import { extensionContext, hostStub, LogOutputChannel, resetHostStub, stub, TreeView, Uri } from './testing/vscode';
import { OpsbookDaemon } from './workspaceDaemon';

/** The extension folder of this checkout: the daemon is started from its staged core or the repo's build. */
const EXTENSION = join(__dirname, '..');
const RUN = {};

/** A workspace daemon that counts the clients asked of it (each tree read asks for one). */
class CountingDaemon implements WorkspaceDaemon {
  clients = 0;
  constructor(private readonly inner: OpsbookDaemon) {}
  readonly onEvent = (...args: Parameters<WorkspaceDaemon['onEvent']>): vscode.Disposable => this.inner.onEvent(...args);
  readonly onConnected = (...args: Parameters<WorkspaceDaemon['onConnected']>): vscode.Disposable => this.inner.onConnected(...args);
  client(): Promise<OpsbookClient> {
    this.clients++;
    return this.inner.client();
  }
  request(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
    return this.inner.request(method, path, body);
  }
  dispose(): void {}
}

/** Waits until `check` holds (the daemon and its event stream answer in their own time). */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let workspace: string;
let runtime: string;
let savedRuntime: string | undefined;
let daemon: OpsbookDaemon;
let client: OpsbookClient;
const log = new LogOutputChannel('Opsbook');

beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'opsbook-host-'));
  runtime = mkdtempSync(join(tmpdir(), 'opsbook-host-runtime-'));
  savedRuntime = process.env.JUPYTER_RUNTIME_DIR;
  // The daemon announces itself in this runtime folder; the one this test starts inherits it.
  process.env.JUPYTER_RUNTIME_DIR = runtime;
});

afterAll(() => {
  daemon?.dispose();
  for (const name of readdirSync(runtime)) {
    try {
      const { pid } = JSON.parse(readFileSync(join(runtime, name), 'utf8')) as { pid?: number };
      if (pid) process.kill(pid, 'SIGTERM');
    } catch {
      // not a discovery file, or that daemon already stopped
    }
  }
  if (savedRuntime === undefined) delete process.env.JUPYTER_RUNTIME_DIR;
  else process.env.JUPYTER_RUNTIME_DIR = savedRuntime;
  rmSync(workspace, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
});

beforeEach(() => {
  resetHostStub();
  stub.settings = {};
  stub.workspaceFolders = [{ uri: Uri.file(workspace), name: 'ws', index: 0 }];
});

describe('OpsbookDaemon', () => {
  it('answers status 0 with an unavailable error, saying what to do, when no folder is open', async () => {
    stub.workspaceFolders = [];
    const none = new OpsbookDaemon(extensionContext(EXTENSION) as unknown as vscode.ExtensionContext, log as unknown as vscode.LogOutputChannel);
    const answer = await none.request('GET', '/runs');
    expect(answer.status).toBe(0);
    expect(answer.body).toEqual({ error: { code: 'unavailable', message: expect.stringContaining('Open a folder') } });
    await expect(none.client()).rejects.toThrow(/Open a folder/);
    none.dispose();
  });

  it('starts a daemon for the folder with progress, then a second window attaches to it', async () => {
    daemon = new OpsbookDaemon(extensionContext(EXTENSION) as unknown as vscode.ExtensionContext, log as unknown as vscode.LogOutputChannel);
    client = await daemon.client();
    expect(hostStub.progress.map((call) => call.options.title)).toEqual(['Opsbook: starting the workspace daemon']);
    expect(log.lines.some((line) => line.message.startsWith('starting the daemon:') && line.message.includes('--workspace'))).toBe(true);
    const answer = await daemon.request('GET', '/runs');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ runs: [] });

    const second = new OpsbookDaemon(extensionContext(EXTENSION) as unknown as vscode.ExtensionContext, log as unknown as vscode.LogOutputChannel);
    hostStub.progress.length = 0;
    expect((await second.request('GET', '/runs')).status).toBe(200);
    expect(hostStub.progress).toEqual([]);
    second.dispose();
  });
});

describe('trees on the real daemon', () => {
  it('groups runs by experiment, newest first, and adds a run from its event without reading the list', async () => {
    await client.createRun({ ...RUN, id: '00000000-0000-4000-8000-000000000001', experiment: 'baseline', name: 'first', start_time: '2026-11-23T10:00:00Z' } as never);
    await client.createRun({ ...RUN, id: '00000000-0000-4000-8000-000000000002', experiment: 'baseline', name: 'second', start_time: '2026-11-23T11:00:00Z' } as never);
    await client.createRun({ ...RUN, id: '00000000-0000-4000-8000-000000000003', experiment: 'tuning', name: 'lr-sweep', start_time: '2026-11-23T12:00:00Z' } as never);
    const counting = new CountingDaemon(daemon);
    const tree = new RunsTree(counting);
    let changes = 0;
    tree.onDidChangeTreeData(() => changes++);
    const roots = (await tree.getChildren()) as ExperimentItem[];
    expect(roots.map((item) => [item.label, item.description])).toEqual([
      ['tuning', '1 run'],
      ['baseline', '2 runs'],
    ]);
    const baseline = (await tree.getChildren(roots[1])) as RunItem[];
    expect(baseline.map((item) => item.label)).toEqual(['second', 'first']);
    expect(baseline[0].contextValue).toBe('opsbook.run');
    expect(baseline[0].command).toEqual({ command: 'opsbook.openRun', title: 'Open Run', arguments: ['00000000-0000-4000-8000-000000000002'] });
    expect(counting.clients).toBe(1);

    // The tree's event subscription opened the stream: wait until it is connected, then log a run.
    await until(async () => {
      const before = changes;
      await client.createRun({ ...RUN, experiment: 'probe', name: `probe-${before}` } as never);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return changes > before;
    }, 'the event stream');
    const clientsBefore = counting.clients;
    changes = 0;
    await client.createRun({ ...RUN, id: '00000000-0000-4000-8000-000000000004', experiment: 'tuning', name: 'live', start_time: '2026-11-23T13:00:00Z' } as never);
    await until(() => changes > 0, 'the run event');
    const tuning = (await tree.getChildren()).find((item) => item.label === 'tuning') as ExperimentItem;
    expect(tuning.runs.map((item) => item.label)).toEqual(['live', 'lr-sweep']);
    expect(counting.clients).toBe(clientsBefore);
    tree.dispose();
  });

  it('shows the Endpoints tree empty and the Data Quality tree with the workspace suite files', async () => {
    const suite = join(workspace, 'orders.yaml');
    writeFileSync(suite, 'suite: orders\nchecks:\n  - check: row_count\n    min: 1\n');
    writeFileSync(join(workspace, 'other.yaml'), 'name: not a suite\n');
    hostStub.files.push(Uri.file(suite), Uri.file(join(workspace, 'other.yaml')));
    const endpoints = new EndpointsTree(daemon);
    expect(await endpoints.getChildren()).toEqual([]);
    const quality = new QualityTree(daemon);
    const items = await quality.getChildren();
    expect(items.map((item) => item.resourceUri?.fsPath ?? item.label)).toEqual([suite]);
    endpoints.dispose();
    quality.dispose();
  });

  it('says why in the tree when the daemon cannot be reached', async () => {
    stub.workspaceFolders = [];
    const unreachable = new OpsbookDaemon(extensionContext(EXTENSION) as unknown as vscode.ExtensionContext, log as unknown as vscode.LogOutputChannel);
    const tree = new EndpointsTree(unreachable);
    const [item] = await tree.getChildren();
    expect(item.label).toMatch(/Open a folder first/);
    tree.dispose();
    unreachable.dispose();
  });
});

describe('commands', () => {
  const opened: WebviewView[] = [];
  const panels: WebviewPanels = { open: (view) => opened.push(view), dispose: () => undefined };
  const kernels: NotebookKernels = { bridgeFor: () => Promise.resolve(null), dispose: () => undefined };
  let disposables: vscode.Disposable[] = [];
  let runsView: TreeView<vscode.TreeItem>;

  beforeEach(() => {
    opened.length = 0;
    runsView = new TreeView<vscode.TreeItem>('opsbook.runs', { treeDataProvider: undefined, canSelectMany: true });
    disposables = registerCommands({
      daemon,
      panels,
      kernels,
      log: log as unknown as vscode.LogOutputChannel,
      runsView: runsView as unknown as vscode.TreeView<vscode.TreeItem>,
      endpoints: new EndpointsTree(daemon),
      deployments: new DeploymentsTree(daemon),
      refresh: () => undefined,
    });
  });
  afterEach(() => disposables.forEach((disposable) => disposable.dispose()));

  it('Compare Selected Runs needs two runs, then opens the compare view', async () => {
    const run = (id: string): RunItem => new RunItem({ status: 'running', params: {}, id, experiment: 'e', name: id, start_time: '2026-11-23T10:00:00Z' } as never);
    runsView.select([run('a')]);
    await vscode.commands.executeCommand('opsbook.compareRuns');
    expect(hostStub.messages).toEqual([{ level: 'info', message: expect.stringContaining('select two or more runs'), items: [] }]);
    expect(opened).toEqual([]);
    runsView.select([run('a'), run('b')]);
    await vscode.commands.executeCommand('opsbook.compareRuns');
    expect(opened).toEqual([{ kind: 'compare', run_ids: ['a', 'b'] }]);
  });

  it('Serve Model refuses a name the schema refuses, and starts nothing', async () => {
    hostStub.answers.push('bad name!');
    await vscode.commands.executeCommand('opsbook.serveModel', Uri.file(join(workspace, 'model.onnx')));
    expect(hostStub.inputBoxes).toHaveLength(1);
    expect(hostStub.inputBoxes[0].options.value).toBe('model');
    expect(hostStub.inputBoxes[0].validation).toMatch(/Letters, digits/);
    expect(hostStub.progress).toEqual([]);
    expect((await client.listEndpoints()).endpoints).toEqual([]);
  });

  it('Check Data Quality on a CSV runs the picked suite as a job under progress and shows the result', async () => {
    const data = join(workspace, 'orders.csv');
    writeFileSync(data, 'id,country\n1,DE\n2,FR\n3,\n');
    const suite = join(workspace, 'orders.yaml');
    writeFileSync(suite, 'suite: orders\nchecks:\n  - check: row_count\n    min: 1\n  - check: not_null\n    column: country\n');
    hostStub.files.push(Uri.file(suite));
    hostStub.answers.push('orders');
    await vscode.commands.executeCommand('opsbook.checkDataQuality', Uri.file(data));
    expect(hostStub.messages).toEqual([]);
    expect(hostStub.progress).toHaveLength(1);
    expect(hostStub.progress[0].options).toMatchObject({ cancellable: true, title: 'Opsbook: checking orders.csv' });
    expect(opened).toHaveLength(1);
    const view = opened[0] as { kind: string; output: { kind: string; result: { checks: { check: string; status: string }[] } } };
    expect(view.kind).toBe('quality');
    expect(view.output.result.checks.map((check) => [check.check, check.status])).toEqual([
      ['row_count', 'pass'],
      ['not_null', 'fail'],
    ]);
  });

  it('Check Data Quality cancelled from its notification shows nothing', async () => {
    const data = join(workspace, 'big.csv');
    writeFileSync(data, 'id,country\n' + Array.from({ length: 200_000 }, (_, i) => `${i},DE`).join('\n') + '\n');
    const suite = join(workspace, 'orders.yaml');
    hostStub.files.push(Uri.file(suite));
    hostStub.answers.push('orders');
    hostStub.onProgress = (call) => setTimeout(() => call.cancellation.cancel(), 20);
    await vscode.commands.executeCommand('opsbook.checkDataQuality', Uri.file(data));
    expect(hostStub.progress).toHaveLength(1);
    expect(hostStub.progress[0].cancellation.token.isCancellationRequested).toBe(true);
    expect(opened).toEqual([]);
  });
});

describe('EndpointsStatus', () => {
  it('shows the running endpoints, sets the context key, and hides when none runs', async () => {
    const status = new EndpointsStatus();
    const [item] = hostStub.statusBarItems;
    status.update([
      { name: 'iris', status: 'ready', url: 'http://127.0.0.1:8100' },
      { name: 'churn', status: 'starting' },
      { name: 'old', status: 'stopped' },
    ] as never);
    await new Promise((resolve) => setImmediate(resolve));
    expect(item.visible).toBe(true);
    expect(item.text).toBe('$(radio-tower) 2 endpoints');
    expect(item.tooltip).toBe('iris: ready — http://127.0.0.1:8100\nchurn: starting');
    expect(item.command).toBe('opsbook.endpoints.focus');
    expect(hostStub.context['opsbook.endpointsRunning']).toBe(true);
    status.update([{ name: 'old', status: 'stopped' }] as never);
    await new Promise((resolve) => setImmediate(resolve));
    expect(item.visible).toBe(false);
    expect(hostStub.context['opsbook.endpointsRunning']).toBe(false);
    status.dispose();
  });
});
