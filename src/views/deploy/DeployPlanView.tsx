import type { DeployPlan, GateOutcome, ManifestChange } from '@opsbook/schema';
import { useEffect } from 'react';
import { diffLines, diffStat, manifestsYaml } from './deployData';
import { ensureDeployStyles } from './deployStyles';

const GATE_TEXT: Record<GateOutcome['status'], string> = { pass: 'Pass', fail: 'Fail', skipped: 'Skipped' };
const GATE_NAME: Record<GateOutcome['gate'], string> = { parity: 'Parity', quality: 'Data quality' };
const ACTION_TEXT: Record<ManifestChange['action'], string> = { create: 'create', update: 'update', unchanged: 'unchanged', conflict: 'conflict' };

/** A gate's outcome: pass/fail as colour and text, its reason, and the checks that failed. */
export function GateRow({ gate }: { gate: GateOutcome }): JSX.Element {
  return (
    <li className="opsbook-Gate" aria-label={`${GATE_NAME[gate.gate] ?? gate.gate} gate: ${GATE_TEXT[gate.status]}`}>
      <span className="opsbook-Gate-line">
        <span className={`opsbook-badge opsbook-Gate-${gate.status}`}>{GATE_TEXT[gate.status] ?? gate.status}</span>
        <strong>{GATE_NAME[gate.gate] ?? gate.gate}</strong>
        {gate.suite && <span className="opsbook-Change-name">{gate.suite}</span>}
        <span className="opsbook-Gate-message">{gate.message}</span>
      </span>
      {gate.failing_checks && gate.failing_checks.length > 0 && (
        <ul className="opsbook-Gate-checks" aria-label="Failing checks">
          {gate.failing_checks.map((check) => (
            <li key={check}>{check}</li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** The gates of a plan, or a line saying there were none. */
export function GatesList({ gates }: { gates: readonly GateOutcome[] }): JSX.Element {
  if (gates.length === 0) return <p className="opsbook-Deploy-hint">No gates.</p>;
  return (
    <ul className="opsbook-Gates" aria-label="Gates">
      {gates.map((gate, i) => (
        <GateRow key={`${gate.gate}-${i}`} gate={gate} />
      ))}
    </ul>
  );
}

/** What applying does to an object (create, update, unchanged, conflict) as a badge with its text. */
export function ActionBadge({ action }: { action: ManifestChange['action'] | 'none' }): JSX.Element {
  return <span className={`opsbook-badge opsbook-Action-${action}`}>{action === 'none' ? 'not compared' : ACTION_TEXT[action]}</span>;
}

/** A unified diff with added and removed lines marked (by sign and colour). */
export function DiffView({ diff, label }: { diff: string; label: string }): JSX.Element {
  const lines = diffLines(diff);
  if (lines.length === 0) return <p className="opsbook-Deploy-hint">No difference.</p>;
  return (
    <pre className="opsbook-Diff" aria-label={label} tabIndex={0}>
      {lines.map((line, i) => (
        <span key={i} className={`opsbook-Diff-line opsbook-Diff-${line.kind}`}>
          {line.text}
        </span>
      ))}
    </pre>
  );
}

/** One manifest's change: kind/name, the action badge, conflicting fields and the diff (open unless unchanged). */
export function ChangeRow({ change }: { change: ManifestChange }): JSX.Element {
  const stat = diffStat(change.diff);
  return (
    <li>
      <details className="opsbook-Change" open={change.action !== 'unchanged'} data-action={change.action}>
        <summary>
          <ActionBadge action={change.action} />
          <span className="opsbook-Change-name">
            {change.kind}/{change.name}
          </span>
          {(stat.added > 0 || stat.removed > 0) && <span className="opsbook-Change-stat">{`+${stat.added} −${stat.removed}`}</span>}
        </summary>
        {change.conflicts && change.conflicts.length > 0 && (
          <ul className="opsbook-Change-conflicts" aria-label="Conflicts">
            {change.conflicts.map((c) => (
              <li key={`${c.field}-${c.manager}`}>
                {c.field} is owned by {c.manager}
              </li>
            ))}
          </ul>
        )}
        <DiffView diff={change.diff} label={`Diff of ${change.kind}/${change.name}`} />
      </details>
    </li>
  );
}

export interface DeployPlanViewProps {
  plan: DeployPlan;
  /** Opens the YAML of the manifests at first. */
  yamlOpen?: boolean;
}

/**
 * A deployment's plan: what it deploys where, its gates with pass/fail and reason, per manifest the
 * change on the cluster (action badge and diff) or, with no cluster reached, why not, and the YAML
 * of the manifests.
 */
export function DeployPlanView({ plan, yamlOpen = false }: DeployPlanViewProps): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const sha = plan.model.sha256.slice(0, 12);
  return (
    <section className="opsbook-Deploy opsbook-DeployPlan" aria-label={`Plan of ${plan.name}`}>
      <div className="opsbook-DeployPlan-head">
        <span className="opsbook-DeployPlan-title">
          {plan.namespace}/{plan.name}
        </span>
        <span className="opsbook-badge opsbook-Action-none">{plan.target === 'kserve' ? 'KServe' : 'Deployment'}</span>
        <span className="opsbook-Deploy-hint" title={plan.model.path}>
          {plan.model.ref} (sha256 {sha}…)
        </span>
      </div>
      <p className={plan.cluster.reachable ? 'opsbook-Deploy-hint' : 'opsbook-Deploy-error'} role={plan.cluster.reachable ? undefined : 'status'}>
        {plan.cluster.reachable
          ? `Compared with the cluster of ${plan.cluster.context ?? 'the current context'}${plan.cluster.server ? ` (${plan.cluster.server})` : ''}.`
          : `Not compared with a cluster: ${plan.cluster.message ?? 'none reachable'}`}
      </p>
      <h4>Gates</h4>
      <GatesList gates={plan.gates} />
      {plan.refused && (
        <p className="opsbook-Deploy-error" role="alert">
          Refused: a gate failed. Deploying needs force, which is recorded with the deployment.
        </p>
      )}
      <h4>Changes</h4>
      {plan.changes ? (
        <ul className="opsbook-Changes" aria-label="Changes">
          {plan.changes.map((change) => (
            <ChangeRow key={`${change.kind}/${change.name}`} change={change} />
          ))}
        </ul>
      ) : (
        <ul className="opsbook-Changes" aria-label="Changes">
          {plan.manifests.map((m) => (
            <li key={`${m.kind}/${m.metadata.name}`} className="opsbook-Change">
              <ActionBadge action="none" /> <span className="opsbook-Change-name">{`${m.kind}/${m.metadata.name}`}</span>
            </li>
          ))}
        </ul>
      )}
      <details className="opsbook-Yaml" open={yamlOpen}>
        <summary>{`YAML of the ${plan.manifests.length} manifest${plan.manifests.length === 1 ? '' : 's'}`}</summary>
        <pre className="opsbook-code" tabIndex={0} aria-label="Manifests YAML">
          {manifestsYaml(plan.manifests)}
        </pre>
      </details>
    </section>
  );
}
