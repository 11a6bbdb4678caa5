import type { HostToWebview, ThemeKind, WebviewToHost, WebviewView } from '@opsbook/schema';
import { SchemaValidator } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { ApiAnswer, WebviewPanels, WorkspaceDaemon } from '../services';
import { refuseApiCall } from './apiRoutes';
import { makeNonce, webviewHtml } from './html';

/** The theme kind of VS Code's colour theme, in the protocol's words. */
export function themeKind(kind: vscode.ColorThemeKind): ThemeKind {
  switch (kind) {
    case vscode.ColorThemeKind.Dark:
      return 'dark';
    case vscode.ColorThemeKind.HighContrast:
      return 'high-contrast';
    case vscode.ColorThemeKind.HighContrastLight:
      return 'high-contrast-light';
    default:
      return 'light';
  }
}

/** The title of the panel showing a view. */
export function panelTitle(view: WebviewView): string {
  switch (view.kind) {
    case 'runs':
      return view.experiment ? `Opsbook: ${view.experiment}` : 'Opsbook: Experiments';
    case 'run':
      return `Opsbook: Run ${view.run_id.slice(0, 8)}`;
    case 'compare':
      return `Opsbook: Compare ${view.run_ids.length} runs`;
    case 'quality':
    case 'explanation':
      return `Opsbook: ${view.title}`;
    case 'endpoints':
      return 'Opsbook: Endpoints';
    case 'model':
      return `Opsbook: Model ${view.name}`;
    case 'deploy':
      return view.name ? `Opsbook: Deployment ${view.name}` : 'Opsbook: Deploy';
  }
}

/**
 * Forwards one `request` of a webview or the renderer to the daemon when it is an operation of the
 * API; answers 400 (in the API's error shape) otherwise.
 */
export async function forwardRequest(daemon: WorkspaceDaemon, request: Extract<WebviewToHost, { type: 'request' }>): Promise<ApiAnswer> {
  const refused = refuseApiCall(request.method, request.path);
  if (refused) return { status: 400, body: { error: { code: 'bad_request', message: refused, field: 'path', value: request.path } } };
  return daemon.request(request.method, request.path, request.body);
}

/** The kinds whose shared views draw plotly WebGL traces (ExplanationView's scattergl for many points). */
const WEBGL_KINDS: ReadonlySet<WebviewView['kind']> = new Set(['explanation']);

/** One panel: the view it shows, and whether its script said `ready` yet. */
interface Panel {
  panel: vscode.WebviewPanel;
  view: WebviewView;
  ready: boolean;
  disposables: vscode.Disposable[];
  /** Closed by the user: answers still on their way are not posted (a disposed webview throws). */
  closed: boolean;
}

/**
 * The webview panels: one per view kind (a run opened while another run's panel is open reuses it),
 * each a document with a strict content security policy running `media/webview.js`, which mounts the
 * shared React views. Every message from a webview is validated against schema/webview.schema.json
 * before it is acted on; API calls are forwarded only when they are operations of openapi.json; live
 * events are forwarded to visible panels.
 */
export class OpsbookPanels implements WebviewPanels {
  private readonly panels = new Map<WebviewView['kind'], Panel>();
  private readonly validator = SchemaValidator.shared();
  private readonly subscriptions: vscode.Disposable[] = [];
  private events: vscode.Disposable | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly daemon: WorkspaceDaemon,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(
      vscode.window.onDidChangeActiveColorTheme((theme) => this.broadcast({ type: 'theme', theme: themeKind(theme.kind) })),
    );
  }

  open(view: WebviewView): void {
    const known = this.panels.get(view.kind);
    if (known) {
      known.view = view;
      known.panel.title = panelTitle(view);
      if (known.ready) this.post(known, { type: 'show', view });
      known.panel.reveal(undefined, false);
      return;
    }
    const media = vscode.Uri.joinPath(this.context.extensionUri, 'media');
    const panel = vscode.window.createWebviewPanel(`opsbook.${view.kind}`, panelTitle(view), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media],
    });
    panel.iconPath = vscode.Uri.joinPath(media, 'opsbook.svg');
    const entry: Panel = { panel, view, ready: false, disposables: [], closed: false };
    panel.webview.html = webviewHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'webview.js')).toString(),
      nonce: makeNonce(),
      title: panelTitle(view),
      webgl: WEBGL_KINDS.has(view.kind),
    });
    entry.disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => void this.receive(entry, message)),
      panel.onDidChangeViewState(() => this.followEvents()),
      panel.onDidDispose(() => {
        entry.closed = true;
        this.panels.delete(view.kind);
        for (const disposable of entry.disposables) disposable.dispose();
        this.followEvents();
      }),
    );
    this.panels.set(view.kind, entry);
    this.followEvents();
  }

  dispose(): void {
    for (const { panel } of [...this.panels.values()]) panel.dispose();
    this.events?.dispose();
    for (const subscription of this.subscriptions) subscription.dispose();
  }

  private async receive(entry: Panel, message: unknown): Promise<void> {
    const issue = this.validator.check('webview.schema.json#/$defs/WebviewToHost', message);
    if (issue) {
      this.log.warn(`webview message dropped: ${issue.message}`);
      return;
    }
    const valid = message as WebviewToHost;
    switch (valid.type) {
      case 'ready':
        entry.ready = true;
        this.post(entry, { type: 'init', view: entry.view, theme: themeKind(vscode.window.activeColorTheme.kind) });
        return;
      case 'request': {
        const answer = await forwardRequest(this.daemon, valid);
        this.post(entry, { type: 'response', id: valid.id, status: answer.status, body: answer.body ?? null, ...(answer.content ? { content: answer.content } : {}) });
        return;
      }
      case 'open':
        this.open(valid.view);
        return;
      case 'log':
        this.log[valid.level === 'info' ? 'info' : valid.level === 'warn' ? 'warn' : 'error'](`webview: ${valid.message}`);
        return;
    }
  }

  /** Posts a message after checking it against the schema (a message that fails is a bug: logged, not sent). */
  private post(entry: Panel, message: HostToWebview): void {
    const issue = this.validator.check('webview.schema.json#/$defs/HostToWebview', message);
    if (issue) {
      this.log.error(`not sent to the webview: ${issue.message}`);
      return;
    }
    if (entry.closed) return;
    void entry.panel.webview.postMessage(message);
  }

  private broadcast(message: HostToWebview): void {
    for (const entry of this.panels.values()) if (entry.ready) this.post(entry, message);
  }

  /** Keeps the daemon's event stream subscribed while a panel is visible. */
  private followEvents(): void {
    const visible = [...this.panels.values()].some((entry) => entry.panel.visible);
    if (visible && !this.events) {
      this.events = this.daemon.onEvent(({ name, data }) => {
        for (const entry of this.panels.values()) {
          if (entry.ready && entry.panel.visible) this.post(entry, { type: 'event', name, data });
        }
      });
    } else if (!visible && this.events) {
      this.events.dispose();
      this.events = undefined;
    }
  }
}
