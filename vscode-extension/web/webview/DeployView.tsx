import {
  DeployForm,
  DeployPlanView,
  DeployProgressView,
  DeployResultView,
  DeploymentsView,
  ensureDeployStyles,
  modelChoices,
  suggestedName,
  type ModelChoice,
} from '@opsbook/core/views';
import type { Deployment, DeploymentAction, DeploymentActionResult, DeployPlan, DeployProgress, DeployRequest, DeployResult, Endpoint, KubeContexts } from '@opsbook/schema';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ViewContext } from './App';

/** How often the deployments are read while the panel shows: pods change on the cluster's own time. */
export const POLL_MS = 10_000;
/**
 * How long a deploy from the panel lets the rollout take before answering: under the 300 s after
 * which the host's fetch (Node's undici) gives up waiting for an answer's headers. A slower rollout
 * goes on, and the deployments list keeps showing it.
 */
export const ROLLOUT_TIMEOUT_S = 240;

type Listing<T> = { kind: 'loading' } | { kind: 'ready'; value: T } | { kind: 'error'; message: string };

/** What the panel shows below the form: the last preview, or the last deploy's progress and result. */
type Outcome = { kind: 'none' } | { kind: 'plan'; plan: DeployPlan } | { kind: 'deploying'; jobId: string; name: string } | { kind: 'result'; result: DeployResult };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}


/** A fresh job id for `event: deploy` (the contract's pattern: letters, digits, `_` and `-`). */
function newJobId(): string {
  return `vscode-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * The Deploy panel: the shared deploy form (model, kubeconfig context, namespace, name, image,
 * replicas, GPUs, target, canary, gate), Preview (gates, per-manifest diff against the cluster, YAML),
 * Deploy (progress from `event: deploy`, then the rollout's result; a refused gate can be overridden
 * after the view's inline confirm), and the recorded deployments with live status and
 * Promote/Rollback/Delete. `model` starts the form with a model; `name` (Show Status) puts that
 * deployment first, above the form.
 */
export function DeployPanelView({ ctx, model, name }: { ctx: ViewContext; model?: string; name?: string }): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const client = ctx.client;
  const [models, setModels] = useState<Listing<ModelChoice[]>>({ kind: 'loading' });
  const [contexts, setContexts] = useState<Listing<KubeContexts>>({ kind: 'loading' });
  const [deployments, setDeployments] = useState<Listing<Deployment[]>>({ kind: 'loading' });
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'none' });
  const [progress, setProgress] = useState<DeployProgress | null>(null);
  const [busy, setBusy] = useState<'preview' | 'deploy' | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const lastRequest = useRef<DeployRequest | null>(null);
  const jobId = useRef<string | null>(null);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );

  const readDeployments = useCallback(async (): Promise<void> => {
    try {
      const { deployments: list } = await client.listDeployments({ live: true });
      // The API's answer type is openapi-typescript's rendering of deploy.schema.json.
      if (mounted.current) setDeployments({ kind: 'ready', value: list as unknown as Deployment[] });
    } catch (error) {
      if (mounted.current) setDeployments({ kind: 'error', message: message(error) });
    }
  }, [client]);

  const refresh = useCallback(async (): Promise<void> => {
    const readModels = async (): Promise<void> => {
      const [registry, endpoints] = await Promise.allSettled([client.listModels(), client.listEndpoints()]);
      if (!mounted.current) return;
      if (registry.status === 'rejected') setModels({ kind: 'error', message: message(registry.reason) });
      else setModels({ kind: 'ready', value: modelChoices(registry.value, endpoints.status === 'fulfilled' ? (endpoints.value.endpoints as unknown as Endpoint[]) : []) });
    };
    const readContexts = async (): Promise<void> => {
      try {
        const value = await client.listKubeContexts();
        if (mounted.current) setContexts({ kind: 'ready', value });
      } catch (error) {
        if (mounted.current) setContexts({ kind: 'error', message: message(error) });
      }
    };
    await Promise.all([readModels(), readContexts(), readDeployments()]);
  }, [client, readDeployments]);

  // Read when shown, then the deployments every POLL_MS: a hidden panel's document is gone (VS Code
  // keeps no context for it), so this polls only while the panel is visible.
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void readDeployments(), POLL_MS);
    return () => clearInterval(timer);
  }, [refresh, readDeployments]);

  // Progress of our own deploy; any deploy job that ends (a promote from the tree, the CLI) changes the list.
  useEffect(
    () =>
      ctx.onEvent((event) => {
        if (event.name !== 'deploy') return;
        const data = event.data as DeployProgress;
        if (data.job_id === jobId.current) setProgress(data);
        if (data.phase === 'done' || data.phase === 'failed') void readDeployments();
      }),
    [ctx, readDeployments],
  );

  const preview = async (request: DeployRequest): Promise<void> => {
    if (busy) return;
    setBusy('preview');
    setProblem(null);
    try {
      const plan = (await client.planDeployment(request)) as unknown as DeployPlan;
      if (mounted.current) setOutcome({ kind: 'plan', plan });
    } catch (error) {
      if (mounted.current) setProblem(message(error));
    } finally {
      if (mounted.current) setBusy(null);
    }
  };

  const deploy = async (request: DeployRequest): Promise<void> => {
    if (busy) return;
    const id = newJobId();
    jobId.current = id;
    lastRequest.current = request;
    setBusy('deploy');
    setProblem(null);
    setProgress(null);
    setOutcome({ kind: 'deploying', jobId: id, name: request.name });
    try {
      const result = (await client.applyDeployment({ ...request, wait: true, timeout_s: ROLLOUT_TIMEOUT_S, job_id: id })) as unknown as DeployResult;
      if (mounted.current) setOutcome({ kind: 'result', result });
    } catch (error) {
      if (mounted.current) {
        setProblem(message(error));
        setOutcome({ kind: 'none' });
      }
    } finally {
      jobId.current = null;
      if (mounted.current) {
        setProgress(null);
        setBusy(null);
      }
      void readDeployments();
    }
  };

  const act = async (action: 'promote' | 'rollback' | 'delete', deployment: Deployment): Promise<DeploymentActionResult> => {
    const where = { namespace: deployment.namespace, ...(deployment.context ? { context: deployment.context } : {}) };
    try {
      if (action === 'delete') return (await client.deleteDeployment(deployment.name, where)) as unknown as DeploymentActionResult;
      const body: DeploymentAction = { ...where, wait: true, timeout_s: ROLLOUT_TIMEOUT_S };
      return (await (action === 'promote' ? client.promoteDeployment(deployment.name, body) : client.rollbackDeployment(deployment.name, body))) as unknown as DeploymentActionResult;
    } finally {
      await readDeployments();
    }
  };

  const initial = useMemo(() => (model ? { model, name: suggestedName(model) } : undefined), [model]);
  const listed = deployments.kind === 'ready' ? deployments.value : undefined;
  const shown = name && listed ? [...listed.filter((d) => d.name === name), ...listed.filter((d) => d.name !== name)] : listed;
  const count = listed ? listed.length : null;

  const deploymentsSection = (
    <section aria-label="Deployments" className="opsbook-webview-deployments">
      <h2>Deployments{count === null ? '' : ` (${count})`}</h2>
      <DeploymentsView
        deployments={shown}
        error={deployments.kind === 'error' ? `Could not list the deployments: ${deployments.message}` : undefined}
        empty="No deployment yet: deploy a model with the form."
        onPromote={(d) => act('promote', d)}
        onRollback={(d) => act('rollback', d)}
        onDelete={(d) => act('delete', d)}
      />
    </section>
  );

  return (
    <div className="opsbook-webview-deploy opsbook-view">
      <div className="opsbook-webview-deploy-head">
        <h1>Deploy to Kubernetes</h1>
        <button type="button" title="List the models, the kubeconfig contexts and the deployments again" onClick={() => void refresh()}>
          Refresh
        </button>
      </div>
      {name && deploymentsSection}
      <section aria-label="New deployment" className="opsbook-webview-deploy-form">
        <DeployForm
          models={models.kind === 'ready' ? models.value : []}
          modelsError={models.kind === 'error' ? `Could not list the models: ${models.message}` : undefined}
          contexts={contexts.kind === 'ready' ? contexts.value : undefined}
          contextsError={contexts.kind === 'error' ? `Could not read the kubeconfig contexts: ${contexts.message}` : undefined}
          busy={busy}
          initial={initial}
          onPreview={(request) => void preview(request)}
          onDeploy={(request) => void deploy(request)}
        />
      </section>
      {problem && (
        <p className="opsbook-Deploy-error opsbook-webview-deploy-problem" role="alert">
          {problem}
        </p>
      )}
      {outcome.kind === 'deploying' && (
        <section aria-label="Rollout" className="opsbook-Deploy">
          {progress ? <DeployProgressView progress={progress} /> : <p className="opsbook-Deploy-hint" role="status">{`Deploying ${outcome.name}…`}</p>}
        </section>
      )}
      {outcome.kind === 'plan' && <DeployPlanView plan={outcome.plan} />}
      {outcome.kind === 'result' && (
        <DeployResultView
          result={outcome.result}
          onForce={outcome.result.status === 'refused' && lastRequest.current ? () => void deploy({ ...lastRequest.current!, force: true }) : undefined}
        />
      )}
      {!name && deploymentsSection}
    </div>
  );
}
