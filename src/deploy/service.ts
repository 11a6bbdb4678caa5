import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type {
  CheckResult,
  DataSource,
  DeployModel,
  DeployPlan,
  DeployProgress,
  DeployRequest,
  DeployResult,
  Deployment,
  DeploymentAction,
  DeploymentActionResult,
  DeploymentList,
  GateOutcome,
  KubeObject,
  LiveStatus,
  ModelResolution,
  Rollout,
} from '@opsbook/schema';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import type { SqlRow, Store } from '../store/store';
import { ClusterRejectedError, NoClusterError, objectName, openCluster, type Cluster } from './cluster';
import { deploymentNames, renderManifests, settingsOf, type DeploySettings, type MainState } from './manifests';

/** A registry model's parity check fails above this max |diff| (opsbook.PARITY_TOLERANCE in the Python package). */
export const PARITY_TOLERANCE = 1e-4;

/** What the deploy capability needs from the others; the daemon provides it. */
export interface DeployEnvironment {
  /** Resolves a model reference through the registry (or a path). */
  resolveModel(ref: string): Promise<ModelResolution>;
  /**
   * The recorded results of a suite (by the suite's name) on data with this fingerprint hash, newest first.
   */
  recordedResults(suiteName: string, fingerprintHash: string): Promise<CheckResult[]>;
  /** Loads a suite file: its name and content. @throws BadInputError (field gate.suite) */
  loadSuite(path: string): Promise<{ name: string; run: (data: DataSource) => Promise<CheckResult> }>;
  /** Sends `event: deploy`. */
  progress(event: DeployProgress): void;
  /** Writes the deployment as artifact `deployments/<namespace>/<name>.json` on the model's run (best effort). */
  recordOnRun?(runId: string, deployment: Deployment): Promise<void>;
  /** The kubeconfig's cluster for a context (tests give a fake API server's). */
  openCluster?(context?: string): Cluster;
}

interface Row {
  name: string;
  namespace: string;
  context: string | null;
  target: 'deployment' | 'kserve';
  model: DeployModel;
  request: DeployRequest;
  canary: { percent: number; model: DeployModel; request: DeployRequest } | null;
  forced: boolean;
  failedGates: GateOutcome[];
  createdMs: number;
  updatedMs: number;
}

/**
 * Deploys models to Kubernetes: renders manifests, evaluates gates, applies them server-side, watches
 * rollouts, and records each deployment (table `deployments`) against its model's run.
 */
export class DeployService {
  constructor(
    private readonly store: Store,
    private readonly env: DeployEnvironment,
  ) {}

  private cluster(context?: string | null): Cluster {
    return (this.env.openCluster ?? openCluster)(context ?? undefined);
  }

  /**
   * The manifests, gates and (when a cluster answers) the changes applying would make.
   * @throws BadInputError, NotFoundError for the model or the gate's suite and data.
   */
  async plan(request: DeployRequest): Promise<DeployPlan> {
    const { plan } = await this.prepare(request, 'plan');
    return plan;
  }

  private async prepare(request: DeployRequest, mode: 'plan' | 'apply'): Promise<{ plan: DeployPlan; settings: DeploySettings; model: DeployModel; cluster: Cluster | null; record: Row | null }> {
    const resolution = await this.env.resolveModel(request.model);
    const model = await describeModel(resolution);
    const settings = settingsOf(request, model);
    const record = await this.row(settings.name, settings.namespace);
    const main = settings.canary !== null && record ? mainState(record) : undefined;
    if (settings.canary !== null && record && record.target !== settings.target) {
      throw new BadInputError('target', settings.target, `${settings.name} was deployed with target ${record.target}; its canary must use the same target`);
    }
    const manifests = settings.target === 'kserve' && settings.canary !== null && !record
      ? (() => {
          throw new BadInputError('canary', settings.canary, `no deployment ${settings.name} was recorded in namespace ${settings.namespace} to put a canary beside; deploy it first without canary`);
        })()
      : renderManifests(settings, model, main);
    const gates = await this.gates(request, resolution);
    const failed = gates.some((gate) => gate.status === 'fail');
    let cluster: Cluster | null = null;
    let info: DeployPlan['cluster'] = { reachable: false, context: request.context ?? null, server: null, message: null };
    let changes: DeployPlan['changes'] = null;
    try {
      cluster = this.cluster(request.context);
      info = { reachable: false, context: cluster.context, server: cluster.server, message: null };
      await cluster.ensureReachable();
      info.reachable = true;
      changes = await cluster.plan(manifests, request.force_conflicts === true);
    } catch (error) {
      // A plan works without a cluster (it says why none was compared); an apply cannot.
      if (!(error instanceof NoClusterError) || mode === 'apply') throw asApiError(error);
      info.message = error.message;
      cluster = null;
    }
    const plan: DeployPlan = {
      name: settings.name,
      namespace: settings.namespace,
      target: settings.target,
      model,
      manifests,
      gates,
      refused: failed && request.force !== true,
      changes,
      cluster: info,
    };
    return { plan, settings, model, cluster, record };
  }

  /** Registry parity, then the data-quality suite when one is given. */
  private async gates(request: DeployRequest, resolution: ModelResolution): Promise<GateOutcome[]> {
    const gates: GateOutcome[] = [];
    const version = resolution.version;
    if (!version) {
      gates.push({ gate: 'parity', status: 'skipped', message: `${request.model} is a file, not a registered model: no parity check was recorded for it` });
    } else if (version.parity_max_abs_diff === null) {
      gates.push({ gate: 'parity', status: 'fail', message: `${version.name}:${version.version} has no parity check recorded (register it with opsbook.log_model, which checks onnxruntime against the original model)`, failing_checks: ['parity'] });
    } else if (!(version.parity_max_abs_diff <= PARITY_TOLERANCE)) {
      gates.push({ gate: 'parity', status: 'fail', message: `${version.name}:${version.version} failed its parity check: max |diff| ${version.parity_max_abs_diff.toExponential(2)} > ${PARITY_TOLERANCE}`, failing_checks: ['parity'] });
    } else {
      gates.push({ gate: 'parity', status: 'pass', message: `parity max |diff| ${version.parity_max_abs_diff.toExponential(2)} ≤ ${PARITY_TOLERANCE}` });
    }
    if (request.gate) gates.push(await this.qualityGate(request.gate, resolution));
    return gates;
  }

  private async qualityGate(gate: NonNullable<DeployRequest['gate']>, resolution: ModelResolution): Promise<GateOutcome> {
    const suite = await this.env.loadSuite(gate.suite);
    if (gate.data) {
      const result = await suite.run(gate.data);
      return outcomeOf(suite.name, result, `on ${gate.data.label ?? gate.data.path}`);
    }
    const fingerprint = resolution.version?.data_fingerprint ?? null;
    if (!fingerprint) {
      return {
        gate: 'quality',
        status: 'fail',
        suite: suite.name,
        message: `suite ${suite.name}: ${resolution.version ? `${resolution.version.name}:${resolution.version.version} has no training-data fingerprint recorded` : `${resolution.ref} is a file with no training data recorded`}; name the data with --gate-data`,
        failing_checks: ['training data'],
      };
    }
    const [latest] = await this.env.recordedResults(suite.name, fingerprint.hash);
    if (!latest) {
      return {
        gate: 'quality',
        status: 'fail',
        suite: suite.name,
        message: `suite ${suite.name} has no result recorded on the training data (${fingerprint.rows} rows, ${fingerprint.hash.slice(0, 19)}…): check that data against a run (opsbook check DATA --suite FILE --run RUN, or %check) or give --gate-data`,
        failing_checks: ['no result on the training data'],
      };
    }
    return outcomeOf(suite.name, latest, `on the training data (recorded on run ${latest.run_id ?? '?'})`);
  }

  /**
   * Deploys: refuses on a failed gate (unless force), applies (stopping at a conflict), records, and
   * watches the rollout unless `wait` is false.
   * @throws NoClusterError (503) when no cluster is configured or reachable.
   */
  async apply(request: DeployRequest): Promise<DeployResult> {
    const jobId = request.job_id;
    const step = (phase: DeployProgress['phase'], done: number, total: number, message?: string): void => {
      if (jobId) this.env.progress({ job_id: jobId, name: request.name, phase, done, total, ...(message ? { message } : {}) });
    };
    try {
      step('gates', 0, 1);
      const { plan, settings, model, cluster, record } = await this.prepare(request, 'apply');
      if (plan.refused) {
        const failing = plan.gates.filter((gate) => gate.status === 'fail');
        step('failed', 1, 1, `refused: ${failing.map((gate) => gate.message).join('; ')}`);
        return { status: 'refused', plan, deployment: null, rollout: null };
      }
      if (plan.changes?.some((change) => change.action === 'conflict')) {
        step('failed', 1, 1, 'conflict');
        return { status: 'conflict', plan, deployment: null, rollout: null };
      }
      step('apply', 0, plan.manifests.length);
      const { conflict } = await cluster!.apply(plan.manifests, request.force_conflicts === true);
      if (conflict) {
        step('failed', 1, 1, conflict.message);
        return { status: 'conflict', plan: { ...plan, changes: mergeConflict(plan.changes, conflict) }, deployment: null, rollout: null };
      }
      // A deployment applied without a canary ends any canary it had.
      if (settings.canary === null && settings.target === 'deployment' && record?.canary) {
        await cluster!.remove({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: deploymentNames(settings.name).canary, namespace: settings.namespace } });
      }
      step('apply', plan.manifests.length, plan.manifests.length);
      const failedGates = plan.gates.filter((gate) => gate.status === 'fail');
      await this.record(settings, model, request, cluster!.context, record, failedGates);
      const rollout = await this.watch(request, settings, cluster!, step);
      const deployment = await this.describe(settings.name, settings.namespace, null);
      if (model.run_id) await this.env.recordOnRun?.(model.run_id, deployment);
      return { status: 'applied', plan, deployment, rollout };
    } catch (error) {
      step('failed', 1, 1, error instanceof Error ? error.message : String(error));
      throw asApiError(error);
    }
  }

  private async watch(
    request: { wait?: boolean; timeout_s?: number },
    settings: Pick<DeploySettings, 'name' | 'namespace' | 'target'>,
    cluster: Cluster,
    step: (phase: DeployProgress['phase'], done: number, total: number, message?: string) => void,
    canary?: boolean,
  ): Promise<Rollout> {
    if (request.wait === false) {
      step('done', 1, 1, 'applied; rollout not watched');
      return { state: 'not_watched', seconds: 0, message: null, events: [] };
    }
    const row = await this.row(settings.name, settings.namespace);
    const canaryName = canary ?? row?.canary ? deploymentNames(settings.name).canary : null;
    const rollout = await cluster.watchRollout(settings.namespace, settings.name, settings.target, canaryName, {
      timeoutMs: (request.timeout_s ?? 300) * 1000,
      onProgress: (status: LiveStatus) => step('rollout', status.ready, status.desired, status.message ?? `${status.ready}/${status.desired} ready`),
    });
    step(rollout.state === 'available' ? 'done' : 'failed', 1, 1, rollout.message ?? `rollout ${rollout.state} in ${rollout.seconds.toFixed(1)} s`);
    return rollout;
  }

  private async record(settings: DeploySettings, model: DeployModel, request: DeployRequest, context: string, previous: Row | null, failedGates: GateOutcome[]): Promise<void> {
    const now = Date.now();
    const stored: DeployRequest = withoutTransient(request);
    const isCanary = settings.canary !== null;
    const row: Row = isCanary && previous
      ? { ...previous, canary: { percent: settings.canary!, model, request: stored }, forced: previous.forced || request.force === true, failedGates: [...previous.failedGates, ...failedGates], updatedMs: now }
      : {
          name: settings.name,
          namespace: settings.namespace,
          context,
          target: settings.target,
          model,
          request: stored,
          canary: null,
          forced: request.force === true && failedGates.length > 0,
          failedGates,
          createdMs: previous?.createdMs ?? now,
          updatedMs: now,
        };
    await this.save(row);
  }

  private async save(row: Row): Promise<void> {
    await this.store.transaction((db) =>
      db.run(
        `INSERT OR REPLACE INTO deployments (name, namespace, context, target, model, run_id, request, canary, forced, failed_gates, created_ms, updated_ms, deleted_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)`,
        [
          row.name,
          row.namespace,
          row.context,
          row.target,
          JSON.stringify(row.model),
          row.model.run_id,
          JSON.stringify(row.request),
          row.canary ? JSON.stringify(row.canary) : null,
          row.forced,
          JSON.stringify(row.failedGates),
          row.createdMs,
          row.updatedMs,
        ],
      ),
    );
  }

  private async row(name: string, namespace: string): Promise<Row | null> {
    const [row] = await this.store.read((db) => db.all('SELECT * FROM deployments WHERE name = $1 AND namespace = $2 AND deleted_ms IS NULL', [name, namespace]));
    return row ? rowOf(row) : null;
  }

  /** The one live record of this name (in `namespace` when given). @throws NotFoundError; BadInputError when several namespaces hold it. */
  private async find(name: string, namespace?: string): Promise<Row> {
    const rows = (await this.store.read((db) => db.all('SELECT * FROM deployments WHERE name = $1 AND deleted_ms IS NULL ORDER BY updated_ms DESC', [name]))).map(rowOf);
    const matching = namespace ? rows.filter((row) => row.namespace === namespace) : rows;
    if (matching.length === 0) throw new NotFoundError('name', name, `no deployment ${JSON.stringify(name)}${namespace ? ` in namespace ${namespace}` : ''} was recorded in this workspace`);
    if (matching.length > 1) throw new BadInputError('namespace', null, `${name} is deployed in namespaces ${matching.map((row) => row.namespace).join(', ')}: name one`);
    return matching[0];
  }

  /** The recorded deployments, newest first; with `live`, each cluster asked for its status. */
  async list(options: { live?: boolean; runId?: string } = {}): Promise<DeploymentList> {
    const rows = (await this.store.read((db) =>
      options.runId
        ? db.all('SELECT * FROM deployments WHERE deleted_ms IS NULL AND run_id = $1 ORDER BY updated_ms DESC', [options.runId])
        : db.all('SELECT * FROM deployments WHERE deleted_ms IS NULL ORDER BY updated_ms DESC'),
    )).map(rowOf);
    const deployments = await Promise.all(rows.map((row) => (options.live ? this.withLive(row, false) : Promise.resolve(deploymentOf(row, null)))));
    return { deployments };
  }

  /** One record with its live status. @throws NotFoundError; NoClusterError when its cluster cannot be asked. */
  async get(name: string, namespace?: string): Promise<Deployment> {
    return this.withLive(await this.find(name, namespace), true);
  }

  private async describe(name: string, namespace: string, live: LiveStatus | null): Promise<Deployment> {
    const row = await this.row(name, namespace);
    if (!row) throw new NotFoundError('name', name, `no deployment ${name} in ${namespace}`);
    return live ? deploymentOf(row, live) : this.withLive(row, false);
  }

  private async withLive(row: Row, strict: boolean): Promise<Deployment> {
    try {
      const cluster = this.cluster(row.context);
      await cluster.ensureReachable(3000);
      const live = await cluster.status(row.namespace, row.name, row.target, row.canary && row.target === 'deployment' ? deploymentNames(row.name).canary : null);
      return deploymentOf(row, live);
    } catch (error) {
      if (strict && error instanceof NoClusterError) throw error;
      return { ...deploymentOf(row, null), live_error: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Promotes the canary: the main deployment takes its model with all its replicas; the canary goes.
   * @throws ConflictError (field name) when there is no canary.
   */
  async promote(name: string, action: DeploymentAction): Promise<DeploymentActionResult> {
    const row = await this.find(name, action.namespace);
    if (!row.canary) throw new ConflictError('name', name, `${name} has no canary to promote`);
    const cluster = this.cluster(action.context ?? row.context);
    await cluster.ensureReachable();
    const request: DeployRequest = { ...row.request, ...pickModelFields(row.canary.request), model: row.canary.model.ref, canary: undefined };
    const settings = settingsOf(request, row.canary.model);
    const manifests = renderManifests({ ...settings, canary: null }, row.canary.model);
    await this.applyOrThrow(cluster, manifests);
    if (row.target === 'deployment') await cluster.remove(canaryObject(row));
    await this.save({ ...row, model: row.canary.model, request: withoutTransient(request), canary: null, updatedMs: Date.now() });
    const rollout = await this.watch(action, row, cluster, this.stepper(action, name), false);
    return { action: 'promote', deployment: await this.describe(row.name, row.namespace, null), rollout, deleted: row.target === 'deployment' ? [`Deployment/${deploymentNames(name).canary}`] : [] };
  }

  /**
   * Rolls back: a canary is removed (the main deployment back to all replicas); without one, the
   * Deployment returns to its previous revision's pod template (KServe: the previous model).
   * @throws ConflictError (field name) when there is nothing to return to.
   */
  async rollback(name: string, action: DeploymentAction): Promise<DeploymentActionResult> {
    const row = await this.find(name, action.namespace);
    const cluster = this.cluster(action.context ?? row.context);
    await cluster.ensureReachable();
    const step = this.stepper(action, name);
    if (row.canary) {
      const manifests = renderManifests(settingsOf({ ...row.request, canary: undefined }, row.model), row.model);
      await this.applyOrThrow(cluster, manifests);
      if (row.target === 'deployment') await cluster.remove(canaryObject(row));
      await this.save({ ...row, canary: null, updatedMs: Date.now() });
      const rollout = await this.watch(action, row, cluster, step, false);
      return { action: 'rollback', deployment: await this.describe(row.name, row.namespace, null), rollout, deleted: row.target === 'deployment' ? [`Deployment/${deploymentNames(name).canary}`] : [], message: `canary of ${row.canary.model.ref} removed; ${row.model.ref} takes all traffic` };
    }
    if (row.target === 'kserve') throw new ConflictError('name', name, `${name} has no canary; KServe keeps no previous revision Opsbook can return to: deploy the previous model again`);
    const previous = await cluster.previousTemplate(row.namespace, row.name);
    if (!previous) throw new ConflictError('name', name, `${name} has no previous revision to return to`);
    const [main, ...rest] = renderManifests(settingsOf(row.request, row.model), row.model);
    const restored = { ...main, spec: { ...(main as unknown as { spec: Record<string, unknown> }).spec, template: previous.template } } as KubeObject;
    const annotations = ((previous.template.metadata ?? {}) as { annotations?: Record<string, string> }).annotations ?? {};
    restored.metadata = { ...restored.metadata, annotations: { ...(restored.metadata as { annotations?: Record<string, string> }).annotations, 'opsbook.dev/model': annotations['opsbook.dev/model'] ?? '', 'opsbook.dev/model-sha256': annotations['opsbook.dev/model-sha256'] ?? '' } } as KubeObject['metadata'];
    await this.applyOrThrow(cluster, [restored, ...rest]);
    const model: DeployModel = { ...row.model, ref: annotations['opsbook.dev/model'] ?? row.model.ref, sha256: annotations['opsbook.dev/model-sha256'] ?? row.model.sha256 };
    const registry = /^([^:@/]+):(\d+)$/.exec(model.ref);
    await this.save({ ...row, model: { ...model, name: registry ? registry[1] : model.name, version: registry ? Number(registry[2]) : model.version }, request: { ...row.request, model: model.ref }, updatedMs: Date.now() });
    const rollout = await this.watch(action, row, cluster, step, false);
    return { action: 'rollback', deployment: await this.describe(row.name, row.namespace, null), rollout, deleted: [], message: `returned to revision ${previous.revision} (${model.ref})` };
  }

  /** Deletes what Opsbook created for a deployment (by its labels) and marks the record deleted. */
  async delete(name: string, options: { namespace?: string; context?: string }): Promise<DeploymentActionResult> {
    const row = await this.find(name, options.namespace);
    const cluster = this.cluster(options.context ?? row.context);
    await cluster.ensureReachable();
    const deleted = await cluster.deleteLabelled(row.namespace, row.name).catch((error: unknown) => {
      throw asApiError(error);
    });
    const now = Date.now();
    await this.store.transaction((db) => db.run('UPDATE deployments SET deleted_ms = $1, updated_ms = $1 WHERE name = $2 AND namespace = $3', [now, row.name, row.namespace]));
    const live: LiveStatus = { state: 'absent', ready: 0, desired: 0, revision: null, canary: null, url: null, message: 'deleted', events: [] };
    return { action: 'delete', deployment: { ...deploymentOf(row, live), updated_at: new Date(now).toISOString() }, rollout: null, deleted };
  }

  private stepper(action: DeploymentAction, name: string) {
    return (phase: DeployProgress['phase'], done: number, total: number, message?: string): void => {
      if (action.job_id) this.env.progress({ job_id: action.job_id, name, phase, done, total, ...(message ? { message } : {}) });
    };
  }

  private async applyOrThrow(cluster: Cluster, manifests: KubeObject[]): Promise<void> {
    const { conflict } = await cluster.apply(manifests, false).catch((error: unknown) => {
      throw asApiError(error);
    });
    if (conflict) {
      throw new ConflictError('name', conflict.object, `${conflict.message} (${conflict.conflicts.map((c) => `${c.field} owned by ${c.manager}`).join(', ')}); resolve it, or deploy again with --force-conflicts`);
    }
  }
}

function canaryObject(row: Row): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: deploymentNames(row.name).canary, namespace: row.namespace } };
}

function pickModelFields(request: DeployRequest): Partial<DeployRequest> {
  return {
    ...(request.model_url !== undefined ? { model_url: request.model_url, model_pvc: undefined } : {}),
    ...(request.model_pvc !== undefined ? { model_pvc: request.model_pvc, model_url: undefined } : {}),
    ...(request.image !== undefined ? { image: request.image } : {}),
  };
}

function withoutTransient(request: DeployRequest): DeployRequest {
  const { job_id: _job, wait: _wait, timeout_s: _timeout, force_conflicts: _fc, ...rest } = request;
  return rest;
}

function mainState(row: Row): MainState {
  return { model: row.model, settings: settingsOf({ ...row.request, canary: undefined }, row.model) };
}

function mergeConflict(changes: DeployPlan['changes'], conflict: { object: string; conflicts: { field: string; manager: string }[] }): DeployPlan['changes'] {
  return (changes ?? []).map((change) => (`${change.kind}/${change.name}` === conflict.object ? { ...change, action: 'conflict', conflicts: conflict.conflicts } : change));
}

function outcomeOf(suite: string, result: CheckResult, where: string): GateOutcome {
  const failing = result.checks.filter((check) => check.status !== 'pass').map((check) => `${check.check}${check.column ? `(${check.column})` : ''}`);
  return {
    gate: 'quality',
    status: result.status === 'pass' ? 'pass' : 'fail',
    suite,
    message: result.status === 'pass' ? `suite ${suite} passed ${where}` : `suite ${suite} failed ${where}: ${failing.join(', ')}`,
    ...(failing.length ? { failing_checks: failing } : {}),
    ...(result.run_id ? { result_run_id: result.run_id } : {}),
  };
}

/** The model as a deployment refers to it: exact registry version, file hash and size. */
async function describeModel(resolution: ModelResolution): Promise<DeployModel> {
  const sha256 = await new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(resolution.path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
  const version = resolution.version;
  return {
    ref: version ? `${version.name}:${version.version}` : resolution.path,
    name: version?.name ?? null,
    version: version?.version ?? null,
    run_id: version?.run_id ?? null,
    sha256,
    bytes: statSync(resolution.path).size,
    path: resolution.path,
  };
}

function rowOf(row: SqlRow): Row {
  return {
    name: String(row.name),
    namespace: String(row.namespace),
    context: row.context === null ? null : String(row.context),
    target: String(row.target) as Row['target'],
    model: JSON.parse(String(row.model)) as DeployModel,
    request: JSON.parse(String(row.request)) as DeployRequest,
    canary: row.canary === null ? null : (JSON.parse(String(row.canary)) as Row['canary']),
    forced: Boolean(row.forced),
    failedGates: JSON.parse(String(row.failed_gates)) as GateOutcome[],
    createdMs: Number(row.created_ms),
    updatedMs: Number(row.updated_ms),
  };
}

function deploymentOf(row: Row, live: LiveStatus | null): Deployment {
  const settings = settingsOf({ ...row.request, canary: undefined }, row.model);
  return {
    name: row.name,
    namespace: row.namespace,
    context: row.context,
    target: row.target,
    model_ref: row.model.ref,
    model_name: row.model.name,
    model_version: row.model.version,
    run_id: row.model.run_id,
    image: settings.image,
    replicas: settings.replicas,
    gpu: settings.gpu,
    canary: row.canary ? { percent: row.canary.percent, model_ref: row.canary.model.ref } : null,
    forced: row.forced,
    failed_gates: row.failedGates,
    created_at: new Date(row.createdMs).toISOString(),
    updated_at: new Date(row.updatedMs).toISOString(),
    live,
  };
}

/** Cluster errors as the daemon answers them: a refused manifest is bad input (400). */
function asApiError(error: unknown): unknown {
  if (error instanceof ClusterRejectedError) return new BadInputError('manifests', error.object, error.message);
  return error;
}

export { objectName };
