import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { DeployForm, DeployPlanView, DeployProgressView, DeployResultView, DeploymentsView, ensureDeployStyles, ensureStyleSheet, modelChoices, type ModelChoice } from '@opsbook/core/views';
import type {
  Deployment,
  DeploymentAction,
  DeploymentActionResult,
  DeployPlan,
  DeployProgress,
  DeployRequest,
  DeployResult,
  Endpoint,
  KubeContexts,
  ModelList,
} from '@opsbook/schema';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';

/** The daemon's deploy operations (and the model lists), as the Deploy section calls them. */
export interface DeployApi {
  /** `POST /deploy/plan`. @throws OpsbookApiError */
  plan(request: DeployRequest): Promise<DeployPlan>;
  /** `POST /deploy`: refusals and conflicts are answers. @throws OpsbookApiError (503 no cluster) */
  apply(request: DeployRequest): Promise<DeployResult>;
  /** `GET /deploy/contexts`. @throws OpsbookApiError */
  contexts(): Promise<KubeContexts>;
  /** `GET /deployments?live=true`. @throws OpsbookApiError */
  list(): Promise<Deployment[]>;
  /** `POST /deployments/{name}/promote`. @throws OpsbookApiError (409 no canary) */
  promote(name: string, body: DeploymentAction): Promise<DeploymentActionResult>;
  /** `POST /deployments/{name}/rollback`. @throws OpsbookApiError (409 nothing to return to) */
  rollback(name: string, body: DeploymentAction): Promise<DeploymentActionResult>;
  /** `DELETE /deployments/{name}`. @throws OpsbookApiError */
  remove(name: string, where: { namespace: string; context?: string }): Promise<DeploymentActionResult>;
  /** `GET /models`. @throws OpsbookApiError */
  listModels(): Promise<ModelList>;
  /** `GET /serve/endpoints`. @throws OpsbookApiError */
  listEndpoints(): Promise<Endpoint[]>;
  /**
   * Follows `event: deploy`; `onOpen` once the stream is open.
   * @returns a function that stops following
   */
  follow(onDeploy: (progress: DeployProgress) => void, onOpen?: () => void): () => void;
}

/**
 * How often the deployments are read while the section is visible and lists some: their pods change
 * on their own, and no event says so. With none listed nothing is read until the section is shown
 * again or refreshed, so a page at rest makes no request.
 */
export const POLL_MS = 4000;
/** How long a deploy waits for its progress stream to open before it is sent anyway (its first events may then be missed). */
const STREAM_OPEN_WAIT_MS = 3000;
/**
 * How long the section lets a rollout take before answering: under the 120 s the Jupyter server's
 * proxy allows one request; a slower rollout goes on, and the deployments list keeps showing it.
 */
export const ROLLOUT_TIMEOUT_S = 100;

type Listing<T> = { kind: 'loading' } | { kind: 'ready'; value: T } | { kind: 'error'; message: string };

/** What the section shows below the form: the last preview, or the last deploy's progress and result. */
type Outcome = { kind: 'none' } | { kind: 'plan'; plan: DeployPlan } | { kind: 'deploying'; jobId: string; name: string } | { kind: 'result'; result: DeployResult };

/**
 * The "Deploy" section of the Opsbook sidebar: pick a registered or served model, a kubeconfig
 * context and the deployment's shape; Preview shows the gates, the manifests and their diff against
 * the cluster; Deploy applies and watches the rollout (progress from `event: deploy`, on a stream
 * open only while the deploy runs); a refused gate
 * can be overridden after a confirm. Below, the recorded deployments with live status, read every
 * few seconds while the section is visible and lists some, and after each action.
 */
export class DeployPanel extends ReactWidget {
  private modelsState: Listing<ModelChoice[]> = { kind: 'loading' };
  private contextsState: Listing<KubeContexts> = { kind: 'loading' };
  private deploymentsState: Listing<Deployment[]> = { kind: 'loading' };
  private outcomeState: Outcome = { kind: 'none' };
  private progressState: DeployProgress | null = null;
  private busyState: 'preview' | 'deploy' | null = null;
  private lastProblem: string | null = null;
  private lastRequest: DeployRequest | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly signal = new Signal<DeployPanel, void>(this);
  private readonly deploymentsReading = new RepeatingTask(
    () => this.readDeployments(),
    () => this.isDisposed,
  );

  constructor(readonly api: DeployApi) {
    super();
    this.id = 'opsbook-deploy';
    this.addClass('opsbook-DeployPanel');
    this.title.label = 'Deploy';
    this.title.caption = 'Deploy models to Kubernetes: preview, apply, watch the rollout, canary and rollback';
    ensureStyleSheet('opsbook-deploy-panel', DEPLOY_PANEL_CSS);
    ensureDeployStyles();
  }

  get models(): Listing<ModelChoice[]> {
    return this.modelsState;
  }

  get contexts(): Listing<KubeContexts> {
    return this.contextsState;
  }

  get deployments(): Listing<Deployment[]> {
    return this.deploymentsState;
  }

  get outcome(): Outcome {
    return this.outcomeState;
  }

  /** The progress of the deploy under way, when the daemon sent some. */
  get progress(): DeployProgress | null {
    return this.progressState;
  }

  get busy(): 'preview' | 'deploy' | null {
    return this.busyState;
  }

  /** Why the last preview, deploy or listing failed, in one line, until the next one. */
  get problem(): string | null {
    return this.lastProblem;
  }

  /** Reads the models, the contexts and the deployments again. Never rejects. */
  refresh(): Promise<void> {
    return Promise.all([this.readModels(), this.readContexts(), this.deploymentsReading.run()]).then(() => undefined);
  }

  /** Plans a deployment (nothing is applied). Never rejects: a failure is {@link problem}. */
  async preview(request: DeployRequest): Promise<void> {
    if (this.busyState) return;
    this.start('preview');
    try {
      this.outcomeState = { kind: 'plan', plan: await this.api.plan(request) };
    } catch (reason) {
      this.lastProblem = describeError(reason);
    } finally {
      this.finish();
    }
  }

  /**
   * Applies a deployment and waits for its rollout; `force` after the user confirmed overriding a
   * failed gate. Never rejects: a failure is {@link problem}.
   */
  async deploy(request: DeployRequest): Promise<void> {
    if (this.busyState) return;
    this.start('deploy');
    const jobId = `deploy-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.lastRequest = request;
    this.progressState = null;
    this.outcomeState = { kind: 'deploying', jobId, name: request.name };
    this.emit();
    // A stream of its own only while a deploy runs: the page's one stream stays the runs' at rest.
    let opened: () => void = () => undefined;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const unfollow = this.api.follow((progress) => this.onProgress(progress), opened);
    try {
      await Promise.race([open, new Promise((resolve) => setTimeout(resolve, STREAM_OPEN_WAIT_MS))]);
      const result = await this.api.apply({ ...request, wait: true, timeout_s: ROLLOUT_TIMEOUT_S, job_id: jobId });
      this.outcomeState = { kind: 'result', result };
    } catch (reason) {
      this.lastProblem = describeError(reason);
      this.outcomeState = { kind: 'none' };
    } finally {
      unfollow();
      this.progressState = null;
      this.finish();
      void this.deploymentsReading.run();
    }
  }

  /** Sends the last deploy again with force (the user confirmed). */
  deployAnyway(): Promise<void> {
    return this.lastRequest ? this.deploy({ ...this.lastRequest, force: true }) : Promise.resolve();
  }

  /** Promotes, rolls back or deletes a deployment, then reads the list. @throws OpsbookApiError (its card shows it) */
  async act(action: 'promote' | 'rollback' | 'delete', deployment: Deployment): Promise<DeploymentActionResult> {
    const where = { namespace: deployment.namespace, ...(deployment.context ? { context: deployment.context } : {}) };
    try {
      if (action === 'delete') return await this.api.remove(deployment.name, where);
      const body: DeploymentAction = { ...where, wait: true, timeout_s: ROLLOUT_TIMEOUT_S };
      return await (action === 'promote' ? this.api.promote(deployment.name, body) : this.api.rollback(deployment.name, body));
    } finally {
      await this.deploymentsReading.run();
    }
  }

  protected override onBeforeDetach(msg: Message): void {
    this.stopWatching();
    super.onBeforeDetach(msg);
  }

  // Reads only while shown: nothing for a folded section.
  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
    this.timer ??= setInterval(() => {
      const listed = this.deploymentsState.kind === 'ready' && this.deploymentsState.value.length > 0;
      if (this.isVisible && listed) void this.deploymentsReading.run();
    }, POLL_MS);
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopWatching();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.stopWatching();
    super.dispose();
  }

  protected render(): JSX.Element {
    return <UseSignal signal={this.signal}>{() => <DeploySection panel={this} />}</UseSignal>;
  }

  private onProgress(progress: DeployProgress): void {
    const outcome = this.outcomeState;
    if (outcome.kind !== 'deploying' || outcome.jobId !== progress.job_id) return;
    this.progressState = progress;
    this.emit();
  }

  private start(busy: 'preview' | 'deploy'): void {
    this.busyState = busy;
    this.lastProblem = null;
    this.emit();
  }

  private finish(): void {
    this.busyState = null;
    this.emit();
  }

  private stopWatching(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async readDeployments(): Promise<void> {
    try {
      this.deploymentsState = { kind: 'ready', value: await this.api.list() };
    } catch (reason) {
      this.deploymentsState = { kind: 'error', message: describeError(reason) };
    }
    this.emit();
  }

  private async readContexts(): Promise<void> {
    try {
      this.contextsState = { kind: 'ready', value: await this.api.contexts() };
    } catch (reason) {
      this.contextsState = { kind: 'error', message: describeError(reason) };
    }
    this.emit();
  }

  private async readModels(): Promise<void> {
    const [registry, endpoints] = await Promise.allSettled([this.api.listModels(), this.api.listEndpoints()]);
    if (registry.status === 'rejected') {
      this.modelsState = { kind: 'error', message: describeError(registry.reason) };
    } else {
      this.modelsState = { kind: 'ready', value: modelChoices(registry.value, endpoints.status === 'fulfilled' ? endpoints.value : []) };
    }
    this.emit();
  }

  private emit(): void {
    if (!this.isDisposed) this.signal.emit();
  }
}


function DeploySection({ panel }: { panel: DeployPanel }): JSX.Element {
  const { models, contexts, deployments, outcome } = panel;
  const count = deployments.kind === 'ready' ? deployments.value.length : null;
  return (
    <div className="opsbook-DeployPanel-body opsbook-view">
      <div className="opsbook-DeployPanel-headRow">
        <span className="opsbook-Deploy-hint">{count === null ? '' : `${count} deployment${count === 1 ? '' : 's'}`}</span>
        <button type="button" className="opsbook-DeployPanel-refresh" title="List the models, the kubeconfig contexts and the deployments again" onClick={() => void panel.refresh()}>
          Refresh
        </button>
      </div>
      <section aria-label="New deployment">
        <DeployForm
          models={models.kind === 'ready' ? models.value : []}
          modelsError={models.kind === 'error' ? models.message : undefined}
          contexts={contexts.kind === 'ready' ? contexts.value : undefined}
          contextsError={contexts.kind === 'error' ? contexts.message : undefined}
          busy={panel.busy}
          onPreview={(request) => void panel.preview(request)}
          onDeploy={(request) => void panel.deploy(request)}
        />
      </section>
      {panel.problem && (
        <p className="opsbook-Deploy-error opsbook-DeployPanel-problem" role="alert">
          {panel.problem}
        </p>
      )}
      {outcome.kind === 'deploying' && (
        <section aria-label="Rollout" className="opsbook-Deploy">
          {panel.progress ? <DeployProgressView progress={panel.progress} /> : <p className="opsbook-Deploy-hint" role="status">{`Deploying ${outcome.name}…`}</p>}
        </section>
      )}
      {outcome.kind === 'plan' && <DeployPlanView plan={outcome.plan} />}
      {outcome.kind === 'result' && <DeployResultView result={outcome.result} onForce={outcome.result.status === 'refused' ? () => void panel.deployAnyway() : undefined} />}
      <section aria-label="Deployments" className="opsbook-DeployPanel-deployments">
        <h4 className="opsbook-DeployPanel-subheading">Deployments</h4>
        <DeploymentsView
          deployments={deployments.kind === 'ready' ? deployments.value : undefined}
          error={deployments.kind === 'error' ? deployments.message : undefined}
          empty="No deployment yet: deploy a model above."
          onPromote={(d) => panel.act('promote', d)}
          onRollback={(d) => panel.act('rollback', d)}
          onDelete={(d) => panel.act('delete', d)}
        />
      </section>
    </div>
  );
}

const DEPLOY_PANEL_CSS = `
.opsbook-DeployPanel { background: var(--jp-layout-color1); overflow: auto; color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1); min-height: 120px; }
.opsbook-DeployPanel-body { display: flex; flex-direction: column; gap: 8px; padding: 6px 8px 12px; }
.opsbook-DeployPanel-headRow { display: flex; justify-content: space-between; align-items: center; }
.opsbook-DeployPanel-subheading { margin: 4px 0 2px; font-size: var(--jp-ui-font-size1); font-weight: 600; color: var(--jp-ui-font-color2); }
.opsbook-DeployPanel button.opsbook-DeployPanel-refresh { font: inherit; color: var(--jp-ui-font-color1); background: var(--jp-layout-color1); border: 1px solid var(--jp-border-color1); border-radius: 2px; padding: 1px 8px; cursor: pointer; }
.opsbook-DeployPanel button.opsbook-DeployPanel-refresh:hover { background: var(--jp-layout-color2); }
.opsbook-DeployPanel button.opsbook-DeployPanel-refresh:focus-visible { outline: 2px solid var(--jp-brand-color1); outline-offset: 1px; }
`;
