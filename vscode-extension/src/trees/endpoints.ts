import type { Endpoint, ServeEvent } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { WorkspaceDaemon } from '../services';
import { DaemonTree } from './tree';

const STATUS_ICONS: Record<Endpoint['status'], [string, string]> = {
  starting: ['loading~spin', 'charts.blue'],
  ready: ['radio-tower', 'charts.green'],
  stopping: ['loading~spin', 'charts.orange'],
  stopped: ['circle-outline', 'disabledForeground'],
  failed: ['error', 'errorForeground'],
};

/** A served endpoint: status, URL and its last second of traffic. */
export class EndpointItem extends vscode.TreeItem {
  constructor(readonly endpoint: Endpoint) {
    super(endpoint.name, vscode.TreeItemCollapsibleState.None);
    this.id = `endpoint:${endpoint.name}`;
    const stats = endpoint.stats;
    const traffic = stats && endpoint.status === 'ready' ? `${stats.rps.toFixed(0)} req/s${stats.p99_ms === null ? '' : ` · p99 ${stats.p99_ms.toFixed(1)} ms`}` : '';
    this.description = [endpoint.status, endpoint.device ?? '', endpoint.url ?? '', traffic].filter(Boolean).join(' · ');
    const [icon, colour] = STATUS_ICONS[endpoint.status];
    this.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
    this.tooltip = [
      `${endpoint.name}: ${endpoint.status}${endpoint.error ? ` — ${endpoint.error}` : ''}`,
      ...endpoint.models.map((model) => `${model.name} v${model.version} (${model.model})`),
    ].join('\n');
    this.contextValue = isRunning(endpoint) ? 'opsbook.endpoint.running' : 'opsbook.endpoint';
    this.command = { command: 'opsbook.openEndpoint', title: 'Open Endpoint', arguments: [endpoint.name] };
  }
}

/** Whether an endpoint holds a server process (one that Stop Endpoint can stop). */
export function isRunning(endpoint: Pick<Endpoint, 'status'>): boolean {
  return endpoint.status === 'starting' || endpoint.status === 'ready';
}

/** The Endpoints tree: the models the workspace serves, live from `serve` events. */
export class EndpointsTree extends DaemonTree<EndpointItem> {
  private endpoints: Endpoint[] = [];
  private readonly changedEndpoints = new vscode.EventEmitter<readonly Endpoint[]>();
  /** Fires with the endpoints after each read (the status bar counts the running ones). */
  readonly onDidChangeEndpoints = this.changedEndpoints.event;

  constructor(daemon: WorkspaceDaemon) {
    super(daemon);
    this.subscriptions.push(
      this.changedEndpoints,
      daemon.onEvent(({ name, data }) => {
        if (name !== 'serve') return;
        const event = data as ServeEvent;
        const known = this.endpoints.find((endpoint) => endpoint.name === event.endpoint);
        if (known && known.status === event.status) {
          // A second of traffic: redraw with it, no request.
          known.stats = event.stats ?? known.stats;
          known.url = event.url ?? known.url;
          this.changedItems();
        } else {
          this.refreshSoon();
        }
      }),
      daemon.onConnected(() => this.refresh()),
    );
  }

  /** The endpoints of the last read. */
  get current(): readonly Endpoint[] {
    return this.endpoints;
  }

  protected async roots(reread: boolean): Promise<EndpointItem[]> {
    if (reread) {
      const { endpoints } = await (await this.daemon.client()).listEndpoints();
      // The API's answer type is openapi-typescript's rendering of the same schema.
      this.endpoints = endpoints as unknown as Endpoint[];
      this.changedEndpoints.fire(this.endpoints);
    }
    return this.endpoints.map((endpoint) => new EndpointItem(endpoint));
  }
}
