import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { announcedDaemon, discoveryFileName, jupyterRuntimeDir, type OpsbookClient } from '@opsbook/core/client';

/**
 * A client of the daemon announced for `folder`, when one answers for it. The extension host reaches
 * the core only over HTTP: it never loads the store (DuckDB) itself.
 */
export async function connectDaemon(folder: string): Promise<OpsbookClient | null> {
  const workspace = await realpath(folder);
  const digest = createHash('sha256').update(workspace).digest('hex');
  const path = join(jupyterRuntimeDir(process.env, process.platform, homedir()), discoveryFileName(digest));
  let announced: { url?: unknown; token?: unknown };
  try {
    announced = JSON.parse(await readFile(path, 'utf8')) as typeof announced;
  } catch {
    return null;
  }
  if (typeof announced.url !== 'string' || typeof announced.token !== 'string') return null;
  return (await announcedDaemon({ url: announced.url, token: announced.token }, workspace))?.client ?? null;
}
