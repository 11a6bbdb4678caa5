/// <reference types="jest" />
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type WebviewView } from '@opsbook/schema';
import * as vscode from 'vscode';
import { ColorThemeKind, EventEmitter, Uri, webviewStub, type WebviewPanel } from '../testing/vscode';
import type { ApiAnswer, DaemonEvent, WorkspaceDaemon } from '../services';
import { OpsbookPanels, panelTitle } from './panels';

const CLI = join(__dirname, '..', '..', '..', 'src', 'dist', 'cli', 'main.js');
const RUN_ID = '3f1c2b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69';
const validator = SchemaValidator.shared();

/** A daemon of the built CLI in a fresh workspace, reached over HTTP with its token as the extension does. */
class TestDaemon implements WorkspaceDaemon {
  readonly calls: string[] = [];
  readonly events = new EventEmitter<DaemonEvent>();
  readonly onEvent: vscode.Event<DaemonEvent>;
  readonly onConnected = new EventEmitter<void>().event;
  listeners = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {
    const subscribe = this.events.event;
    this.onEvent = (listener) => {
      this.listeners++;
      const subscription = subscribe(listener);
      return new vscode.Disposable(() => {
        this.listeners--;
        subscription.dispose();
      });
    };
  }

  client(): never {
    throw new Error('the panels reach the daemon through request()');
  }

  async request(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
    this.calls.push(`${method} ${path}`);
    const response = await fetch(this.url + path, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const mediaType = response.headers.get('content-type') ?? '';
    if (response.ok && !mediaType.startsWith('application/json')) {
      return { status: response.status, body: null, content: { media_type: mediaType, base64: Buffer.from(await response.arrayBuffer()).toString('base64') } };
    }
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  }

  get base(): string {
    return this.url;
  }

  get secret(): string {
    return this.token;
  }

  dispose(): void {
    this.events.dispose();
  }
}

/** The output channel, recording its lines. */
function recordingLog(): vscode.LogOutputChannel & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return { lines, info: record('info'), warn: record('warn'), error: record('error'), debug: record('debug'), trace: record('trace') } as unknown as vscode.LogOutputChannel & {
    lines: string[];
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

/** Waits until the panel got `count` responses (the daemon answers in its own time). */
async function answered(panel: WebviewPanel, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (panel.posted.filter((message) => (message as { type: string }).type === 'response').length < count) {
    if (Date.now() > deadline) throw new Error(`no ${count} responses: ${JSON.stringify(panel.posted).slice(0, 1000)}`);
    await settle();
  }
}

let workspace: string;
let child: ChildProcess;
let daemon: TestDaemon;
let log: ReturnType<typeof recordingLog>;
let panels: OpsbookPanels;
const context = { extensionUri: Uri.file('/ext/opsbook') } as unknown as vscode.ExtensionContext;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'opsbook-panels-'));
  const runtime = join(workspace, '.runtime');
  child = spawn(process.execPath, [CLI, 'daemon'], { cwd: workspace, env: { ...process.env, JUPYTER_RUNTIME_DIR: runtime }, stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const name = readdirSync(runtime).find((file) => /^opsbook-.*\.json$/.test(file));
      const info = name ? (JSON.parse(readFileSync(join(runtime, name), 'utf8')) as { url: string; token?: string }) : undefined;
      if (info?.token) {
        daemon = new TestDaemon(info.url, info.token);
        break;
      }
    } catch {
      // not announced yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the test daemon did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(workspace, { recursive: true, force: true });
});

beforeEach(() => {
  webviewStub.panels.length = 0;
  webviewStub.colorTheme.kind = ColorThemeKind.Dark;
  daemon.calls.length = 0;
  log = recordingLog();
  panels = new OpsbookPanels(context, daemon, log);
});

afterEach(() => panels.dispose());

function only(): WebviewPanel {
  expect(webviewStub.panels).toHaveLength(1);
  return webviewStub.panels[0];
}

describe('OpsbookPanels', () => {
  it('creates a panel with scripts, only the media folder as resource root, and a nonce-locked document', () => {
    panels.open({ kind: 'runs' });
    const panel = only();
    expect(panel.viewType).toBe('opsbook.runs');
    expect(panel.title).toBe('Opsbook: Experiments');
    expect(panel.options.enableScripts).toBe(true);
    expect(panel.options.retainContextWhenHidden).toBeFalsy();
    expect(panel.options.localResourceRoots?.map(String)).toEqual(['file:///ext/opsbook/media']);
    const html = panel.webview.html;
    const nonce = /script-src 'nonce-([^']+)'/.exec(html)?.[1];
    expect(nonce).toBeTruthy();
    expect(html).toContain(`<script nonce="${nonce}" src="https://file+.vscode-resource.vscode-cdn.net/ext/opsbook/media/webview.js"></script>`);
    expect(html).toContain(`default-src 'none'`);
    expect(html).not.toContain('unsafe-eval');
  });

  it('answers ready with init (view and theme), and drops a message outside the schema with a log line', async () => {
    panels.open({ kind: 'endpoints', name: 'iris' });
    const panel = only();
    panel.receive({ type: 'hello' });
    panel.receive({ type: 'request', id: 1, method: 'GET', path: 'runs' });
    await settle();
    expect(panel.posted).toEqual([]);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[0]).toMatch(/^warn: webview message dropped: /);
    panel.receive({ type: 'ready' });
    await settle();
    expect(panel.posted).toEqual([{ type: 'init', view: { kind: 'endpoints', name: 'iris' }, theme: 'dark' }]);
  });

  it('forwards API operations to the daemon and refuses the rest with 400, without calling the daemon', async () => {
    panels.open({ kind: 'runs' });
    const panel = only();
    panel.receive({ type: 'ready' });
    panel.receive({ type: 'request', id: 1, method: 'POST', path: '/runs', body: { experiment: 'panels', name: 'first' } });
    await answered(panel, 1);
    panel.receive({ type: 'request', id: 2, method: 'GET', path: '/runs?limit=50' });
    panel.receive({ type: 'request', id: 3, method: 'GET', path: '/events' });
    panel.receive({ type: 'request', id: 4, method: 'GET', path: '/runs/%2e%2e/health' });
    panel.receive({ type: 'request', id: 5, method: 'DELETE', path: '/runs' });
    await answered(panel, 5);
    expect(daemon.calls).toEqual(['POST /runs', 'GET /runs?limit=50']);
    const answers = new Map(panel.posted.filter((m) => (m as { type: string }).type === 'response').map((m) => [(m as { id: number }).id, m as { status: number; body: unknown }]));
    expect(answers.get(1)).toMatchObject({ status: 201, body: { name: 'first' } });
    expect(answers.get(2)?.status).toBe(200);
    expect(validator.check('run-list.schema.json', answers.get(2)?.body)).toBeNull();
    expect((answers.get(2)?.body as { runs: { name: string }[] }).runs.map((run) => run.name)).toContain('first');
    for (const id of [3, 4, 5]) {
      expect(answers.get(id)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
      expect(validator.check('error.schema.json', answers.get(id)?.body)).toBeNull();
    }
  });

  it("passes a non-JSON answer's content on to the webview", async () => {
    const run = (await daemon.request('POST', '/runs', { experiment: 'files' })).body as { id: string };
    const upload = await fetch(`${daemon.base}/runs/${run.id}/artifacts?name=parity.png&kind=figure`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${daemon.secret}`, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
    });
    expect(upload.ok).toBe(true);
    panels.open({ kind: 'run', run_id: run.id });
    const panel = only();
    panel.receive({ type: 'request', id: 7, method: 'GET', path: `/runs/${run.id}/artifacts/content?name=parity.png` });
    await answered(panel, 1);
    expect(panel.posted[0]).toEqual({ type: 'response', id: 7, status: 200, body: null, content: { media_type: expect.stringMatching(/^image\/png/), base64: 'iVBORw==' } });
  });

  it('posts nothing to a panel closed while its request was on its way', async () => {
    panels.open({ kind: 'runs' });
    const panel = only();
    panel.receive({ type: 'request', id: 1, method: 'GET', path: '/runs?limit=1' });
    panel.dispose();
    const deadline = Date.now() + 5_000;
    while (daemon.calls.length === 0 && Date.now() < deadline) await settle();
    await settle();
    expect(daemon.calls).toEqual(['GET /runs?limit=1']);
    expect(panel.posted).toEqual([]);
  });

  it('reuses the panel of a kind: retitles it, shows the new view in it and reveals it', async () => {
    panels.open({ kind: 'run', run_id: RUN_ID });
    const panel = only();
    panel.receive({ type: 'ready' });
    await settle();
    const other = '4f1c2b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69';
    panels.open({ kind: 'run', run_id: other });
    expect(only()).toBe(panel);
    expect(panel.title).toBe(panelTitle({ kind: 'run', run_id: other }));
    expect(panel.revealed).toBe(1);
    expect(panel.posted.at(-1)).toEqual({ type: 'show', view: { kind: 'run', run_id: other } });
    panels.open({ kind: 'model', name: 'iris' });
    expect(webviewStub.panels.map((p) => p.viewType)).toEqual(['opsbook.run', 'opsbook.model']);
    expect(webviewStub.panels[1].title).toBe('Opsbook: Model iris');
  });

  it('opens the view a webview asks for, and writes its log lines to the output channel', async () => {
    panels.open({ kind: 'runs' });
    const panel = only();
    panel.receive({ type: 'open', view: { kind: 'compare', run_ids: [RUN_ID, '4f1c2b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69'] } });
    panel.receive({ type: 'log', level: 'error', message: 'chart failed' });
    await settle();
    expect(webviewStub.panels.map((p) => [p.viewType, p.title])).toEqual([
      ['opsbook.runs', 'Opsbook: Experiments'],
      ['opsbook.compare', 'Opsbook: Compare 2 runs'],
    ]);
    expect(log.lines).toEqual(['error: webview: chart failed']);
  });

  it('sends theme changes to ready panels', async () => {
    panels.open({ kind: 'runs' });
    panels.open({ kind: 'endpoints' });
    const [ready, loading] = webviewStub.panels;
    ready.receive({ type: 'ready' });
    await settle();
    webviewStub.colorThemeChanged.fire({ kind: ColorThemeKind.HighContrastLight });
    expect(ready.posted.at(-1)).toEqual({ type: 'theme', theme: 'high-contrast-light' });
    expect(loading.posted).toEqual([]);
  });

  it('forwards live events only while a panel is visible, and holds the stream only then', async () => {
    panels.open({ kind: 'runs' });
    const panel = only();
    panel.receive({ type: 'ready' });
    await settle();
    expect(daemon.listeners).toBe(1);
    const run = (await daemon.request('POST', '/runs', { experiment: 'events' })).body as { id: string };
    const listed = (await daemon.request('GET', '/runs?limit=1')).body as { runs: DaemonEvent['data'][] };
    daemon.events.fire({ name: 'run', data: listed.runs[0] });
    expect(panel.posted.at(-1)).toEqual({ type: 'event', name: 'run', data: listed.runs[0] });
    expect((listed.runs[0] as { id: string }).id).toBe(run.id);
    panel.setVisible(false);
    expect(daemon.listeners).toBe(0);
    const count = panel.posted.length;
    daemon.events.fire({ name: 'run', data: listed.runs[0] });
    expect(panel.posted).toHaveLength(count);
    panel.setVisible(true);
    expect(daemon.listeners).toBe(1);
    panel.dispose();
    expect(daemon.listeners).toBe(0);
    panels.open({ kind: 'runs' });
    expect(webviewStub.panels).toHaveLength(2);
  });

  it('uses a script policy with eval only for the explanation panel (plotly WebGL)', () => {
    const explanation = { kind: 'explanation', title: 'Why', explanation: {} } as unknown as WebviewView;
    panels.open(explanation);
    expect(only().webview.html).toMatch(/script-src 'nonce-[^']+' 'unsafe-eval';/);
  });
});
