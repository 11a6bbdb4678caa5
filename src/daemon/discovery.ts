import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SchemaError, SchemaValidator, type DiscoveryFile } from '@opsbook/schema';
import { discoveryFileName, jupyterRuntimeDir } from '../client/paths';


/**
 * The Jupyter runtime folder of this process, found as `jupyter_core.paths.jupyter_runtime_dir()`
 * finds it on Linux, macOS and Windows (the rule and its cases: `client/paths.ts`).
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return jupyterRuntimeDir(env, process.platform, homedir());
}

/**
 * `<runtime dir>/opsbook-<sha256(realpath(workspace)) first 16 hex>.json`.
 * @throws Error when the workspace folder does not exist.
 */
export function discoveryPath(workspace: string, dir: string = runtimeDir()): string {
  return join(dir, discoveryFileName(createHash('sha256').update(realpathSync(workspace)).digest('hex')));
}

/**
 * Writes the discovery file readable by its owner only (mode 0600), atomically: readers see the old
 * file or the whole new one, never half of it.
 * @throws SchemaError when `content` does not match `discovery.schema.json`.
 */
export function writeDiscovery(path: string, content: DiscoveryFile): void {
  const issue = SchemaValidator.shared().check('discovery.schema.json', content);
  if (issue) throw new SchemaError('discovery.schema.json', issue);
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** The discovery file's content, or `null` when it is missing, unreadable or not a discovery file. */
export function readDiscovery(path: string): DiscoveryFile | null {
  try {
    const content: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return SchemaValidator.shared().check('discovery.schema.json', content) === null ? (content as DiscoveryFile) : null;
  } catch {
    return null;
  }
}

/** Removes the discovery file when it still names the daemon `pid` on `port` (a successor may have replaced it). */
export function removeDiscovery(path: string, pid: number, port: number): void {
  const current = readDiscovery(path);
  if (current === null || (current.pid === pid && current.port === port)) rmSync(path, { force: true });
}
