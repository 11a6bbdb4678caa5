import type { ModelVersion, RegisteredModel } from '@opsbook/schema';
import * as vscode from 'vscode';
import type { WorkspaceDaemon } from '../services';
import { ago, DaemonTree } from './tree';

/** A registered model: its versions are its children. */
export class ModelItem extends vscode.TreeItem {
  constructor(readonly model: RegisteredModel) {
    super(model.name, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `model:${model.name}`;
    const aliases = Object.entries(model.aliases).map(([alias, version]) => `@${alias}→v${version}`);
    this.description = [`v${model.latest_version}`, ...aliases].join(' · ');
    this.tooltip = model.description || `${model.versions.length} version(s)`;
    this.iconPath = new vscode.ThemeIcon('package');
    this.contextValue = 'opsbook.model';
    this.command = { command: 'opsbook.openModel', title: 'Open Model', arguments: [model.name] };
  }
}

/** One version of a registered model (serve and explain act on it). */
export class ModelVersionItem extends vscode.TreeItem {
  constructor(readonly version: ModelVersion) {
    super(`v${version.version}`, vscode.TreeItemCollapsibleState.None);
    this.id = `model:${version.name}:${version.version}`;
    const parity = version.parity_max_abs_diff === null ? 'parity unchecked' : `parity ${version.parity_max_abs_diff.toExponential(1)}`;
    this.description = [version.flavor, ...version.aliases.map((alias) => `@${alias}`), parity, ago(version.created_at)].join(' · ');
    this.tooltip = `${version.name}:${version.version} — ${version.artifact}`;
    this.iconPath = new vscode.ThemeIcon('versions');
    this.contextValue = 'opsbook.modelVersion';
    this.command = { command: 'opsbook.openModel', title: 'Open Model', arguments: [version.name] };
  }

  /** The registry reference the CLI and the API take: `NAME:VERSION`. */
  get reference(): string {
    return `${this.version.name}:${this.version.version}`;
  }
}

/** The Models tree: the workspace's model registry. */
export class ModelsTree extends DaemonTree<ModelItem | ModelVersionItem> {
  constructor(daemon: WorkspaceDaemon) {
    super(daemon);
    // A run event may come with a newly registered version (log_model ends in one).
    this.subscriptions.push(
      daemon.onEvent(({ name }) => name === 'run' && this.refreshSoon()),
      daemon.onConnected(() => this.refresh()),
    );
  }

  protected async roots(): Promise<ModelItem[]> {
    const { models } = await (await this.daemon.client()).listModels();
    return models.map((model) => new ModelItem(model));
  }

  protected override children(item: ModelItem | ModelVersionItem): ModelVersionItem[] {
    return item instanceof ModelItem ? [...item.model.versions].sort((a, b) => b.version - a.version).map((v) => new ModelVersionItem(v)) : [];
  }
}
