/**
 * Where a workspace's daemon is announced, as pure functions of the environment: the same rules in
 * the CLI, the daemon, the JupyterLab server extension and VS Code, on Linux, macOS and Windows.
 * No Node built-ins here (VS Code and browsers load this module); callers pass what the host knows.
 * `schema/path-rules.json` is the table of cases that jest and pytest both check.
 */

/** A platform as Node names it (`process.platform`). */
export type PlatformName = 'linux' | 'darwin' | 'win32' | (string & NonNullable<unknown>);

/** Environment variables, as `process.env` holds them. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The name of the folder that marks a workspace and holds its store. */
export const STATE_DIR_NAME = '.opsbook';

function separatorOf(platform: PlatformName): string {
  return platform === 'win32' ? '\\' : '/';
}

/** Joins path parts with the platform's separator, without doubling one that is already there. */
export function joinPath(platform: PlatformName, ...parts: string[]): string {
  const separator = separatorOf(platform);
  return parts.reduce((joined, part) => {
    if (joined === '') return part;
    const trimmed = platform === 'win32' ? part.replace(/^[\\/]+/, '') : part.replace(/^\/+/, '');
    return /[\\/]$/.test(joined) ? `${joined}${trimmed}` : `${joined}${separator}${trimmed}`;
  }, '');
}

/** Whether an environment variable is set to something true, as jupyter_core's `envset` reads it. */
function envSet(env: Environment, name: string): boolean {
  const value = env[name];
  return value !== undefined && !['no', 'n', 'false', 'off', '0', '0.0'].includes(value.toLowerCase());
}

/**
 * Jupyter's data folder, as `jupyter_core.paths.jupyter_data_dir()` finds it on each platform.
 * `home` is the user's home folder (`os.homedir()`).
 */
export function jupyterDataDir(env: Environment, platform: PlatformName, home: string): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (envSet(env, 'JUPYTER_PLATFORM_DIRS')) {
    // platformdirs' user_data_dir("jupyter", appauthor=False).
    if (platform === 'darwin') return joinPath(platform, home, 'Library', 'Application Support', 'jupyter');
    if (platform === 'win32') return joinPath(platform, env.LOCALAPPDATA ?? joinPath(platform, home, 'AppData', 'Local'), 'jupyter');
    return joinPath(platform, env.XDG_DATA_HOME || joinPath(platform, home, '.local', 'share'), 'jupyter');
  }
  if (platform === 'darwin') return joinPath(platform, home, 'Library', 'Jupyter');
  if (platform === 'win32') {
    if (env.APPDATA) return joinPath(platform, env.APPDATA, 'jupyter');
    return joinPath(platform, env.JUPYTER_CONFIG_DIR || joinPath(platform, home, '.jupyter'), 'data');
  }
  return joinPath(platform, env.XDG_DATA_HOME || joinPath(platform, home, '.local', 'share'), 'jupyter');
}

/**
 * Jupyter's runtime folder, where discovery files live, as `jupyter_core.paths.jupyter_runtime_dir()`
 * finds it: `$JUPYTER_RUNTIME_DIR`, else `<data dir>/runtime`.
 */
export function jupyterRuntimeDir(env: Environment, platform: PlatformName, home: string): string {
  if (env.JUPYTER_RUNTIME_DIR) return env.JUPYTER_RUNTIME_DIR;
  return joinPath(platform, jupyterDataDir(env, platform, home), 'runtime');
}

/**
 * The discovery file's name in the runtime folder: `opsbook-<first 16 hex digits>.json` of the
 * sha256 over the workspace's real path (the host computes the digest).
 */
export function discoveryFileName(workspaceDigestHex: string): string {
  return `opsbook-${workspaceDigestHex.slice(0, 16)}.json`;
}

/** `cwd` and each folder above it, nearest first. */
export function ancestorsOf(platform: PlatformName, cwd: string): string[] {
  const separator = separatorOf(platform);
  const normalized = platform === 'win32' ? cwd.replace(/\//g, '\\') : cwd;
  const root = platform === 'win32' ? (/^([A-Za-z]:\\|\\\\[^\\]+\\[^\\]+\\?)/.exec(normalized)?.[0] ?? '') : normalized.startsWith('/') ? '/' : '';
  const parts = normalized.slice(root.length).split(separator).filter((part) => part !== '');
  const folders: string[] = [];
  for (let count = parts.length; count >= 0; count -= 1) {
    const rest = parts.slice(0, count).join(separator);
    folders.push(root && rest ? `${root.endsWith(separator) ? root : root + separator}${rest}` : root || rest);
  }
  return folders;
}

/**
 * The workspace of a command or kernel: `$OPSBOOK_WORKSPACE` when set, else the nearest folder at
 * or above `cwd` holding `.opsbook/`, else `cwd`. `isDirectory` answers for the host's file system.
 */
export function findWorkspace(
  env: Environment,
  platform: PlatformName,
  cwd: string,
  isDirectory: (path: string) => boolean,
): string {
  if (env.OPSBOOK_WORKSPACE) return env.OPSBOOK_WORKSPACE;
  const marked = ancestorsOf(platform, cwd).find((folder) => isDirectory(joinPath(platform, folder, STATE_DIR_NAME)));
  return marked ?? cwd;
}
