/**
 * The stub of the `vscode` module for the extension's unit tests (jest maps `vscode` here; the
 * end-to-end tests run the real API in code-server). Each helper appends the members its code uses,
 * behaving as the real API documents; `stub` holds what tests set up and read back.
 */

/** What tests arrange and inspect: settings, installed extensions, folders, created controllers. */
export const stub = {
  /** `workspace.getConfiguration(section).get(key)` reads `settings['section.key']`. */
  settings: {} as Record<string, unknown>,
  /** `extensions.getExtension(id)`. */
  extensions: {} as Record<string, unknown>,
  workspaceFolders: [] as WorkspaceFolder[],
  notebookDocuments: [] as unknown[],
  controllers: [] as NotebookController[],
  rendererMessagings: [] as RendererMessaging[],
};

export class Disposable {
  constructor(private readonly callOnDispose: () => unknown) {}
  static from(...disposables: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => disposables.forEach((disposable) => disposable.dispose()));
  }
  dispose(): void {
    this.callOnDispose();
  }
}

export type Event<T> = (listener: (event: T) => unknown) => Disposable;

export class EventEmitter<T> {
  private listeners = new Set<(event: T) => unknown>();
  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(event: T): void {
    for (const listener of [...this.listeners]) listener(event);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  static parse(value: string): Uri {
    const match = /^([a-z][a-z0-9+.-]*):(?:\/\/[^/]*)?(.*)$/i.exec(value);
    return match ? new Uri(match[1], match[2]) : new Uri('file', value);
  }
  get fsPath(): string {
    return this.path;
  }
  static joinPath(base: Uri, ...segments: string[]): Uri {
    return new Uri(base.scheme, [base.path.replace(/\/+$/, ''), ...segments].join('/'));
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

export interface WorkspaceFolder {
  uri: Uri;
  name: string;
  index: number;
}

export class CancellationTokenSource {
  private readonly cancelled = new EventEmitter<void>();
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: this.cancelled.event,
  };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.cancelled.fire();
  }
  dispose(): void {
    this.cancelled.dispose();
  }
}

export class NotebookCellOutputItem {
  constructor(
    readonly data: Uint8Array,
    readonly mime: string,
  ) {}
  static text(value: string, mime = 'text/plain'): NotebookCellOutputItem {
    return new NotebookCellOutputItem(new TextEncoder().encode(value), mime);
  }
  static json(value: unknown, mime = 'text/x-json'): NotebookCellOutputItem {
    return NotebookCellOutputItem.text(JSON.stringify(value, undefined, '\t'), mime);
  }
  static stdout(value: string): NotebookCellOutputItem {
    return NotebookCellOutputItem.text(value, 'application/vnd.code.notebook.stdout');
  }
  static stderr(value: string): NotebookCellOutputItem {
    return NotebookCellOutputItem.text(value, 'application/vnd.code.notebook.stderr');
  }
  static error(value: Error): NotebookCellOutputItem {
    return NotebookCellOutputItem.json({ name: value.name, message: value.message, stack: value.stack }, 'application/vnd.code.notebook.error');
  }
}

export class NotebookCellOutput {
  constructor(
    readonly items: NotebookCellOutputItem[],
    readonly metadata?: Record<string, unknown>,
  ) {}
}

export enum NotebookControllerAffinity {
  Default = 1,
  Preferred = 2,
}

/** A cell execution that records what the controller did, in order. */
export class NotebookCellExecution {
  executionOrder: number | undefined;
  /** The cell's outputs as they are now. */
  outputs: NotebookCellOutput[] = [];
  /** Each state of the outputs the controller set, in order. */
  readonly history: NotebookCellOutput[][] = [];
  started = false;
  success: boolean | undefined;
  ended = false;
  readonly token = new CancellationTokenSource().token;
  constructor(readonly cell: unknown) {}
  start(): void {
    this.started = true;
  }
  end(success: boolean | undefined): void {
    this.success = success;
    this.ended = true;
  }
  private set(outputs: NotebookCellOutput[]): Promise<void> {
    this.outputs = outputs;
    this.history.push(outputs);
    return Promise.resolve();
  }
  clearOutput(): Promise<void> {
    return this.set([]);
  }
  replaceOutput(out: NotebookCellOutput | NotebookCellOutput[]): Promise<void> {
    return this.set(Array.isArray(out) ? out : [out]);
  }
  appendOutput(out: NotebookCellOutput | NotebookCellOutput[]): Promise<void> {
    return this.set([...this.outputs, ...(Array.isArray(out) ? out : [out])]);
  }
}

export class NotebookController {
  supportedLanguages: string[] = [];
  supportsExecutionOrder = false;
  description: string | undefined;
  executeHandler: ((cells: unknown[], notebook: unknown, controller: NotebookController) => unknown) | undefined;
  interruptHandler: ((notebook: unknown) => unknown) | undefined;
  readonly executions: NotebookCellExecution[] = [];
  readonly affinities = new Map<unknown, NotebookControllerAffinity>();
  disposed = false;
  constructor(
    readonly id: string,
    readonly notebookType: string,
    readonly label: string,
  ) {}
  createNotebookCellExecution(cell: unknown): NotebookCellExecution {
    const execution = new NotebookCellExecution(cell);
    this.executions.push(execution);
    return execution;
  }
  updateNotebookAffinity(notebook: unknown, affinity: NotebookControllerAffinity): void {
    this.affinities.set(notebook, affinity);
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** `notebooks.createRendererMessaging`: tests fire `received` and read `posted`. */
export class RendererMessaging {
  readonly received = new EventEmitter<{ editor: unknown; message: unknown }>();
  readonly onDidReceiveMessage = this.received.event;
  readonly posted: { message: unknown; editor: unknown }[] = [];
  constructor(readonly rendererId: string) {}
  postMessage(message: unknown, editor?: unknown): Promise<boolean> {
    this.posted.push({ message, editor });
    return Promise.resolve(true);
  }
}

export const notebooks = {
  createNotebookController(id: string, notebookType: string, label: string): NotebookController {
    const controller = new NotebookController(id, notebookType, label);
    stub.controllers.push(controller);
    return controller;
  },
  createRendererMessaging(rendererId: string): RendererMessaging {
    const messaging = new RendererMessaging(rendererId);
    stub.rendererMessagings.push(messaging);
    return messaging;
  },
};

const notebookOpened = new EventEmitter<unknown>();
const notebookClosed = new EventEmitter<unknown>();
/** Fire these to open or close a notebook document in tests. */
export const notebookEvents = { opened: notebookOpened, closed: notebookClosed };

export const workspace = {
  getConfiguration(section?: string) {
    return {
      get<T>(key: string, defaultValue?: T): T | undefined {
        const value = stub.settings[section ? `${section}.${key}` : key];
        return (value === undefined ? defaultValue : value) as T | undefined;
      },
    };
  },
  get workspaceFolders(): WorkspaceFolder[] | undefined {
    return stub.workspaceFolders.length ? stub.workspaceFolders : undefined;
  },
  getWorkspaceFolder(uri: Uri): WorkspaceFolder | undefined {
    return stub.workspaceFolders.find((folder) => uri.path === folder.uri.path || uri.path.startsWith(`${folder.uri.path}/`));
  },
  asRelativePath(target: Uri | string): string {
    const path = typeof target === 'string' ? target : target.path;
    const folder = stub.workspaceFolders.find((candidate) => path.startsWith(`${candidate.uri.path}/`));
    return folder ? path.slice(folder.uri.path.length + 1) : path;
  },
  get notebookDocuments(): unknown[] {
    return stub.notebookDocuments;
  },
  onDidOpenNotebookDocument: notebookOpened.event,
  onDidCloseNotebookDocument: notebookClosed.event,
};

export const extensions = {
  getExtension(id: string): unknown {
    return stub.extensions[id];
  },
};

export enum ColorThemeKind {
  Light = 1,
  Dark = 2,
  HighContrast = 3,
  HighContrastLight = 4,
}

export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
  Two = 2,
}

/** A webview panel as `window.createWebviewPanel` makes it; tests read `posted` and call `receive`. */
export class WebviewPanel {
  readonly posted: unknown[] = [];
  title: string;
  iconPath: unknown;
  visible = true;
  active = true;
  revealed = 0;
  disposed = false;
  private readonly received = new EventEmitter<unknown>();
  private readonly viewState = new EventEmitter<{ webviewPanel: WebviewPanel }>();
  private readonly disposing = new EventEmitter<void>();
  readonly webview = {
    html: '',
    cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
    options: {} as { enableScripts?: boolean; localResourceRoots?: Uri[] },
    // The stub's Uri keeps no authority, which webview URIs have: a URI-like object with the full text.
    asWebviewUri: (uri: Uri): Uri => ({ scheme: 'https', path: uri.path, toString: () => `https://file+.vscode-resource.vscode-cdn.net${uri.path}` }) as unknown as Uri,
    postMessage: (message: unknown): Promise<boolean> => {
      this.posted.push(message);
      return Promise.resolve(!this.disposed);
    },
    onDidReceiveMessage: this.received.event,
  };
  readonly onDidChangeViewState = this.viewState.event;
  readonly onDidDispose = this.disposing.event;

  constructor(
    readonly viewType: string,
    title: string,
    readonly showOptions: unknown,
    readonly options: { enableScripts?: boolean; localResourceRoots?: Uri[]; retainContextWhenHidden?: boolean },
  ) {
    this.title = title;
    this.webview.options = options;
  }
  /** What the webview's script sends (`acquireVsCodeApi().postMessage`). */
  receive(message: unknown): void {
    this.received.fire(message);
  }
  /** The user hides or shows the panel's tab. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.viewState.fire({ webviewPanel: this });
  }
  reveal(): void {
    this.revealed++;
    this.setVisible(true);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposing.fire();
  }
}

/** Webview panels created, and the colour theme (fire `colorThemeChanged` to switch it). */
export const webviewStub = {
  panels: [] as WebviewPanel[],
  colorTheme: { kind: ColorThemeKind.Dark as ColorThemeKind },
  colorThemeChanged: new EventEmitter<{ kind: ColorThemeKind }>(),
};

export const window = {
  createWebviewPanel(
    viewType: string,
    title: string,
    showOptions: unknown,
    options: { enableScripts?: boolean; localResourceRoots?: Uri[]; retainContextWhenHidden?: boolean } = {},
  ): WebviewPanel {
    const panel = new WebviewPanel(viewType, title, showOptions, options);
    webviewStub.panels.push(panel);
    return panel;
  },
  get activeColorTheme(): { kind: ColorThemeKind } {
    return webviewStub.colorTheme;
  },
  onDidChangeActiveColorTheme: webviewStub.colorThemeChanged.event,
};
