import type { HostToWebview, WebviewToHost } from '@opsbook/schema';
import { SchemaValidator } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { WebviewPanels, WorkspaceDaemon } from '../services';
import { forwardRequest } from '../webviews/panels';

/**
 * The notebook renderer's messages (`opsbook.renderer`): validated as the webviews' are; `open` opens
 * a panel (a run card's Open), `request` is forwarded to the daemon when it is an API operation and
 * answered to the editor that asked, `log` goes to the output channel.
 */
export function listenToRenderer(panels: WebviewPanels, daemon: WorkspaceDaemon, log: vscode.LogOutputChannel): vscode.Disposable {
  const messaging = vscode.notebooks.createRendererMessaging('opsbook.renderer');
  const validator = SchemaValidator.shared();
  return messaging.onDidReceiveMessage(async ({ editor, message }) => {
    const issue = validator.check('webview.schema.json#/$defs/WebviewToHost', message);
    if (issue) {
      log.warn(`renderer message dropped: ${issue.message}`);
      return;
    }
    const valid = message as WebviewToHost;
    switch (valid.type) {
      case 'open':
        panels.open(valid.view);
        return;
      case 'request': {
        const answer = await forwardRequest(daemon, valid);
        const reply: HostToWebview = { type: 'response', id: valid.id, status: answer.status, body: answer.body ?? null };
        await messaging.postMessage(reply, editor);
        return;
      }
      case 'log':
        log[valid.level ?? 'info'](`renderer: ${valid.message}`);
        return;
      case 'ready':
        return;
    }
  });
}
