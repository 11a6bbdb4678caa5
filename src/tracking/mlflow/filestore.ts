import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type { MlflowExperiment, MlflowFileInfo, MlflowKeyValue, MlflowMetric, MlflowRun, MlflowRunInfo, MlflowRunStatus } from './client';
import type { MlflowSource } from './import';

/** MLflow's RunStatus numbers (mlflow/protos/service.proto), as a FileStore's run meta.yaml writes them. */
const STATUS_NUMBERS: Record<number, MlflowRunStatus> = { 1: 'RUNNING', 2: 'SCHEDULED', 3: 'FINISHED', 4: 'FAILED', 5: 'KILLED' };
const STATUS_NAMES: readonly string[] = Object.values(STATUS_NUMBERS);
/** Folders of a FileStore root that are not experiments. */
const NOT_EXPERIMENTS = new Set(['.trash', 'models', '.registry']);

/** A folder is not an MLflow FileStore (`mlruns`), or a file in it cannot be read. */
export class FileStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileStoreError';
  }
}

/**
 * Reads a local `mlruns` folder, the layout of MLflow's FileStore, directly (MLflow need not be
 * installed): `<root>/<experiment_id>/meta.yaml`, `<root>/<experiment_id>/<run_id>/meta.yaml`, and
 * per run `params/<key>`, `tags/<key>` (the file's text is the value; a key with `/` is a subfolder),
 * `metrics/<key>` (lines `timestamp value [step]`) and `artifacts/`. Deleted experiments and runs
 * (lifecycle_stage deleted) and `.trash` are left out. Read-only.
 */
export class FileStoreReader implements MlflowSource {
  /** `file://` URI of the folder. */
  readonly baseUrl: string;
  readonly description: string;
  private readonly root: string;
  /** Run id → its folder and info, for the runs `searchRuns` returned. */
  private readonly runFolders = new Map<string, string>();
  private readonly runInfos = new Map<string, MlflowRunInfo>();

  /**
   * @param folder the mlruns folder, a path or a `file:` URI.
   * @throws FileStoreError when the folder does not exist or holds no experiment folder with a meta.yaml.
   */
  constructor(folder: string) {
    this.root = resolve(folder.startsWith('file:') ? fileURLToPath(folder) : folder);
    this.baseUrl = pathToFileURL(this.root).href;
    this.description = `the mlruns folder ${this.root}`;
    if (!existsSync(this.root) || !statSync(this.root).isDirectory()) throw new FileStoreError(`${JSON.stringify(folder)} is not a folder`);
    if (this.experimentFolders().length === 0) {
      throw new FileStoreError(
        `${JSON.stringify(folder)} is not a local mlruns folder (MLflow's file store): it holds no experiment folder with a meta.yaml`,
      );
    }
  }

  async listExperiments(): Promise<MlflowExperiment[]> {
    return this.experimentFolders()
      .map((id) => this.experiment(id))
      .filter((experiment): experiment is MlflowExperiment => experiment !== null && experiment.lifecycle_stage !== 'deleted');
  }

  async getExperimentByName(name: string): Promise<MlflowExperiment | null> {
    return (await this.listExperiments()).find((experiment) => experiment.name === name) ?? null;
  }

  /** Active runs of the experiments, ordered as asked by `attributes.start_time ASC|DESC` (else by start time). */
  async searchRuns(experimentIds: readonly string[], options: { orderBy?: string[] } = {}): Promise<MlflowRun[]> {
    const runs: MlflowRun[] = [];
    for (const experimentId of experimentIds) {
      const dir = join(this.root, experimentId);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || !existsSync(join(dir, entry.name, 'meta.yaml'))) continue;
        const run = this.run(experimentId, join(dir, entry.name));
        if (run.info.lifecycle_stage === 'deleted') continue;
        this.runFolders.set(run.info.run_id, join(dir, entry.name));
        this.runInfos.set(run.info.run_id, run.info);
        runs.push(run);
      }
    }
    const descending = (options.orderBy ?? []).some((order) => /start_time\s+DESC/i.test(order));
    return runs.sort((a, b) => (descending ? -1 : 1) * ((a.info.start_time ?? 0) - (b.info.start_time ?? 0)) || a.info.run_id.localeCompare(b.info.run_id));
  }

  /** Every point of one metric, in the order logged. @throws FileStoreError for a malformed line */
  async metricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const path = join(this.runFolder(runId), 'metrics', ...key.split('/'));
    if (!existsSync(path)) return [];
    const points: MlflowMetric[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const parts = line.trim().split(' ');
      // MLflow writes `timestamp value step`; older stores `timestamp value`; dataset-tagged points add two fields.
      if (parts.length !== 2 && parts.length !== 3 && parts.length !== 5) throw new FileStoreError(`${path}: malformed metric line ${JSON.stringify(line)}`);
      points.push({ key, timestamp: Number(parts[0]), value: Number(parts[1]), step: parts.length >= 3 ? Number(parts[2]) : 0 });
    }
    return points;
  }

  /** Artifacts are read from the run's `file:` artifact URI, or its `artifacts/` folder. */
  canReadArtifacts(run: MlflowRunInfo): boolean {
    return this.artifactRoot(run) !== null;
  }

  async listArtifactFiles(runId: string): Promise<MlflowFileInfo[]> {
    this.runFolder(runId);
    const root = this.artifactRoot(this.runInfos.get(runId)!);
    if (root === null) return [];
    return filesUnder(root).map((path) => ({ path: relative(root, path).split(sep).join('/'), is_dir: false, file_size: statSync(path).size }));
  }

  async downloadArtifact(run: MlflowRunInfo, path: string): Promise<Uint8Array> {
    const root = this.artifactRoot(run);
    const file = root === null ? '' : resolve(root, ...path.split('/'));
    if (root === null || relative(root, file).startsWith('..') || isAbsolute(relative(root, file))) {
      throw new FileStoreError(`run ${run.run_id} has no artifact ${JSON.stringify(path)} in ${this.root}`);
    }
    return new Uint8Array(readFileSync(file));
  }

  private experimentFolders(): string[] {
    return readdirSync(this.root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !NOT_EXPERIMENTS.has(entry.name) && existsSync(join(this.root, entry.name, 'meta.yaml')))
      .map((entry) => entry.name)
      .filter((id) => this.experiment(id) !== null)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  /** The experiment of a folder, or null when its meta.yaml names none. */
  private experiment(id: string): MlflowExperiment | null {
    const meta = readMeta(join(this.root, id, 'meta.yaml'));
    if (typeof meta.name !== 'string' || meta.experiment_id === undefined) return null;
    return {
      experiment_id: String(meta.experiment_id),
      name: meta.name,
      lifecycle_stage: typeof meta.lifecycle_stage === 'string' ? meta.lifecycle_stage : 'active',
      ...(typeof meta.artifact_location === 'string' ? { artifact_location: meta.artifact_location } : {}),
      ...(typeof meta.creation_time === 'number' ? { creation_time: meta.creation_time } : {}),
    };
  }

  private run(experimentId: string, dir: string): MlflowRun {
    const meta = readMeta(join(dir, 'meta.yaml'));
    const runId = String(meta.run_id ?? meta.run_uuid ?? dir.split(sep).pop());
    const time = (value: unknown): number | undefined => (value === null || value === undefined || value === '' ? undefined : Number(value));
    const info: MlflowRunInfo = {
      run_id: runId,
      experiment_id: meta.experiment_id === undefined ? experimentId : String(meta.experiment_id),
      status: statusOf(meta.status),
      ...(typeof meta.run_name === 'string' && meta.run_name !== '' ? { run_name: meta.run_name } : {}),
      ...(time(meta.start_time) !== undefined ? { start_time: time(meta.start_time) } : {}),
      ...(time(meta.end_time) !== undefined ? { end_time: time(meta.end_time) } : {}),
      ...(typeof meta.artifact_uri === 'string' ? { artifact_uri: meta.artifact_uri } : {}),
      lifecycle_stage: typeof meta.lifecycle_stage === 'string' ? meta.lifecycle_stage : 'active',
    };
    const metricsDir = join(dir, 'metrics');
    const metrics: MlflowMetric[] = keysUnder(metricsDir).map((key) => ({ key, value: 0, timestamp: 0, step: 0 }));
    return { info, data: { params: keyValuesUnder(join(dir, 'params')), tags: keyValuesUnder(join(dir, 'tags')), metrics } };
  }

  private runFolder(runId: string): string {
    const dir = this.runFolders.get(runId);
    if (dir === undefined) throw new FileStoreError(`no run ${runId} was read from ${this.root}`);
    return dir;
  }

  /** Where a run's artifacts lie, when that is a local folder that exists. */
  private artifactRoot(run: MlflowRunInfo): string | null {
    const uri = run.artifact_uri ?? '';
    const candidates: string[] = [];
    if (uri.startsWith('file:')) candidates.push(fileURLToPath(uri));
    else if (uri.startsWith('/')) candidates.push(uri);
    const dir = this.runFolders.get(run.run_id);
    if (dir !== undefined) candidates.push(join(dir, 'artifacts'));
    return candidates.find((path) => existsSync(path) && statSync(path).isDirectory()) ?? null;
  }
}

function statusOf(value: unknown): MlflowRunStatus {
  if (typeof value === 'number') return STATUS_NUMBERS[value] ?? 'RUNNING';
  const text = String(value ?? '').toUpperCase();
  if (/^\d+$/.test(text)) return STATUS_NUMBERS[Number(text)] ?? 'RUNNING';
  return STATUS_NAMES.includes(text) ? (text as MlflowRunStatus) : 'RUNNING';
}

/** @throws FileStoreError naming the file when it is not YAML or not a mapping. */
function readMeta(path: string): Record<string, unknown> {
  let meta: unknown;
  try {
    meta = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new FileStoreError(`${path}: ${(error as Error).message}`);
  }
  if (meta === null || meta === undefined) return {};
  if (typeof meta !== 'object' || Array.isArray(meta)) throw new FileStoreError(`${path} is not a YAML mapping`);
  return meta as Record<string, unknown>;
}

/** Every file under a folder (none when it is missing), depth first, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** The keys of a params/, tags/ or metrics/ folder: file paths relative to it, `/`-separated. */
function keysUnder(dir: string): string[] {
  return filesUnder(dir).map((path) => relative(dir, path).split(sep).join('/'));
}

function keyValuesUnder(dir: string): MlflowKeyValue[] {
  return keysUnder(dir).map((key) => ({ key, value: readFileSync(join(dir, ...key.split('/')), 'utf8') }));
}
