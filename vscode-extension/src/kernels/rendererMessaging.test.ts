import type { WebviewView } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { ApiAnswer, WebviewPanels, WorkspaceDaemon } from '../services';
import { stub } from '../testing/vscode';
import { listenToRenderer } from './rendererMessaging';

const RUN_ID = '0f6d2a4e-5c1b-4a8e-9d3f-2b7c8e1a9f00';
const settle = (): Promise<void> => new Promise((done) => setTimeout(done, 0));

describe('messages from the notebook renderer', () => {
  const opened: WebviewView[] = [];
  const requests: { method: string; path: string; body: unknown }[] = [];
  const logged: string[] = [];
  const panels = { open: (view: WebviewView) => opened.push(view), dispose: () => undefined } as WebviewPanels;
  // The daemon's side is recorded here: what is tested is which messages reach it and how answers go back.
  const daemon = {
    request: (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
      requests.push({ method, path, body });
      return Promise.resolve({ status: 200, body: { runs: [] } });
    },
  } as unknown as WorkspaceDaemon;
  const log = {
    info: (message: string) => logged.push(`info ${message}`),
    warn: (message: string) => logged.push(`warn ${message}`),
    error: (message: string) => logged.push(`error ${message}`),
  } as unknown as vscode.LogOutputChannel;
  let subscription: vscode.Disposable;

  beforeEach(() => {
    opened.length = requests.length = logged.length = 0;
    subscription = listenToRenderer(panels, daemon, log);
  });
  afterEach(() => subscription.dispose());

  const messaging = () => stub.rendererMessagings[stub.rendererMessagings.length - 1];

  it('listens on the opsbook.renderer messaging and opens the view a run card asks for', async () => {
    expect(messaging().rendererId).toBe('opsbook.renderer');
    messaging().received.fire({ editor: 'editor-1', message: { type: 'open', view: { kind: 'run', run_id: RUN_ID } } });
    await settle();

    expect(opened).toEqual([{ kind: 'run', run_id: RUN_ID }]);
  });

  it('forwards an API request and answers the editor that asked', async () => {
    messaging().received.fire({ editor: 'editor-2', message: { type: 'request', id: 7, method: 'GET', path: '/runs?limit=5' } });
    await settle();

    expect(requests).toEqual([{ method: 'GET', path: '/runs?limit=5', body: undefined }]);
    expect(messaging().posted).toEqual([{ editor: 'editor-2', message: { type: 'response', id: 7, status: 200, body: { runs: [] } } }]);
  });

  it('refuses a request that is no API operation, without calling the daemon', async () => {
    messaging().received.fire({ editor: 'editor-3', message: { type: 'request', id: 8, method: 'DELETE', path: '/not/an/operation' } });
    await settle();

    expect(requests).toEqual([]);
    expect(messaging().posted).toEqual([{ editor: 'editor-3', message: expect.objectContaining({ type: 'response', id: 8, status: 400 }) }]);
  });

  it('drops an invalid message with a warning, and writes log messages to the channel at their level', async () => {
    messaging().received.fire({ editor: 'e', message: { type: 'open', view: { kind: 'nope' } } });
    messaging().received.fire({ editor: 'e', message: { type: 'log', level: 'error', message: 'chart failed' } });
    await settle();

    expect(opened).toEqual([]);
    expect(logged[0]).toMatch(/^warn renderer message dropped/);
    expect(logged[1]).toBe('error renderer: chart failed');
  });
});
