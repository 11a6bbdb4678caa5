/// <reference types="jest" />
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { OpsbookClient } from '@opsbook/core/client';
import type { Deployment, DeploymentActionResult, WebviewView } from '@opsbook/schema';
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { ACTION_TIMEOUT_S, describeAction, deployView } from './commands/deploy';
import type { DaemonEvent, NotebookKernels, WebviewPanels } from './services';
import { DeploymentItem, DeploymentsTree } from './trees/deployments';
import { EndpointsTree } from './trees/endpoints';
import { ModelItem, ModelVersionItem } from './trees/models';
import { EventEmitter, extensionContext, hostStub, LogOutputChannel, resetHostStub, stub, TreeView, Uri } from './testing/vscode';
import { OpsbookDaemon } from './workspaceDaemon';

/**
 * The Deployments tree and the deploy commands on a real workspace daemon whose kubeconfig points at
 * the fake Kubernetes API of src/deploy/testing (no real API server can be installed on these
 * machines), run as its own process from the core's build (`npx tsc -b` first). Every test that
 * reaches it says so in its name.
 */
const EXTENSION = join(__dirname, '..');
const FAKE_API = join(EXTENSION, '..', 'src', 'dist', 'deploy', 'testing', 'fake-apiserver-main.js');
const IMAGE = 'registry.example/opsbook-runtime:1.0';
/** Pods of this image never start on the fake API: ErrImagePull with the kubelet's message. */
const BROKEN_IMAGE = 'registry.example/opsbook-runtime:broken';

/** Waits until `check` holds (the daemon, the fake cluster and the event stream answer in their own time). */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let root: string;
let fake: ChildProcess;
let daemon: OpsbookDaemon;
let client: OpsbookClient;
const saved: Record<string, string | undefined> = {};
const log = new LogOutputChannel('Opsbook');
const models: Record<string, string> = {};

/** Starts the fake API (kubeconfig written where the daemon will read it) and answers once it listens. */
async function startFakeApi(kubeconfig: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [FAKE_API, '--kubeconfig', kubeconfig, '--context', 'fake', '--tick-ms', '50', '--fail-image', ':broken$'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.includes('"ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the fake Kubernetes API exited (${code}): ${stderr}`)));
  });
  return child;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'opsbook-vscode-deploy-'));
  const workspace = join(root, 'ws');
  const runtime = join(root, 'runtime');
  for (const folder of [workspace, runtime]) mkdirSync(folder);
  const kubeconfig = join(root, 'kubeconfig');
  fake = await startFakeApi(kubeconfig);
  // A file path is a model too (its sha256 is checked by the pod's init container; no parity gate applies).
  for (const name of ['iris', 'iris-next']) {
    models[name] = join(workspace, `${name}.onnx`);
    writeFileSync(models[name], `not really ONNX: ${name}\n`);
  }
  for (const key of ['JUPYTER_RUNTIME_DIR', 'KUBECONFIG']) saved[key] = process.env[key];
  // The daemon the extension starts inherits these: its kubeconfig is the fake cluster's.
  process.env.JUPYTER_RUNTIME_DIR = runtime;
  process.env.KUBECONFIG = kubeconfig;
  resetHostStub();
  stub.workspaceFolders = [{ uri: Uri.file(workspace), name: 'ws', index: 0 }];
  // The core of this checkout's build, not a core staged into the extension by an earlier `make vsix`.
  stub.settings = { 'opsbook.daemon.command': [process.execPath, join(EXTENSION, '..', 'src', 'dist', 'cli', 'main.js')] };
  daemon = new OpsbookDaemon(extensionContext(EXTENSION) as unknown as vscode.ExtensionContext, log as unknown as vscode.LogOutputChannel);
  client = await daemon.client();
});

afterAll(async () => {
  daemon?.dispose();
  const runtime = process.env.JUPYTER_RUNTIME_DIR!;
  for (const name of readdirSync(runtime)) {
    try {
      const { pid } = JSON.parse(readFileSync(join(runtime, name), 'utf8')) as { pid?: number };
      if (pid) process.kill(pid, 'SIGTERM');
    } catch {
      // not a discovery file, or that daemon already stopped
    }
  }
  if (fake && fake.exitCode === null) {
    const exited = new Promise((resolve) => fake.once('exit', resolve));
    fake.kill('SIGTERM');
    await exited;
  }
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  rmSync(root, { recursive: true, force: true });
});

describe('Deploy Model… and Show Status', () => {
  it('open the deploy panel with the model the command was invoked on, or none from the palette', () => {
    const version = new ModelVersionItem({ name: 'iris', version: 3, flavor: 'sklearn', aliases: [], parity_max_abs_diff: 0, created_at: '2026-11-23T10:00:00Z', artifact: 'model.onnx' } as never);
    const model = new ModelItem({ name: 'churn', latest_version: 2, aliases: {}, versions: [], description: '' } as never);
    expect(deployView(version)).toEqual({ kind: 'deploy', model: 'iris:3' });
    expect(deployView(model)).toEqual({ kind: 'deploy', model: 'churn' });
    expect(deployView(Uri.file('/w/models/m.onnx') as unknown as vscode.Uri)).toEqual({ kind: 'deploy', model: '/w/models/m.onnx' });
    expect(deployView(undefined)).toEqual({ kind: 'deploy' });
  });
});

describe('describeAction', () => {
  const deployment = { name: 'iris' } as Deployment;
  it("uses the daemon's message, and names a failed rollout with its first pod event", () => {
    const ok: DeploymentActionResult = { action: 'promote', deployment, rollout: { state: 'available', seconds: 2, message: null, events: [] }, deleted: [], message: 'iris-next takes all traffic' };
    expect(describeAction('iris', ok)).toEqual({ ok: true, text: 'iris: iris-next takes all traffic' });
    const failed: DeploymentActionResult = {
      action: 'rollback',
      deployment,
      rollout: { state: 'failed', seconds: 3, message: 'pods are not starting', events: [{ object: 'Pod/iris-1', type: 'Warning', reason: 'ErrImagePull', message: 'not found' }] },
      deleted: [],
    };
    expect(describeAction('iris', failed)).toEqual({ ok: false, text: 'iris: rollbackd — rollout failed: pods are not starting — Pod/iris-1 ErrImagePull: not found' });
    expect(describeAction('iris', { action: 'delete', deployment, rollout: null, deleted: ['Deployment/iris', 'Service/iris'] }).text).toBe('iris: deleted 2 objects');
  });
});

describe('DeploymentsTree polling', () => {
  /** A daemon whose deployments list is given, counting the reads. */
  function listingDaemon(): { daemon: ConstructorParameters<typeof DeploymentsTree>[0]; reads: () => number; events: EventEmitter<DaemonEvent> } {
    let reads = 0;
    const events = new EventEmitter<DaemonEvent>();
    const connected = new EventEmitter<void>();
    const fakeClient = { listDeployments: () => (reads++, Promise.resolve({ deployments: [] })) };
    return {
      daemon: {
        client: () => Promise.resolve(fakeClient as unknown as OpsbookClient),
        request: () => Promise.reject(new Error('not used')),
        onEvent: events.event as unknown as vscode.Event<DaemonEvent>,
        onConnected: connected.event as unknown as vscode.Event<void>,
        dispose: () => undefined,
      },
      reads: () => reads,
      events,
    };
  }

  it('reads every poll interval while the view is visible, again on showing, and not while hidden', async () => {
    const { daemon: listing } = listingDaemon();
    const tree = new DeploymentsTree(listing, 40);
    let changes = 0;
    tree.onDidChangeTreeData(() => changes++);
    const view = new TreeView<vscode.TreeItem>('opsbook.deployments', { treeDataProvider: tree });
    view.visible = false;
    const following = tree.followVisibility(view as unknown as vscode.TreeView<vscode.TreeItem>);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(changes).toBe(0);
    view.setVisible(true);
    expect(changes).toBe(1);
    await until(() => changes >= 3, 'two polls');
    view.setVisible(false);
    const hiddenAt = changes;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(changes).toBe(hiddenAt);
    following.dispose();
    tree.dispose();
  });

  it('reads once when a deploy job ends, folding in the reads its earlier events asked for', async () => {
    const { daemon: listing, events } = listingDaemon();
    const tree = new DeploymentsTree(listing, 60_000);
    let changes = 0;
    tree.onDidChangeTreeData(() => changes++);
    const progress = (phase: string): DaemonEvent => ({ name: 'deploy', data: { job_id: 'j', name: 'iris', phase, done: 1, total: 4 } as never });
    events.fire(progress('rollout'));
    events.fire(progress('rollout'));
    events.fire({ name: 'run', data: {} as never });
    events.fire(progress('done'));
    expect(changes).toBe(1);
    tree.dispose();
  });
});

describe('the Deployments tree and its actions on a real daemon (fake Kubernetes API)', () => {
  const opened: WebviewView[] = [];
  const panels: WebviewPanels = { open: (view) => opened.push(view), dispose: () => undefined };
  const kernels: NotebookKernels = { bridgeFor: () => Promise.resolve(null), dispose: () => undefined };
  let disposables: vscode.Disposable[] = [];
  let tree: DeploymentsTree;
  /** Redraws the tree asked for since it was made (the first: its event stream opened). */
  let changes = 0;
  const endpoints: EndpointsTree[] = [];

  beforeEach(() => {
    resetHostStub();
    opened.length = 0;
    tree = new DeploymentsTree(daemon);
    changes = 0;
    tree.onDidChangeTreeData(() => changes++);
    endpoints.push(new EndpointsTree(daemon));
    disposables = registerCommands({
      daemon,
      panels,
      kernels,
      log: log as unknown as vscode.LogOutputChannel,
      runsView: new TreeView<vscode.TreeItem>('opsbook.runs', { treeDataProvider: undefined }) as unknown as vscode.TreeView<vscode.TreeItem>,
      endpoints: endpoints.at(-1)!,
      deployments: tree,
      refresh: () => tree.refresh(),
    });
  });
  afterEach(() => {
    disposables.forEach((disposable) => disposable.dispose());
    tree.dispose();
    endpoints.splice(0).forEach((endpoint) => endpoint.dispose());
  });

  const items = async (): Promise<DeploymentItem[]> => (await tree.getChildren()) as DeploymentItem[];
  const iconOf = (item: vscode.TreeItem): string => (item.iconPath as vscode.ThemeIcon).id;

  it('says so when nothing is deployed, then lists a deployment with its live state and pods (fake Kubernetes API)', async () => {
    expect(await items()).toEqual([]);
    // The tree follows `event: deploy`: a deploy made elsewhere (the CLI, a notebook) redraws it.
    await until(() => changes > 0, 'the event stream to open');
    changes = 0;
    const result = await client.applyDeployment({ model: models.iris, name: 'iris', image: IMAGE, replicas: 2, wait: true, timeout_s: 60, job_id: 'tree-apply' });
    expect(result.status).toBe('applied');
    await until(() => changes > 0, 'a deploy event to redraw the tree');
    const [item] = await items();
    expect(item.label).toBe('iris');
    expect(item.description).toBe(`available · 2/2 · ${models.iris}`);
    expect(iconOf(item)).toBe('pass-filled');
    expect(item.contextValue).toBe('opsbook.deployment');
    expect(item.tooltip).toContain(`image ${IMAGE}`);
    expect(item.tooltip).toContain('fake / default');
    expect(item.command).toEqual({ command: 'opsbook.showDeployment', title: 'Show Status', arguments: [item] });

    await vscode.commands.executeCommand('opsbook.showDeployment', item);
    expect(opened).toEqual([{ kind: 'deploy', name: 'iris' }]);
  });

  it('shows a canary with its split; Promote gives it all traffic under progress (fake Kubernetes API)', async () => {
    const canary = await client.applyDeployment({ model: models['iris-next'], name: 'iris', image: IMAGE, replicas: 2, canary: 50, wait: true, timeout_s: 60 });
    expect(canary.status).toBe('applied');
    const [item] = await items();
    expect(item.contextValue).toBe('opsbook.deployment.canary');
    expect(item.description).toBe(`available · 1/1 · canary 50% 1/1 · ${models.iris}`);
    expect(item.tooltip).toContain(`canary 50%: ${models['iris-next']}`);

    await vscode.commands.executeCommand('opsbook.promoteDeployment', item);
    expect(hostStub.progress.map((call) => call.options.title)).toEqual(['Opsbook: promoting iris']);
    // The job's phases reached the notification through `event: deploy`.
    expect(hostStub.progress[0].reports.length).toBeGreaterThan(0);
    expect(hostStub.messages).toEqual([{ level: 'info', message: expect.stringMatching(/^Opsbook: iris: /), items: [] }]);
    const [promoted] = await items();
    expect(promoted.contextValue).toBe('opsbook.deployment');
    expect(promoted.deployment.model_ref).toBe(models['iris-next']);
    expect(promoted.description).toBe(`available · 2/2 · ${models['iris-next']}`);
  });

  it('Promote from the palette offers only deployments with a canary (fake Kubernetes API)', async () => {
    await items();
    await vscode.commands.executeCommand('opsbook.promoteDeployment');
    expect(hostStub.quickPicks).toEqual([]);
    expect(hostStub.messages).toEqual([{ level: 'info', message: 'Opsbook: no deployment to promote (promote needs a canary).', items: [] }]);
  });

  it('Rollback returns to the previous revision (fake Kubernetes API)', async () => {
    const [item] = await items();
    await vscode.commands.executeCommand('opsbook.rollbackDeployment', item);
    expect(hostStub.messages).toHaveLength(1);
    expect(hostStub.messages[0]).toMatchObject({ level: 'info', message: expect.stringMatching(/^Opsbook: iris: returned to revision \d+/) });
    const [rolledBack] = await items();
    expect(rolledBack.deployment.model_ref).toBe(models.iris);
  });

  it('a deployment whose pods cannot pull their image shows failed, with the pod event in its tooltip (fake Kubernetes API)', async () => {
    // Watching the rollout until it fails takes seconds: longer than the 2 s a discovered daemon's health check gets.
    const started = Date.now();
    const result = await client.applyDeployment({ model: models.iris, name: 'iris-broken', image: BROKEN_IMAGE, replicas: 1, wait: true, timeout_s: 30 });
    expect([result.status, result.rollout?.state]).toEqual(['applied', 'failed']);
    log.info(`the failing rollout was answered after ${Date.now() - started} ms`);
    await until(async () => (await items()).find((item) => item.label === 'iris-broken')?.deployment.live?.state === 'failed', 'the failed rollout', 30_000);
    const broken = (await items()).find((item) => item.label === 'iris-broken')!;
    expect(iconOf(broken)).toBe('error');
    expect(broken.description).toMatch(/^failed · 0\/1 · /);
    // The pod's warning event, as the kubelet words it (reason Failed), says why.
    expect(broken.tooltip).toMatch(/\nFailed: Failed to pull image "registry.example\/opsbook-runtime:broken"/);
  });

  it('Delete asks in a modal first: Escape deletes nothing, Delete removes what Opsbook created (fake Kubernetes API)', async () => {
    const broken = (await items()).find((item) => item.label === 'iris-broken')!;
    hostStub.answers.push(undefined);
    await vscode.commands.executeCommand('opsbook.deleteDeployment', broken);
    expect(hostStub.messages).toEqual([
      { level: 'warning', message: 'Delete deployment iris-broken?', items: [{ modal: true, detail: expect.stringContaining('fake / default') }, 'Delete'] },
    ]);
    expect((await items()).map((item) => item.label).sort()).toEqual(['iris', 'iris-broken']);

    hostStub.messages.length = 0;
    hostStub.answers.push('Delete');
    await vscode.commands.executeCommand('opsbook.deleteDeployment', broken);
    expect(hostStub.messages.at(-1)).toEqual({ level: 'info', message: expect.stringMatching(/^Opsbook: iris-broken: /), items: [] });
    expect((await items()).map((item) => item.label)).toEqual(['iris']);
    const { deployments } = await client.listDeployments({ live: true });
    expect(deployments.map((d) => d.name)).toEqual(['iris']);
  });

  it('promote and rollback wait for the rollout less long than the host waits for an answer', () => {
    // Node's fetch gives up on an answer's headers after 300 s.
    expect(ACTION_TIMEOUT_S).toBeLessThan(300);
  });
});
