import type { DeployProgress, DeployResult, PodEvent, Rollout } from '@opsbook/schema';
import { useEffect, useState } from 'react';
import { formatSeconds, PHASE_TEXT, progressText } from './deployData';
import { ensureDeployStyles } from './deployStyles';
import { DeployPlanView, GatesList } from './DeployPlanView';

const ROLLOUT_TEXT: Record<Rollout['state'], string> = { available: 'Available', failed: 'Failed', timed_out: 'Timed out', not_watched: 'Not watched' };

/** Warning events of the pods, newest first: why a rollout is failing. */
export function PodEventsList({ events }: { events: readonly PodEvent[] }): JSX.Element | null {
  if (events.length === 0) return null;
  return (
    <ul className="opsbook-PodEvents" aria-label="Pod events">
      {events.map((e, i) => (
        <li key={`${e.object}-${e.reason}-${i}`} className="opsbook-PodEvent">
          <span className="opsbook-PodEvent-reason">{e.reason}</span> <span className="opsbook-PodEvent-object">{e.object}</span>
          {e.count && e.count > 1 ? ` (×${e.count})` : ''}: <span className="opsbook-PodEvent-message">{e.message}</span>
        </li>
      ))}
    </ul>
  );
}

/** A rollout's outcome: state, how long it took, its message and the pods' warning events. */
export function RolloutView({ rollout }: { rollout: Rollout }): JSX.Element {
  return (
    <div className="opsbook-Rollout" aria-label="Rollout">
      <span className="opsbook-Rollout-line">
        <strong>Rollout</strong>
        <span className={`opsbook-badge opsbook-Rollout-${rollout.state}`}>{ROLLOUT_TEXT[rollout.state] ?? rollout.state}</span>
        {rollout.state !== 'not_watched' && <span className="opsbook-Deploy-hint">in {formatSeconds(rollout.seconds)}</span>}
      </span>
      {rollout.message && <p className={rollout.state === 'available' ? 'opsbook-Deploy-hint' : 'opsbook-Deploy-error'}>{rollout.message}</p>}
      <PodEventsList events={rollout.events} />
    </div>
  );
}

/** The progress of a deploy job (`event: deploy`): phase, a bar when it counts, and its message. */
export function DeployProgressView({ progress }: { progress: DeployProgress }): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const counted = progress.total > 0;
  return (
    <div className="opsbook-DeployProgress" role="status" aria-label={`Deploying ${progress.name}`}>
      <span>{progressText(progress)}</span>
      {progress.phase !== 'done' && progress.phase !== 'failed' && (
        <progress aria-label={PHASE_TEXT[progress.phase] ?? progress.phase} max={counted ? progress.total : undefined} value={counted ? progress.done : undefined} />
      )}
    </div>
  );
}

/**
 * Asks before a consequential action, inline (a webview may not open the browser's confirm): the
 * button shows a question with a confirming and a cancelling button, focus on the cancel.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  disabled,
  danger,
  ariaLabel,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm(): void;
  disabled?: boolean;
  danger?: boolean;
  ariaLabel?: string;
}): JSX.Element {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className={danger ? 'opsbook-Deploy-danger' : undefined} disabled={disabled} aria-label={ariaLabel} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="opsbook-Confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        className={danger ? 'opsbook-Deploy-danger' : 'opsbook-Deploy-primary'}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" autoFocus onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export interface DeployResultViewProps {
  result: DeployResult;
  /** Sends the same request again with force (after the user confirmed); without it, no "Deploy anyway". */
  onForce?(): void;
  /** Shows the plan (manifests and diff) open; the sidebar shows it above already. */
  planOpen?: boolean;
}

/**
 * What an apply answered: refused by a gate (the failing checks and, when offered, "Deploy anyway"),
 * stopped by a conflict (the fields and their managers), or applied with its rollout and, when it
 * failed, the pods' warning events.
 */
export function DeployResultView({ result, onForce, planOpen = false }: DeployResultViewProps): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const { plan } = result;
  const failedGates = plan.gates.filter((g) => g.status === 'fail');
  return (
    <section className="opsbook-Deploy opsbook-DeployResult" aria-label={`Deploy result of ${plan.name}`} data-status={result.status}>
      {result.status === 'refused' && (
        <div className="opsbook-Refused">
          <p className="opsbook-Deploy-error" role="alert">
            Refused: {failedGates.map((g) => g.message).join('; ') || 'a gate failed'}. Nothing was applied.
          </p>
          <GatesList gates={failedGates} />
          {onForce && <ConfirmButton label="Deploy anyway" question={`Deploy ${plan.name} although its gates failed? This is recorded.`} confirmLabel="Deploy with force" onConfirm={onForce} danger />}
        </div>
      )}
      {result.status === 'conflict' && (
        <div className="opsbook-Refused">
          <p className="opsbook-Deploy-error" role="alert">
            Conflict: another field manager owns fields this deployment sets. Nothing was applied.
          </p>
          <ul className="opsbook-Change-conflicts" aria-label="Conflicts">
            {(plan.changes ?? [])
              .filter((c) => c.action === 'conflict')
              .flatMap((c) => (c.conflicts ?? []).map((f) => ({ object: `${c.kind}/${c.name}`, ...f })))
              .map((f) => (
                <li key={`${f.object}${f.field}`}>
                  {f.object}: {f.field} is owned by {f.manager}
                </li>
              ))}
          </ul>
        </div>
      )}
      {result.status === 'applied' && (
        <p className="opsbook-Deploy-hint">
          Applied {plan.manifests.length} manifest{plan.manifests.length === 1 ? '' : 's'} to {plan.namespace}
          {result.deployment?.forced ? ' with force (the failed gates are recorded)' : ''}.
        </p>
      )}
      {result.rollout && <RolloutView rollout={result.rollout} />}
      <details className="opsbook-Yaml" open={planOpen}>
        <summary>Plan</summary>
        <DeployPlanView plan={plan} />
      </details>
    </section>
  );
}
