import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BadInputError } from '../../store/errors';

/** Where the workspace's runs live. */
export type TrackingConfig = { backend: 'local' } | { backend: 'mlflow'; uri: string };

/** The workspace file the tracking backend is read from. */
export function configPath(workspace: string): string {
  return join(workspace, '.opsbook', 'config.yaml');
}

/** The workspace's tracking settings are unusable; the daemon does not start (CLI exit 2). */
export class TrackingConfigError extends BadInputError {
  constructor(message: string) {
    super('tracking', undefined, message);
    this.name = 'TrackingConfigError';
  }
}

/**
 * The tracking backend of a workspace, read once when its daemon starts: `<workspace>/.opsbook/config.yaml`
 *
 * ```yaml
 * tracking:
 *   backend: mlflow            # or local (the default)
 *   uri: http://127.0.0.1:5000 # the MLflow tracking server
 * ```
 *
 * with `OPSBOOK_TRACKING_BACKEND` and `OPSBOOK_MLFLOW_URI` overriding the file. No file and no
 * variables: the local store.
 * @throws TrackingConfigError naming the file or variable and the bad value (unreadable YAML, an
 *   unknown backend, mlflow without an http(s) URI).
 */
export function readTrackingConfig(workspace: string, env: NodeJS.ProcessEnv = process.env): TrackingConfig {
  const path = configPath(workspace);
  let fromFile: { backend?: unknown; uri?: unknown } = {};
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new TrackingConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (text !== undefined) {
    let document: unknown;
    try {
      document = parse(text);
    } catch (error) {
      throw new TrackingConfigError(`${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    }
    const tracking = (document as { tracking?: unknown } | null)?.tracking;
    if (tracking !== undefined && tracking !== null) {
      if (typeof tracking !== 'object' || Array.isArray(tracking)) throw new TrackingConfigError(`${path}: tracking must be a mapping (backend, uri)`);
      fromFile = tracking as typeof fromFile;
    }
  }
  const backend = env.OPSBOOK_TRACKING_BACKEND || fromFile.backend || 'local';
  const where = env.OPSBOOK_TRACKING_BACKEND ? 'OPSBOOK_TRACKING_BACKEND' : `${path}: tracking.backend`;
  if (backend === 'local') return { backend: 'local' };
  if (backend !== 'mlflow') throw new TrackingConfigError(`${where} must be local or mlflow, not ${JSON.stringify(backend)}`);
  const uri = env.OPSBOOK_MLFLOW_URI || fromFile.uri;
  const uriWhere = env.OPSBOOK_MLFLOW_URI ? 'OPSBOOK_MLFLOW_URI' : `${path}: tracking.uri`;
  if (typeof uri !== 'string' || !/^https?:\/\/[^/]/i.test(uri)) {
    throw new TrackingConfigError(
      uri === undefined
        ? `tracking.backend is mlflow but no tracking server is named: set tracking.uri in ${path} or OPSBOOK_MLFLOW_URI`
        : `${uriWhere} must be the http(s) URI of an MLflow tracking server, not ${JSON.stringify(uri)}`,
    );
  }
  return { backend: 'mlflow', uri };
}
