import { readFile as readFileFromDisk } from 'node:fs/promises';

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

// --- The extension host's members (trees, commands, status bar, output channel, progress). ---

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class ThemeIcon {
  static readonly File = new ThemeIcon('file');
  static readonly Folder = new ThemeIcon('folder');
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export class MarkdownString {
  constructor(public value = '') {}
  appendMarkdown(value: string): this {
    this.value += value;
    return this;
  }
  appendText(value: string): this {
    this.value += value;
    return this;
  }
}

export class TreeItem {
  id?: string;
  description?: string | boolean;
  tooltip?: string | MarkdownString;
  iconPath?: unknown;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  resourceUri?: Uri;
  label?: string;
  constructor(
    labelOrUri: string | Uri,
    public collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {
    if (typeof labelOrUri === 'string') this.label = labelOrUri;
    else this.resourceUri = labelOrUri;
  }
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

/** A status-bar item that records whether it is shown. */
export class StatusBarItem {
  text = '';
  tooltip: unknown;
  name: string | undefined;
  command: unknown;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string | undefined,
    readonly alignment: StatusBarAlignment,
    readonly priority: number | undefined,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
    this.visible = false;
  }
}

/** A tree view: tests call `select` as the user selects items. */
export class TreeView<T> {
  selection: T[] = [];
  visible = true;
  message: string | undefined;
  disposed = false;
  private readonly selectionChanged = new EventEmitter<{ selection: T[] }>();
  private readonly visibilityChanged = new EventEmitter<{ visible: boolean }>();
  readonly onDidChangeSelection = this.selectionChanged.event;
  readonly onDidChangeVisibility = this.visibilityChanged.event;
  constructor(
    readonly id: string,
    readonly options: { treeDataProvider: unknown; canSelectMany?: boolean; showCollapseAll?: boolean },
  ) {}
  select(items: T[]): void {
    this.selection = items;
    this.selectionChanged.fire({ selection: items });
  }
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.visibilityChanged.fire({ visible });
  }
  reveal(): Promise<void> {
    return Promise.resolve();
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** A log output channel recording each line with its level. */
export class LogOutputChannel {
  readonly lines: { level: string; message: string }[] = [];
  shown = 0;
  disposed = false;
  readonly logLevel = 2;
  private readonly levelChanged = new EventEmitter<number>();
  readonly onDidChangeLogLevel = this.levelChanged.event;
  constructor(readonly name: string) {}
  private record(level: string, message: string, ...args: unknown[]): void {
    this.lines.push({ level, message: [message, ...args.map(String)].join(' ') });
  }
  trace(message: string, ...args: unknown[]): void {
    this.record('trace', message, ...args);
  }
  debug(message: string, ...args: unknown[]): void {
    this.record('debug', message, ...args);
  }
  info(message: string, ...args: unknown[]): void {
    this.record('info', message, ...args);
  }
  warn(message: string, ...args: unknown[]): void {
    this.record('warn', message, ...args);
  }
  error(message: string | Error, ...args: unknown[]): void {
    this.record('error', message instanceof Error ? message.message : message, ...args);
  }
  append(value: string): void {
    this.record('append', value);
  }
  appendLine(value: string): void {
    this.record('append', value);
  }
  replace(value: string): void {
    this.record('replace', value);
  }
  clear(): void {
    this.lines.length = 0;
  }
  show(): void {
    this.shown++;
  }
  hide(): void {}
  dispose(): void {
    this.disposed = true;
  }
}

/** A `withProgress` call: what the task reported, and its token source (tests call `cancel()`). */
export interface ProgressCall {
  options: { location: ProgressLocation; title?: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  cancellation: CancellationTokenSource;
  done: boolean;
}

/**
 * What the host code asked of the user, and the answers it gets: push answers onto `answers` (one per
 * quick pick / input box / open dialog / message with items, in order; `undefined` is Escape).
 * `showInputBox` runs `validateInput` on the answer and records its verdict.
 */
export const hostStub = {
  answers: [] as unknown[],
  messages: [] as { level: 'info' | 'warning' | 'error'; message: string; items: unknown[] }[],
  quickPicks: [] as { items: unknown[]; options: unknown }[],
  inputBoxes: [] as { options: { validateInput?: (value: string) => unknown } & Record<string, unknown>; validation: unknown }[],
  openDialogs: [] as unknown[],
  progress: [] as ProgressCall[],
  /** Called when a `withProgress` task starts (e.g. to cancel it from the test). */
  onProgress: undefined as ((call: ProgressCall) => void) | undefined,
  treeViews: [] as TreeView<unknown>[],
  statusBarItems: [] as StatusBarItem[],
  outputChannels: [] as LogOutputChannel[],
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  /** Each `executeCommand` call, in order (registered or built-in). */
  executed: [] as { command: string; args: unknown[] }[],
  /** Context keys set with `setContext`. */
  context: {} as Record<string, unknown>,
  activeNotebookEditor: undefined as unknown,
  configurationChanged: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  /** Files `workspace.findFiles` answers (filtered by the include glob's extensions). */
  files: [] as Uri[],
};

function nextAnswer(): unknown {
  return hostStub.answers.shift();
}

async function runInputBox(options: { validateInput?: (value: string) => unknown } & Record<string, unknown> = {}): Promise<string | undefined> {
  const answer = nextAnswer() as string | undefined;
  const validation = answer !== undefined && options.validateInput ? await options.validateInput(answer) : undefined;
  hostStub.inputBoxes.push({ options, validation });
  // VS Code keeps the box open while the input is invalid: the user can only press Escape.
  return validation ? undefined : answer;
}

Object.assign(window, {
  createOutputChannel(name: string): LogOutputChannel {
    const channel = new LogOutputChannel(name);
    hostStub.outputChannels.push(channel);
    return channel;
  },
  showInformationMessage(message: string, ...items: unknown[]): Promise<unknown> {
    hostStub.messages.push({ level: 'info', message, items });
    return Promise.resolve(items.length ? nextAnswer() : undefined);
  },
  showWarningMessage(message: string, ...items: unknown[]): Promise<unknown> {
    hostStub.messages.push({ level: 'warning', message, items });
    return Promise.resolve(items.length ? nextAnswer() : undefined);
  },
  showErrorMessage(message: string, ...items: unknown[]): Promise<unknown> {
    hostStub.messages.push({ level: 'error', message, items });
    return Promise.resolve(items.length ? nextAnswer() : undefined);
  },
  async showQuickPick(items: unknown[] | Promise<unknown[]>, options?: unknown): Promise<unknown> {
    const resolved = await items;
    hostStub.quickPicks.push({ items: resolved, options });
    const answer = nextAnswer();
    // A test answers with the item itself, or with its label.
    if (typeof answer === 'string') return resolved.find((item) => (typeof item === 'string' ? item : (item as { label: string }).label) === answer);
    return answer;
  },
  showInputBox: runInputBox,
  showOpenDialog(options?: unknown): Promise<Uri[] | undefined> {
    hostStub.openDialogs.push(options);
    return Promise.resolve(nextAnswer() as Uri[] | undefined);
  },
  async withProgress<R>(
    options: ProgressCall['options'],
    task: (progress: { report(value: { message?: string; increment?: number }): void }, token: CancellationTokenSource['token']) => Promise<R>,
  ): Promise<R> {
    const call: ProgressCall = { options, reports: [], cancellation: new CancellationTokenSource(), done: false };
    hostStub.progress.push(call);
    hostStub.onProgress?.(call);
    try {
      return await task({ report: (value) => call.reports.push(value) }, call.cancellation.token);
    } finally {
      call.done = true;
    }
  },
  createTreeView<T>(id: string, options: { treeDataProvider: unknown; canSelectMany?: boolean }): TreeView<T> {
    const view = new TreeView<T>(id, options);
    hostStub.treeViews.push(view as TreeView<unknown>);
    return view;
  },
  createStatusBarItem(id: string | StatusBarAlignment, alignment?: StatusBarAlignment, priority?: number): StatusBarItem {
    const item = typeof id === 'string' ? new StatusBarItem(id, alignment ?? StatusBarAlignment.Left, priority) : new StatusBarItem(undefined, id, alignment);
    hostStub.statusBarItems.push(item);
    return item;
  },
});
Object.defineProperty(window, 'activeNotebookEditor', { get: () => hostStub.activeNotebookEditor, enumerable: true });

export const commands = {
  registerCommand(id: string, callback: (...args: unknown[]) => unknown): Disposable {
    if (hostStub.commands.has(id)) throw new Error(`command '${id}' already exists`);
    hostStub.commands.set(id, callback);
    return new Disposable(() => hostStub.commands.delete(id));
  },
  async executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    hostStub.executed.push({ command, args });
    if (command === 'setContext') {
      hostStub.context[args[0] as string] = args[1];
      return undefined;
    }
    const callback = hostStub.commands.get(command);
    return callback ? await callback(...args) : undefined;
  },
};

Object.assign(workspace, {
  onDidChangeConfiguration: hostStub.configurationChanged.event,
  findFiles(include: string): Promise<Uri[]> {
    const extensions = [...include.matchAll(/\.([A-Za-z0-9]+)/g)].map((match) => `.${match[1]}`);
    return Promise.resolve(hostStub.files.filter((uri) => extensions.length === 0 || extensions.some((ext) => uri.path.endsWith(ext))));
  },
  fs: {
    async readFile(uri: Uri): Promise<Uint8Array> {
      return new Uint8Array(await readFileFromDisk(uri.fsPath));
    },
  },
});

export const env = {
  appName: 'Visual Studio Code (stub)',
  language: 'en',
  clipboard: {
    text: '',
    writeText(value: string): Promise<void> {
      env.clipboard.text = value;
      return Promise.resolve();
    },
    readText(): Promise<string> {
      return Promise.resolve(env.clipboard.text);
    },
  },
  openExternal(_uri: Uri): Promise<boolean> {
    return Promise.resolve(true);
  },
};

/** An extension context for a host test: `extensionPath` is where the bundled core is looked for. */
export function extensionContext(extensionPath: string): { extensionPath: string; subscriptions: Disposable[]; asAbsolutePath(path: string): string; extensionUri: Uri } {
  return { extensionPath, subscriptions: [], asAbsolutePath: (path) => `${extensionPath}/${path}`, extensionUri: Uri.file(extensionPath) };
}

/** Forgets what the host code recorded (call in `beforeEach`). */
export function resetHostStub(): void {
  hostStub.answers.length = 0;
  hostStub.messages.length = 0;
  hostStub.quickPicks.length = 0;
  hostStub.inputBoxes.length = 0;
  hostStub.openDialogs.length = 0;
  hostStub.progress.length = 0;
  hostStub.onProgress = undefined;
  hostStub.treeViews.length = 0;
  hostStub.statusBarItems.length = 0;
  hostStub.outputChannels.length = 0;
  hostStub.commands.clear();
  hostStub.executed.length = 0;
  hostStub.context = {};
  hostStub.activeNotebookEditor = undefined;
  hostStub.files.length = 0;
}
