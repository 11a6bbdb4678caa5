import { existsSync, statSync } from 'node:fs';
import type { MlflowTransfer } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { DaemonStartError, ensureDaemon } from '../daemon/launch';
import { BadInputError, NotFoundError } from '../store/errors';
import { MlflowClient, MlflowError } from '../tracking/mlflow/client';
import { exportToMlflow } from '../tracking/mlflow/export';
import { FileStoreError, FileStoreReader } from '../tracking/mlflow/filestore';
import { importFromMlflow, NoSuchExperimentError, type MlflowSource, type TransferredRun } from '../tracking/mlflow/import';
import type { ParsedCommand } from './args';
import { EnvironmentError, UsageError } from './errors';
import type { CliOutput } from './runs-command';
import { workspaceOf } from './workspace';
import { cliValidator } from './validator';


/**
 * `opsbook runs import-mlflow URI` and `opsbook runs export-mlflow URI`: copy runs between an MLflow
 * tracking server and the workspace, through the workspace's daemon (started when none runs). Import
 * also reads a local mlruns folder (MLflow's file store) directly, without MLflow installed.
 * @throws UsageError for a URI that is not http(s) or a folder, a folder that is not an mlruns folder,
 *   a folder given to export (not supported), an unknown experiment or a bad filter.
 * @throws EnvironmentError when the MLflow server or the daemon cannot be reached.
 */
export async function mlflowCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const uri = parsed.positionals.tracking_uri;
  const importing = parsed.command === 'runs import-mlflow';
  const mlflow = importing ? mlflowSourceFor(uri) : mlflowClientFor(uri);
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  let running: Awaited<ReturnType<typeof ensureDaemon>>;
  try {
    running = await ensureDaemon(workspace);
  } catch (error) {
    if (error instanceof DaemonStartError) throw new EnvironmentError(error.message);
    throw error;
  }
  const opsbook = new OpsbookClient({ baseUrl: running.info.url, token: running.token });
  const json = parsed.values.json === true;
  // Progress goes to stderr so that stdout stays one JSON document with --json.
  const progress = (run: TransferredRun): void => {
    const what = run.outcome === 'copied' ? `${run.params} params, ${run.metric_points} points, ${run.artifacts} artifacts` : run.reason;
    out.stderr(`${run.outcome} ${run.run_id.slice(0, 8)} ${JSON.stringify(run.name)} (${run.experiment}): ${what}\n`);
  };
  const experiment = parsed.values.experiment as string | undefined;
  let transfer: MlflowTransfer;
  try {
    transfer =
      importing
        ? await importFromMlflow(mlflow, opsbook, { experiments: experiment === undefined ? [] : [experiment], onRun: json ? undefined : progress })
        : await exportToMlflow(opsbook, mlflow as MlflowClient, { filter: parsed.values.filter as string | undefined, experiment, onRun: json ? undefined : progress });
  } catch (error) {
    throw translate(error);
  }
  if (json) out.stdout(`${JSON.stringify(cliValidator().assert<MlflowTransfer>('mlflow-transfer.schema.json', transfer))}\n`);
  else {
    const verb = transfer.direction === 'import' ? 'imported from' : 'exported to';
    out.stdout(`${transfer.copied} runs ${verb} ${transfer.mlflow}, ${transfer.skipped} skipped (already there), in ${transfer.seconds.toFixed(1)} s\n`);
  }
  return 0;
}

const isLocal = (uri: string): boolean => uri.startsWith('file:') || (existsSync(uri) && statSync(uri).isDirectory());

/** Import's source: a local mlruns folder (a path or `file:` URI), else a server. @throws UsageError */
function mlflowSourceFor(uri: string): MlflowSource {
  if (!isLocal(uri)) return mlflowClientFor(uri);
  try {
    return new FileStoreReader(uri);
  } catch (error) {
    if (error instanceof FileStoreError) throw new UsageError(error.message);
    throw error;
  }
}

/** @throws UsageError for anything but an http(s) tracking URI. */
function mlflowClientFor(uri: string): MlflowClient {
  if (!/^https?:\/\//i.test(uri)) {
    throw new UsageError(
      isLocal(uri)
        ? `export-mlflow writes only to an MLflow tracking server, not to a local mlruns folder (${JSON.stringify(uri)}); serve the folder and pass the server's URI (MLflow 3 serves a folder only when told to: \`MLFLOW_ALLOW_FILE_STORE=true mlflow server --backend-store-uri ${uri}\`, then pass http://127.0.0.1:5000)`
        : `the MLflow tracking URI must start with http:// or https://, not ${JSON.stringify(uri)}`,
    );
  }
  try {
    return new MlflowClient(uri);
  } catch (error) {
    throw new UsageError(`bad MLflow tracking URI ${JSON.stringify(uri)}: ${(error as Error).message}`);
  }
}

function translate(error: unknown): unknown {
  if (error instanceof NoSuchExperimentError) return new UsageError(error.message);
  if (error instanceof FileStoreError) return new UsageError(error.message);
  if (error instanceof MlflowError) {
    if (error.status === 0) return new EnvironmentError(error.message);
    if (error.status === 404 || error.errorCode === 'ENDPOINT_NOT_FOUND') {
      return new EnvironmentError(`${error.message} (is this the URI of an MLflow tracking server?)`);
    }
    return new EnvironmentError(error.message);
  }
  if (error instanceof OpsbookApiError) {
    const { message, field, value } = error.body.error;
    if (error.status === 404) return new NotFoundError(field ?? 'run_id', String(value ?? ''), message);
    if (error.status === 400) return new BadInputError(field ?? '', value, message);
  }
  return error;
}
