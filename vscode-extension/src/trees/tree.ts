import * as vscode from 'vscode';
import { describeError } from '../errors';
import type { WorkspaceDaemon } from '../services';

/**
 * A tree of the Opsbook container that reads its items from the daemon: `read` builds the items, the
 * tree re-reads on `refresh()` (at most once per `minIntervalMs` when asked by events), and shows
 * why when the daemon cannot be reached instead of an empty tree.
 */
export abstract class DaemonTree<T extends vscode.TreeItem> implements vscode.TreeDataProvider<vscode.TreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.TreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  protected readonly subscriptions: vscode.Disposable[] = [];
  private pending: ReturnType<typeof setTimeout> | undefined;
  private lastRefresh = 0;

  constructor(
    protected readonly daemon: WorkspaceDaemon,
    private readonly minIntervalMs = 1000,
  ) {}

  /**
   * The tree's top level. `reread` is false when only {@link changedItems} asked for a redraw since
   * the last read: a tree that keeps what it read may draw that again without asking the daemon.
   * @throws when the daemon answers an error.
   */
  protected abstract roots(reread: boolean): Promise<T[]>;

  /** Whether the next draw was asked for by {@link changedItems} alone. */
  private redrawOnly = false;

  /** The children of an item (none by default). */
  protected children(_item: T): T[] {
    return [];
  }

  getTreeItem(item: vscode.TreeItem): vscode.TreeItem {
    return item;
  }

  async getChildren(item?: vscode.TreeItem): Promise<vscode.TreeItem[]> {
    if (item) return this.children(item as T);
    const reread = !this.redrawOnly;
    this.redrawOnly = false;
    try {
      return await this.roots(reread);
    } catch (error) {
      const message = new vscode.TreeItem(describeError(error));
      message.iconPath = new vscode.ThemeIcon('warning');
      message.tooltip = describeError(error);
      return [message];
    }
  }

  /** Reads again now. */
  refresh(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.lastRefresh = Date.now();
    this.redrawOnly = false;
    this.changed.fire(undefined);
  }

  /** Reads again, at most once per `minIntervalMs` (for bursts of events). */
  refreshSoon(): void {
    if (this.pending) return;
    const wait = Math.max(0, this.lastRefresh + this.minIntervalMs - Date.now());
    this.pending = setTimeout(() => this.refresh(), wait);
  }

  /** Shows a change the tree already holds (an event's data) without reading the daemon. */
  protected changedItems(): void {
    this.redrawOnly = true;
    this.changed.fire(undefined);
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.changed.dispose();
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

/** "3 s", "4 min", "2 h", "5 d" ago, from an ISO time. */
export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}
