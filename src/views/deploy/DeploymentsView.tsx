import type { Deployment, DeploymentActionResult, LiveStatus } from '@opsbook/schema';
import { useEffect, useState } from 'react';
import { deploymentState, STATE_TEXT } from './deployData';
import { ensureDeployStyles } from './deployStyles';
import { ConfirmButton, PodEventsList, RolloutView } from './DeployResultView';

/** What a view can do with a deployment through the daemon; without them it shows the deployment only. */
export interface DeploymentActions {
  /** `promoteDeployment`: the canary's model takes all traffic. Rejects when the daemon refused. */
  onPromote?(deployment: Deployment): Promise<unknown>;
  /** `rollbackDeployment`: the canary goes, else the previous revision returns. */
  onRollback?(deployment: Deployment): Promise<unknown>;
  /** `deleteDeployment`: removes what Opsbook created (asked first). */
  onDelete?(deployment: Deployment): Promise<unknown>;
}

/** A deployment's live state as colour and text. */
export function DeploymentState({ state }: { state: LiveStatus['state'] }): JSX.Element {
  return <span className={`opsbook-badge opsbook-DeployState opsbook-DeployState-${state}`}>{STATE_TEXT[state] ?? state}</span>;
}

export interface DeploymentCardProps extends DeploymentActions {
  deployment: Deployment;
}

/**
 * One deployment: name, live state, ready/desired pods, its canary (percent, model, pods), model,
 * image and where it runs; the warning events while it fails; Promote (with a canary), Rollback and
 * Delete (asked first).
 */
export function DeploymentCard({ deployment: d, onPromote, onRollback, onDelete }: DeploymentCardProps): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const state = deploymentState(d);
  const live = d.live;
  const canary = canaryLine(d);

  const run = async (what: string, action: ((deployment: Deployment) => Promise<unknown>) | undefined): Promise<void> => {
    if (!action || busy) return;
    setBusy(what);
    setProblem(null);
    try {
      await action(d);
    } catch (reason) {
      setProblem(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(null);
    }
  };

  return (
    <article className="opsbook-Deployment" aria-label={`Deployment ${d.name}`} data-state={state}>
      <header className="opsbook-Deployment-head">
        <h3 className="opsbook-Deployment-name">{d.name}</h3>
        <DeploymentState state={state} />
        {live && (
          <span className="opsbook-Deployment-ready" title="Ready pods / desired pods">
            {live.ready}/{live.desired}
          </span>
        )}
        {d.gpu > 0 && <span className="opsbook-badge opsbook-Action-none">{`${d.gpu} GPU`}</span>}
      </header>
      <p className="opsbook-Deployment-facts">
        {d.model_ref} · {d.namespace}
        {d.context ? ` @ ${d.context}` : ''} · {d.target === 'kserve' ? 'KServe' : 'Deployment'}
        {live?.revision ? ` · revision ${live.revision}` : ''}
      </p>
      <p className="opsbook-Deployment-facts" title="Image">
        {d.image}
      </p>
      {canary && <p className="opsbook-Deployment-canary">{canary}</p>}
      {live?.url && <p className="opsbook-Deployment-facts">{live.url}</p>}
      {d.forced && <p className="opsbook-Deployment-forced">Deployed with force over {d.failed_gates.length} failed gate{d.failed_gates.length === 1 ? '' : 's'}.</p>}
      {live?.message && state !== 'available' && <p className={state === 'failed' ? 'opsbook-Deploy-error' : 'opsbook-Deploy-hint'}>{live.message}</p>}
      {d.live_error && <p className="opsbook-Deploy-error">{d.live_error}</p>}
      {state !== 'available' && live?.events && <PodEventsList events={live.events} />}
      {problem && (
        <p className="opsbook-Deploy-error" role="alert">
          {problem}
        </p>
      )}
      {(onPromote || onRollback || onDelete) && (
        <div className="opsbook-Deployment-actions">
          {busy && <span className="opsbook-Deploy-hint">{busy}…</span>}
          {onPromote && d.canary && (
            <button type="button" disabled={busy !== null} aria-label={`Promote ${d.name}`} onClick={() => void run('Promoting', onPromote)}>
              Promote
            </button>
          )}
          {onRollback && (
            <button type="button" disabled={busy !== null} aria-label={`Roll back ${d.name}`} onClick={() => void run('Rolling back', onRollback)}>
              Rollback
            </button>
          )}
          {onDelete && (
            <ConfirmButton
              label="Delete"
              ariaLabel={`Delete ${d.name}`}
              question={`Delete ${d.name} and everything Opsbook created for it in ${d.namespace}?`}
              confirmLabel="Delete"
              disabled={busy !== null}
              danger
              onConfirm={() => void run('Deleting', onDelete)}
            />
          )}
        </div>
      )}
    </article>
  );
}

/**
 * The canary as one line: the percent asked for, its model and pods; and, for a Deployment canary
 * (replicas split, the Service spreading requests over all pods), the share of pods it actually got
 * when rounding to whole replicas made that differ.
 */
export function canaryLine(d: Pick<Deployment, 'canary' | 'live'>): string | null {
  const live = d.live?.canary ?? null;
  const percent = d.canary?.percent ?? live?.percent;
  const model = d.canary?.model_ref ?? live?.model_ref;
  if (percent === undefined || model === undefined) return null;
  const parts: string[] = [];
  if (live && live.desired > 0) parts.push(`${live.ready}/${live.desired} ready`);
  if (live && d.canary && live.percent !== d.canary.percent) parts.push(`${live.percent}% of the pods`);
  return `Canary ${percent}% → ${model}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

export interface DeploymentsViewProps extends DeploymentActions {
  /** The deployments (`listDeployments` with live status); undefined while loading. */
  deployments?: readonly Deployment[];
  /** Why the list could not be read, shown in its place. */
  error?: string;
  /** Shown when there are none. */
  empty?: string;
}

/** The deployments Opsbook recorded, each a {@link DeploymentCard}. */
export function DeploymentsView({ deployments, error, empty = 'No deployment yet.', ...actions }: DeploymentsViewProps): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  if (error) {
    return (
      <div className="opsbook-view opsbook-Deploy">
        <p className="opsbook-Deploy-error" role="alert">
          {error}
        </p>
      </div>
    );
  }
  if (!deployments) {
    return (
      <div className="opsbook-view opsbook-Deploy">
        <p className="opsbook-Deploy-hint">Loading deployments…</p>
      </div>
    );
  }
  return (
    <div className="opsbook-view opsbook-Deploy">
      {deployments.length === 0 ? (
        <p className="opsbook-Deploy-hint">{empty}</p>
      ) : (
        <ul className="opsbook-Deployments" aria-label="Deployments">
          {deployments.map((d) => (
            <li key={`${d.context ?? ''}/${d.namespace}/${d.name}`}>
              <DeploymentCard deployment={d} {...actions} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const ACTION_TEXT: Record<DeploymentActionResult['action'], string> = { promote: 'Promoted', rollback: 'Rolled back', delete: 'Deleted' };

/** What promote, rollback or delete answered: what was done, the rollout, the objects removed, and the deployment now. */
export function DeploymentActionView({ result, ...actions }: { result: DeploymentActionResult } & DeploymentActions): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  return (
    <section className="opsbook-Deploy" aria-label={`${ACTION_TEXT[result.action]} ${result.deployment.name}`}>
      <p>
        <strong>
          {ACTION_TEXT[result.action] ?? result.action} {result.deployment.name}
        </strong>
        {result.message ? `: ${result.message}` : ''}
      </p>
      {result.deleted.length > 0 && (
        <ul className="opsbook-Gate-checks" aria-label="Deleted">
          {result.deleted.map((object) => (
            <li key={object}>{object}</li>
          ))}
        </ul>
      )}
      {result.rollout && <RolloutView rollout={result.rollout} />}
      {result.action !== 'delete' && <DeploymentCard deployment={result.deployment} {...actions} />}
    </section>
  );
}
