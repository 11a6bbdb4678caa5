import type { PlotlyLoader } from '@opsbook/core/views';
import type { HostToWebview, ThemeKind, WebviewView } from '@opsbook/schema';
import { createRoot } from 'react-dom/client';
import { WebviewMessenger } from '../shared';
import { OpsbookView, type ViewContext } from './App';

/** The part of `acquireVsCodeApi()` the webview uses. */
export interface VsCodeApi {
  postMessage(message: unknown): void;
}

const WEBVIEW_CSS = `
body { padding: 0 12px 12px; background: var(--vscode-editor-background); color: var(--vscode-foreground); }
.opsbook-webview-error { border-left: 3px solid var(--vscode-errorForeground); padding: 4px 8px; margin: 8px 0; }
.opsbook-webview-error button { font: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 2px 10px; cursor: pointer; }
.opsbook-webview-error button:focus-visible { outline: 1px solid var(--vscode-focusBorder); }
.opsbook-webview-loading { color: var(--vscode-descriptionForeground); }
.opsbook-webview-table { height: 45vh; min-height: 240px; display: flex; flex-direction: column; }
.opsbook-webview-chart h2 { font-size: 1em; font-weight: 600; margin: 16px 0 4px; }
.opsbook-webview-deploy { display: flex; flex-direction: column; gap: 10px; max-width: 1100px; }
.opsbook-webview-deploy-head { display: flex; align-items: center; justify-content: space-between; }
.opsbook-webview-deploy-head h1 { font-size: 1.2em; font-weight: 600; margin: 12px 0 0; }
.opsbook-webview-deploy-head button { font: inherit; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: none; padding: 2px 10px; cursor: pointer; }
.opsbook-webview-deploy-head button:focus-visible { outline: 1px solid var(--vscode-focusBorder); }
.opsbook-webview-deploy-form { max-width: 640px; }
.opsbook-webview-deployments h2 { font-size: 1em; font-weight: 600; margin: 8px 0 4px; }
`;

/**
 * Starts the webview app: listens to the host, says `ready`, and mounts the view of each `init` or
 * `show` into `#root`. `plotly` replaces the shared views' plotly loader (tests record the charts).
 * @returns the messenger, whose `dispose` stops listening
 */
export function startWebview(vscode: VsCodeApi, options: { plotly?: PlotlyLoader } = {}): WebviewMessenger {
  const messenger = new WebviewMessenger({
    post: (message) => vscode.postMessage(message),
    listen: (handler) => {
      const listener = (event: MessageEvent): void => handler(event.data);
      window.addEventListener('message', listener);
      return () => window.removeEventListener('message', listener);
    },
  });
  if (!document.getElementById('opsbook-webview-css')) {
    const style = document.createElement('style');
    style.id = 'opsbook-webview-css';
    style.textContent = WEBVIEW_CSS;
    document.head.appendChild(style);
  }
  const container = document.getElementById('root') ?? document.body.appendChild(Object.assign(document.createElement('div'), { id: 'root' }));
  const root = createRoot(container);
  const eventHandlers = new Set<(event: Extract<HostToWebview, { type: 'event' }>) => void>();
  const ctx: ViewContext = {
    client: messenger.client(),
    open: (view: WebviewView) => messenger.send({ type: 'open', view }),
    onEvent: (handler) => {
      eventHandlers.add(handler);
      return () => eventHandlers.delete(handler);
    },
    plotly: options.plotly,
  };
  const setTheme = (theme: ThemeKind): void => {
    // VS Code swaps the --vscode-* variables and the body's theme class itself, and the charts redraw
    // on that class change; the attribute is for what CSS cannot tell (high contrast light vs light).
    document.body.dataset.opsbookTheme = theme;
  };
  messenger.onMessage((message) => {
    switch (message.type) {
      case 'init':
        setTheme(message.theme);
        root.render(<OpsbookView ctx={ctx} view={message.view} />);
        break;
      case 'show':
        root.render(<OpsbookView ctx={ctx} view={message.view} />);
        break;
      case 'event':
        for (const handler of eventHandlers) handler(message);
        break;
      case 'theme':
        setTheme(message.theme);
        break;
      case 'response':
        break;
    }
  });
  window.addEventListener('error', (event) => messenger.send({ type: 'log', level: 'error', message: String(event.message).slice(0, 9000) }));
  messenger.send({ type: 'ready' });
  return messenger;
}
