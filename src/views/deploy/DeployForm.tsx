import type { DeployRequest, KubeContexts } from '@opsbook/schema';
import { useEffect, useId, useState } from 'react';
import { contextsSummary, deployRequest, EMPTY_DEPLOY_FORM, suggestedName, type DeployField, type DeployFormValues } from './deployData';
import { ensureDeployStyles } from './deployStyles';

/** A model the form offers: a registry reference or the model of a served endpoint. */
export interface ModelChoice {
  /** What is sent as `model`: NAME, NAME:VERSION, NAME@ALIAS or an .onnx path. */
  ref: string;
  /** What the option says. */
  label: string;
  /** The option group: e.g. "Registered" or "Served". */
  group: string;
}

export interface DeployFormProps {
  models: readonly ModelChoice[];
  /** Why the models could not be listed (the form still takes a typed reference). */
  modelsError?: string;
  /** The daemon's kubeconfig contexts; undefined while loading. */
  contexts?: KubeContexts;
  contextsError?: string;
  /** Which button's request is under way: both wait. */
  busy?: 'preview' | 'deploy' | null;
  /** Values to start from (e.g. a model picked elsewhere). */
  initial?: Partial<DeployFormValues>;
  onPreview(request: DeployRequest): void;
  onDeploy(request: DeployRequest): void;
}

/**
 * The Deploy form: model (registered or served), kubeconfig context, namespace, name, image,
 * replicas, GPUs, target, canary percent and an optional gate suite; Preview (Enter) and Deploy.
 * Values are checked with the contract's limits before anything is sent, the wrong field marked.
 */
export function DeployForm({ models, modelsError, contexts, contextsError, busy = null, initial, onPreview, onDeploy }: DeployFormProps): JSX.Element {
  useEffect(() => ensureDeployStyles(), []);
  const id = useId();
  const [values, setValues] = useState<DeployFormValues>(() => ({ ...EMPTY_DEPLOY_FORM, ...initial }));
  const [touched, setTouched] = useState<{ name: boolean; namespace: boolean }>({ name: Boolean(initial?.name), namespace: Boolean(initial?.namespace) });
  const [problem, setProblem] = useState<{ field: DeployField; error: string } | null>(null);

  // The first model offered, once the list arrives, so Preview works with no choice made.
  const firstModel = models[0]?.ref ?? '';
  useEffect(() => {
    if (!values.model && firstModel) setModel(firstModel);
  }, [firstModel]);

  // The namespace of the chosen context, until the user typed one.
  const contextNamespace = contexts?.contexts.find((c) => c.name === (values.context || contexts.current))?.namespace ?? null;
  useEffect(() => {
    if (!touched.namespace && contextNamespace && values.namespace !== contextNamespace) setValues((v) => ({ ...v, namespace: contextNamespace }));
  }, [contextNamespace, touched.namespace, values.namespace]);

  function setModel(model: string): void {
    setValues((v) => ({ ...v, model, name: touched.name ? v.name : suggestedName(model) }));
  }

  const set = (field: DeployField) => (event: { target: { value: string } }) => {
    const value = event.target.value;
    if (field === 'name' || field === 'namespace') setTouched((t) => ({ ...t, [field]: true }));
    if (field === 'model') setModel(value);
    else setValues((v) => ({ ...v, [field]: value }));
    if (problem?.field === field) setProblem(null);
  };

  const submit = (action: 'preview' | 'deploy'): void => {
    const checked = deployRequest(values);
    if ('error' in checked) {
      setProblem(checked);
      document.getElementById(`${id}-${checked.field}`)?.focus();
      return;
    }
    setProblem(null);
    if (action === 'preview') onPreview(checked.request);
    else onDeploy(checked.request);
  };

  const invalid = (field: DeployField): boolean | undefined => (problem?.field === field ? true : undefined);
  const groups = [...new Set(models.map((m) => m.group))];
  const noCluster = contexts && (!contexts.kubeconfig || contexts.contexts.length === 0);

  return (
    <form
      className="opsbook-Deploy opsbook-DeployForm"
      aria-label="Deploy a model"
      onSubmit={(event) => {
        event.preventDefault();
        if (!busy) submit('preview');
      }}
    >
      <label htmlFor={`${id}-model`}>Model</label>
      {models.length > 0 ? (
        <select id={`${id}-model`} value={values.model} onChange={set('model')} aria-invalid={invalid('model')}>
          {!models.some((m) => m.ref === values.model) && <option value={values.model}>{values.model || 'Pick a model'}</option>}
          {groups.map((group) => (
            <optgroup key={group} label={group}>
              {models
                .filter((m) => m.group === group)
                .map((m) => (
                  <option key={`${group}:${m.ref}`} value={m.ref}>
                    {m.label}
                  </option>
                ))}
            </optgroup>
          ))}
        </select>
      ) : (
        <input id={`${id}-model`} value={values.model} onChange={set('model')} placeholder="NAME[:VERSION|@ALIAS] or /path/model.onnx" aria-invalid={invalid('model')} />
      )}
      {modelsError && <p className="opsbook-Deploy-error opsbook-DeployForm-wide">{modelsError}</p>}

      <label htmlFor={`${id}-context`}>Context</label>
      <select id={`${id}-context`} value={values.context} onChange={set('context')} disabled={!contexts || noCluster}>
        <option value="">{contexts?.current ? `${contexts.current} (current)` : noCluster ? 'no cluster' : 'current context'}</option>
        {contexts?.contexts
          .filter((c) => c.name !== contexts.current)
          .map((c) => (
            <option key={c.name} value={c.name}>
              {c.name}
            </option>
          ))}
      </select>
      {contextsError ? (
        <p className="opsbook-Deploy-error opsbook-DeployForm-wide">{contextsError}</p>
      ) : (
        contexts && <p className={`opsbook-Deploy-hint opsbook-DeployForm-wide${noCluster ? ' opsbook-DeployForm-noCluster' : ''}`}>{contextsSummary(contexts)}</p>
      )}

      <label htmlFor={`${id}-namespace`}>Namespace</label>
      <input id={`${id}-namespace`} value={values.namespace} onChange={set('namespace')} aria-invalid={invalid('namespace')} spellCheck={false} />
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={values.name} onChange={set('name')} aria-invalid={invalid('name')} spellCheck={false} />
      <label htmlFor={`${id}-image`}>Image</label>
      <input id={`${id}-image`} value={values.image} onChange={set('image')} aria-invalid={invalid('image')} placeholder="REPO@sha256:… or REPO:TAG" spellCheck={false} />
      <label htmlFor={`${id}-replicas`}>Replicas</label>
      <div className="opsbook-DeployForm-pair">
        <input id={`${id}-replicas`} type="number" min={1} max={1000} value={values.replicas} onChange={set('replicas')} aria-invalid={invalid('replicas')} />
        <label htmlFor={`${id}-gpu`}>GPUs</label>
        <input id={`${id}-gpu`} type="number" min={0} max={16} value={values.gpu} onChange={set('gpu')} aria-invalid={invalid('gpu')} />
      </div>
      <label htmlFor={`${id}-target`}>Target</label>
      <select id={`${id}-target`} value={values.target} onChange={set('target')}>
        <option value="deployment">Deployment, Service, HPA, PDB</option>
        <option value="kserve">KServe InferenceService</option>
      </select>
      <label htmlFor={`${id}-canary`}>Canary %</label>
      <input id={`${id}-canary`} type="number" min={1} max={99} value={values.canary} onChange={set('canary')} aria-invalid={invalid('canary')} placeholder="none" />
      <label htmlFor={`${id}-gate`}>Gate suite</label>
      <input id={`${id}-gate`} value={values.gate} onChange={set('gate')} placeholder="optional: suites/churn.yaml" spellCheck={false} />
      {problem && (
        <p className="opsbook-Deploy-error opsbook-DeployForm-wide" role="alert">
          {problem.error}
        </p>
      )}
      <div className="opsbook-DeployForm-actions">
        <button type="submit" disabled={busy !== null} title="The manifests, the gates and what would change on the cluster (nothing is applied)">
          {busy === 'preview' ? 'Previewing…' : 'Preview'}
        </button>
        <button type="button" className="opsbook-Deploy-primary" disabled={busy !== null} onClick={() => submit('deploy')} title="Apply with server-side apply and watch the rollout">
          {busy === 'deploy' ? 'Deploying…' : 'Deploy'}
        </button>
      </div>
    </form>
  );
}
