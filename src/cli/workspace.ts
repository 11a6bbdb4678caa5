import { realpathSync, statSync } from 'node:fs';
import { findWorkspace } from '../client/paths';
import { UsageError } from './errors';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The workspace folder of a command, resolved: `--workspace` when given, else `$OPSBOOK_WORKSPACE`,
 * else the nearest folder at or above the current one holding `.opsbook/`, else the current folder
 * (the rule of `client/paths.ts`, which the Python package follows too).
 * @throws UsageError when the folder does not exist.
 */
export function workspaceOf(given: string | undefined, cwd: string = process.cwd()): string {
  const folder = given ?? findWorkspace(process.env, process.platform, realpathOrSelf(cwd), isDirectory);
  try {
    return realpathSync(folder);
  } catch {
    const source = given !== undefined ? '--workspace' : process.env.OPSBOOK_WORKSPACE ? 'OPSBOOK_WORKSPACE' : 'the current folder';
    throw new UsageError(`workspace folder ${JSON.stringify(folder)} (from ${source}) does not exist`);
  }
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
