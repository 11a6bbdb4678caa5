import type { Endpoint } from '@opsbook/schema';
import * as vscode from 'vscode';
import { isRunning } from './trees/endpoints';

/**
 * The status-bar item for served models: "N endpoints" while any runs (hidden otherwise), opening the
 * Endpoints view; it also sets the `opsbook.endpointsRunning` context key for menus.
 */
export class EndpointsStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('opsbook.endpoints', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'Opsbook endpoints';
    this.item.command = 'opsbook.endpoints.focus';
  }

  /** Shows the running endpoints of a fresh list. */
  update(endpoints: readonly Endpoint[]): void {
    const running = endpoints.filter(isRunning);
    void vscode.commands.executeCommand('setContext', 'opsbook.endpointsRunning', running.length > 0);
    if (running.length === 0) {
      this.item.hide();
      return;
    }
    this.item.text = `$(radio-tower) ${running.length} endpoint${running.length === 1 ? '' : 's'}`;
    this.item.tooltip = running.map((endpoint) => `${endpoint.name}: ${endpoint.status}${endpoint.url ? ` — ${endpoint.url}` : ''}`).join('\n');
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
