import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { OpsbookApiError } from '@opsbook/core/client';
import { ensureStyleSheet, ExplanationView } from '@opsbook/core/views';
import { pythonStringLiteral } from '@opsbook/kernel-bridge';
import { SchemaValidator, type DataSource, type ExplainProgress, type ExplainRequest, type Explanation, type ModelList, type Variable } from '@opsbook/schema';
import { useId, useRef, useState } from 'react';
import { describeError } from './errors';
import { KernelVariables, type FrameKernel, type VariablesState } from './kernelVariables';

/** The daemon's explanation operations, as the panel calls them (`explainModel`, `cancelExplainJob`, `event: explain`). */
export interface ExplainApi {
  /** `POST /explain`. @throws OpsbookApiError (400 naming the field, 404 unknown model, 409 when cancelled) */
  explain(request: ExplainRequest): Promise<Explanation>;
  /** `DELETE /explain/jobs/{job_id}`: its request then answers 409. @throws OpsbookApiError */
  cancel(jobId: string): Promise<void>;
  /**
   * Passes on the progress events (`event: explain`) of one job while it runs.
   * @returns a function that stops following
   */
  follow(jobId: string, onProgress: (progress: ExplainProgress) => void): () => void;
  /** `GET /models`: the registry. @throws OpsbookApiError */
  listModels(): Promise<ModelList>;
  /** The daemon's workspace folder (`GET /health`). @throws OpsbookApiError */
  workspace(): Promise<string>;
}

/** The kernel's dataframes and fitted models, as the panel lists them. */
export type KernelVariablesState = VariablesState<{ frames: Variable[]; models: Variable[] }>;

/** What is explained: a registry reference, a fitted model of the kernel, or an .onnx file. */
export type ModelChoice = { kind: 'registry'; ref: string } | { kind: 'kernel'; name: string } | { kind: 'file'; path: string };
/** The rows explained: a kernel dataframe or a file of the workspace. */
export type DataChoice = { kind: 'frame'; name: string } | { kind: 'file'; path: string };

/** The folder of the workspace a kernel writes frames (and here, exported models) into for the daemon. */
const HANDOFF_FOLDER = '.opsbook/handoff';
/** How long the kernel may take to write a frame or export a model. */
const KERNEL_TIMEOUT_MS = 300_000;
/** `rows` as explain-request.schema.json takes it. */
const ROWS_PATTERN = /^\s*\d*\s*(:\s*\d*\s*)?$/;

/** What a request needs from the kernel, and what to remove afterwards. */
interface Prepared {
  model: string;
  data: DataSource;
  /** Files (then folders, removed when empty) the kernel wrote that the daemon does not remove: an exported model and its folder. */
  leftovers: string[];
}

/**
 * The "Explain" panel of the left sidebar: pick a model (from the registry, a fitted model of the
 * current notebook's kernel, or an .onnx file) and the rows to explain (a kernel dataframe or a
 * file), a method and a row range; run it with progress and cancel, and read the explanation's
 * views with their row picker. Like the Data Quality panel it lists the kernel's variables when it
 * shows and again after a cell ran while it is visible.
 */
export class ExplainPanel extends ReactWidget {
  private registryState: { kind: 'loading' } | { kind: 'ready'; refs: string[] } | { kind: 'error'; message: string } = { kind: 'loading' };
  private readonly registrySignal = new Signal<ExplainPanel, void>(this);
  private stale = true;
  private readonly listed: KernelVariables<{ frames: Variable[]; models: Variable[] }>;

  constructor(
    readonly api: ExplainApi,
    private readonly kernels: FrameKernel,
    private readonly validator = SchemaValidator.shared(),
  ) {
    super();
    this.id = 'opsbook-explain';
    this.addClass('opsbook-ExplainPanel');
    this.title.caption = 'Explain: SHAP and LIME explanations of a model on rows of a dataframe or file';
    ensureStyleSheet('opsbook-explain-panel', EXPLAIN_PANEL_CSS);
    this.listed = new KernelVariables(
      kernels,
      validator,
      ['dataframe', 'model'],
      (variables) => ({
        frames: variables.filter((v) => v.kind === 'dataframe'),
        // An unfitted estimator cannot be exported or explained.
        models: variables.filter((v) => v.kind === 'model' && v.fitted !== false),
      }),
      () => this.isDisposed,
    );
    kernels.changed.connect(this.onKernelChanged, this);
  }

  /** The current kernel's dataframes and models. */
  get variables(): KernelVariablesState {
    return this.listed.state;
  }

  /** Registered models as references: `NAME` (its latest version), `NAME@ALIAS` and `NAME:VERSION`. */
  get registry(): typeof this.registryState {
    return this.registryState;
  }

  /** Lists the kernel's variables and the registry again. Never rejects. */
  refresh(): Promise<void> {
    this.stale = false;
    return Promise.all([this.listed.refresh(), this.readRegistry()]).then(() => undefined);
  }

  /**
   * Turns the choices into what the request names: a registry ref or file as given; a kernel model
   * exported to ONNX by the kernel into the hand-off folder (opsbook's exporter, as `log_model`
   * uses, with the chosen frame as its sample); a kernel dataframe written as Parquet there.
   * @throws Error naming what is missing; KernelBridgeError when the kernel cannot do its part
   */
  async prepare(model: ModelChoice, data: DataChoice, jobId: string): Promise<Prepared> {
    const leftovers: string[] = [];
    let dataSource: DataSource;
    if (data.kind === 'file') dataSource = { path: data.path };
    else {
      const bridge = this.listed.requireBridge('the dataframe');
      const folder = `${await this.api.workspace()}/${HANDOFF_FOLDER}`;
      const pushed = await bridge.request('push_frame', { name: data.name, folder }, { timeoutMs: KERNEL_TIMEOUT_MS });
      dataSource = { path: pushed.path, handoff: true, label: data.name, fingerprint: pushed.fingerprint };
    }
    if (model.kind !== 'kernel') return { model: model.kind === 'registry' ? model.ref : model.path, data: dataSource, leftovers };
    if (data.kind !== 'frame') throw new Error(`${model.name} is exported to ONNX with the rows as its sample: pick a kernel dataframe for the data`);
    const bridge = this.listed.requireBridge(model.name);
    // In a folder of the job's own, so the file (and the explanation's title) keeps the variable's name.
    const folder = `${await this.api.workspace()}/${HANDOFF_FOLDER}/${jobId}`;
    const path = `${folder}/${model.name}.onnx`;
    // One expression (the bridge evaluates user expressions): export, write, answer the bytes written.
    const expression =
      `(lambda m, x, p: (__import__('os').makedirs(__import__('os').path.dirname(p), exist_ok=True), ` +
      `__import__('pathlib').Path(p).write_bytes(__import__('opsbook._models', fromlist=['export_onnx']).export_onnx(m, x)[0]))[1])` +
      `(${model.name}, ${data.name}, ${pythonStringLiteral(path)})`;
    const answer = await bridge.transport.evaluate({ exported: expression }, { timeoutMs: KERNEL_TIMEOUT_MS });
    const exported = answer.exported;
    if (!exported || exported.status === 'error') {
      throw new Error(`cannot export ${model.name} to ONNX: ${exported ? `${exported.ename}: ${exported.evalue}` : 'the kernel did not answer'}`);
    }
    leftovers.push(path, folder);
    return { model: path, data: dataSource, leftovers };
  }

  /** Removes files the kernel wrote for a request (best effort: a kernel gone has nothing to remove). */
  async cleanUp(prepared: Prepared, dataToo: boolean): Promise<void> {
    const bridge = this.listed.bridge();
    if (!bridge) return;
    const paths = [...prepared.leftovers, ...(dataToo && prepared.data.handoff ? [prepared.data.path] : [])];
    if (paths.length === 0) return;
    const list = `[${paths.map(pythonStringLiteral).join(', ')}]`;
    const os = `__import__('os')`;
    await bridge.transport.evaluate({
      removed: `[(${os}.rmdir(p) if ${os}.path.isdir(p) else ${os}.remove(p)) for p in ${list} if ${os}.path.exists(p) and not (${os}.path.isdir(p) and ${os}.listdir(p))]`,
    });
  }

  /** Validates a request against explain-request.schema.json; the message names the field. */
  check(request: ExplainRequest): string | null {
    try {
      this.validator.assert<ExplainRequest>('explain-request.schema.json', request);
      return null;
    } catch (reason) {
      return describeError(reason);
    }
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this.stale) void this.refresh();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.kernels.changed.disconnect(this.onKernelChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.registrySignal}>
        {() => (
          <UseSignal signal={this.listed.changed} initialArgs={this.listed.state}>
            {(_, variables) => <ExplainForm panel={this} variables={variables ?? this.listed.state} />}
          </UseSignal>
        )}
      </UseSignal>
    );
  }

  private onKernelChanged(): void {
    if (this.isVisible) void this.listed.refresh();
    else this.stale = true;
  }

  private async readRegistry(): Promise<void> {
    try {
      const list = await this.api.listModels();
      const refs = list.models.flatMap((model) => [
        model.name,
        ...Object.keys(model.aliases).map((alias) => `${model.name}@${alias}`),
        ...model.versions.map((version) => `${model.name}:${version.version}`),
      ]);
      this.registryState = { kind: 'ready', refs };
    } catch (reason) {
      this.registryState = { kind: 'error', message: describeError(reason) };
    }
    this.registrySignal.emit();
  }
}

/** A job under way: where it stands and whether the user asked to cancel it. */
interface Job {
  id: string;
  phase: ExplainProgress['phase'] | 'kernel';
  done: number;
  total: number;
  message?: string;
  cancelling: boolean;
}

const PHASE_TEXT: Record<Job['phase'], string> = {
  kernel: 'Handing the data over from the kernel',
  load: 'Loading the model and data',
  background: 'Preparing the background',
  explain: 'Explaining rows',
  record: 'Recording on the run',
  done: 'Done',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

const METHODS = ['auto', 'tree', 'kernel', 'lime'] as const;
type MethodChoice = (typeof METHODS)[number];

/** A job id the daemon accepts (`^[A-Za-z0-9_-]{1,64}$`). */
function newJobId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  return `lab-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** The first entry still offered, else the first offered (a variable may be gone after a cell ran). */
function stillOffered(value: string, offered: readonly string[]): string {
  return offered.includes(value) ? value : (offered[0] ?? '');
}

/** The model the form names, or null while its field is empty. */
function modelChoice(kind: ModelChoice['kind'], ref: string, variable: string, path: string): ModelChoice | null {
  if (kind === 'registry') return ref ? { kind, ref } : null;
  if (kind === 'kernel') return variable ? { kind, name: variable } : null;
  return path ? { kind, path } : null;
}

function ExplainForm({ panel, variables }: { panel: ExplainPanel; variables: KernelVariablesState }): JSX.Element {
  const ids = useId();
  const [modelKind, setModelKind] = useState<ModelChoice['kind']>('registry');
  const [registryRef, setRegistryRef] = useState('');
  const [kernelModel, setKernelModel] = useState('');
  const [modelPath, setModelPath] = useState('');
  const [dataKind, setDataKind] = useState<DataChoice['kind']>('frame');
  const [frameName, setFrameName] = useState('');
  const [dataPath, setDataPath] = useState('');
  const [method, setMethod] = useState<MethodChoice>('auto');
  const [rows, setRows] = useState('0:100');
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [explanation, setExplanation] = useState<Explanation | null>(null);
  const jobRef = useRef<Job | null>(null);
  jobRef.current = job;

  const registry = panel.registry;
  const refs = registry.kind === 'ready' ? registry.refs : [];
  const frames = variables.kind === 'ready' ? variables.frames.map((v) => v.name) : [];
  const models = variables.kind === 'ready' ? variables.models.map((v) => v.name) : [];
  const chosenRef = stillOffered(registryRef, refs);
  const chosenModel = stillOffered(kernelModel, models);
  const chosenFrame = stillOffered(frameName, frames);

  const model = modelChoice(modelKind, chosenRef, chosenModel, modelPath.trim());
  const data: DataChoice | null = dataKind === 'frame' ? (chosenFrame ? { kind: 'frame', name: chosenFrame } : null) : dataPath.trim() ? { kind: 'file', path: dataPath.trim() } : null;
  const rowsOk = ROWS_PATTERN.test(rows);
  const busy = job !== null;

  const run = async (): Promise<void> => {
    if (!model || !data || !rowsOk || busy) return;
    const id = newJobId();
    const update = (patch: Partial<Job>): void => setJob((current) => (current && current.id === id ? { ...current, ...patch } : current));
    setJob({ id, phase: dataKind === 'frame' || modelKind === 'kernel' ? 'kernel' : 'load', done: 0, total: 0, cancelling: false });
    setError(null);
    setExplanation(null);
    const stop = panel.api.follow(id, (progress) => update({ phase: progress.phase, done: progress.done, total: progress.total, message: progress.message }));
    let prepared: Prepared | null = null;
    let sent = false;
    try {
      prepared = await panel.prepare(model, data, id);
      if (jobRef.current?.id === id && jobRef.current.cancelling) {
        setError('Cancelled.');
        return;
      }
      const request: ExplainRequest = {
        model: prepared.model,
        data: prepared.data,
        rows: rows.trim() || undefined,
        job_id: id,
        ...(method === 'auto' ? {} : { method }),
        // An exported kernel model is no registry model: there is no run to record it on.
        ...(modelKind === 'kernel' ? { record: false } : {}),
      };
      const invalid = panel.check(request);
      if (invalid) throw new Error(invalid);
      update({ phase: 'load' });
      sent = true;
      setExplanation(await panel.api.explain(request));
    } catch (reason) {
      const cancelled = reason instanceof OpsbookApiError && reason.status === 409 && jobRef.current?.cancelling;
      setError(cancelled ? 'Cancelled.' : describeError(reason));
    } finally {
      stop();
      // The daemon removes a handed-off frame it read; what it never got, and exported models, go here.
      if (prepared) panel.cleanUp(prepared, !sent).catch((reason: unknown) => console.warn('Opsbook: cannot remove hand-off files', reason));
      setJob((current) => (current?.id === id ? null : current));
    }
  };

  const cancel = (): void => {
    const current = jobRef.current;
    if (!current || current.cancelling) return;
    setJob({ ...current, cancelling: true });
    // While the kernel still hands over there is no daemon job yet: the run stops after that.
    if (current.phase === 'kernel') return;
    panel.api.cancel(current.id).catch((reason: unknown) => setError(describeError(reason)));
  };

  const noKernel = variables.kind === 'no-kernel';
  const listingText =
    variables.kind === 'loading'
      ? `Listing the variables of ${variables.label}…`
      : variables.kind === 'ready'
        ? `${models.length} fitted model${models.length === 1 ? '' : 's'}, ${frames.length} dataframe${frames.length === 1 ? '' : 's'} in ${variables.label}`
        : variables.kind === 'error'
          ? variables.message
          : 'Open a notebook with a running kernel to use its models and dataframes.';

  return (
    <div className="opsbook-ExplainPanel-body">
      <div className="opsbook-ExplainPanel-headRow">
        <h2 className="opsbook-ExplainPanel-heading">Explain</h2>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" title="List the registry and the kernel's variables again" onClick={() => void panel.refresh()}>
          Refresh
        </button>
      </div>
      <p className={`opsbook-ExplainPanel-hint${variables.kind === 'error' ? ' opsbook-ExplainPanel-error' : ''}`} role="status">
        {listingText}
      </p>

      <fieldset className="opsbook-ExplainPanel-group" disabled={busy}>
        <legend>Model</legend>
        <Choices
          name={`${ids}-model`}
          label="Model source"
          value={modelKind}
          onChange={setModelKind}
          options={[
            ['registry', 'Registry'],
            ['kernel', 'Kernel variable'],
            ['file', 'ONNX file'],
          ]}
        />
        {modelKind === 'registry' &&
          (registry.kind === 'error' ? (
            <p className="opsbook-ExplainPanel-error">{registry.message}</p>
          ) : (
            <Picker label="Registered model" value={chosenRef} options={refs} empty={registry.kind === 'loading' ? 'Reading the registry…' : 'No registered model yet'} onChange={setRegistryRef} />
          ))}
        {modelKind === 'kernel' && (
          <Picker label="Model variable" value={chosenModel} options={models} empty={noKernel ? 'No kernel' : 'No fitted model in the kernel'} onChange={setKernelModel} />
        )}
        {modelKind === 'file' && <TextField label="Model file" placeholder="models/churn.onnx" value={modelPath} onChange={setModelPath} />}
      </fieldset>

      <fieldset className="opsbook-ExplainPanel-group" disabled={busy}>
        <legend>Rows to explain</legend>
        <Choices
          name={`${ids}-data`}
          label="Data source"
          value={dataKind}
          onChange={setDataKind}
          options={[
            ['frame', 'Kernel dataframe'],
            ['file', 'File'],
          ]}
        />
        {dataKind === 'frame' ? (
          <Picker label="Dataframe" value={chosenFrame} options={frames} empty={noKernel ? 'No kernel' : 'No dataframe in the kernel'} onChange={setFrameName} />
        ) : (
          <TextField label="Data file" placeholder="data/customers.parquet" value={dataPath} onChange={setDataPath} />
        )}
        <div className="opsbook-ExplainPanel-options">
          <label>
            <span>Method</span>
            <select className="jp-mod-styled" aria-label="Method" value={method} onChange={(event) => setMethod(event.target.value as MethodChoice)}>
              {METHODS.map((m) => (
                <option key={m} value={m}>
                  {m === 'auto' ? 'auto (tree for tree ensembles)' : m}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>Rows</span>
            <input
              type="text"
              className="jp-mod-styled"
              aria-label="Rows"
              aria-invalid={rowsOk ? undefined : true}
              title="Python-style: N, A:B, :B or A:"
              placeholder="0:100"
              spellCheck={false}
              value={rows}
              onChange={(event) => setRows(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter') void run();
              }}
            />
          </label>
        </div>
        {!rowsOk && (
          <p className="opsbook-ExplainPanel-error" role="alert">
            Rows are N, A:B, :B or A: (for example 0:100).
          </p>
        )}
      </fieldset>

      <div className="opsbook-ExplainPanel-actions">
        <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" disabled={!model || !data || !rowsOk || busy} onClick={() => void run()}>
          Run
        </button>
      </div>

      {job && <JobProgress job={job} onCancel={cancel} />}
      {error && (
        <p className="opsbook-ExplainPanel-error" role="alert">
          {error}
        </p>
      )}
      {explanation && (
        <div className="opsbook-ExplainPanel-result">
          <ExplanationView explanation={explanation} />
        </div>
      )}
    </div>
  );
}

/** Radio buttons of one choice. */
function Choices<T extends string>({ name, label, value, options, onChange }: { name: string; label: string; value: T; options: [T, string][]; onChange: (value: T) => void }): JSX.Element {
  return (
    <div className="opsbook-ExplainPanel-choices" role="radiogroup" aria-label={label}>
      {options.map(([option, text]) => (
        <label key={option}>
          <input type="radio" name={name} checked={value === option} onChange={() => onChange(option)} /> {text}
        </label>
      ))}
    </div>
  );
}

/** A labelled list; says why when it is empty. */
function Picker({ label, value, options, empty, onChange }: { label: string; value: string; options: readonly string[]; empty: string; onChange: (value: string) => void }): JSX.Element {
  if (options.length === 0) return <p className="opsbook-ExplainPanel-hint">{empty}</p>;
  return (
    <select className="jp-mod-styled opsbook-ExplainPanel-wide" aria-label={label} value={value} onChange={(event) => onChange(event.target.value)}>
      {options.map((option) => (
        <option key={option} value={option}>
          {option}
        </option>
      ))}
    </select>
  );
}

function TextField({ label, placeholder, value, onChange }: { label: string; placeholder: string; value: string; onChange: (value: string) => void }): JSX.Element {
  return (
    <input
      type="text"
      className="jp-mod-styled opsbook-ExplainPanel-wide"
      aria-label={label}
      placeholder={placeholder}
      title="A path relative to the workspace"
      spellCheck={false}
      value={value}
      onChange={(event) => onChange(event.target.value)}
    />
  );
}

function JobProgress({ job, onCancel }: { job: Job; onCancel: () => void }): JSX.Element {
  const determinate = job.total > 0;
  return (
    <div className="opsbook-ExplainPanel-progress" data-phase={job.phase}>
      <progress aria-label="Explanation progress" max={determinate ? job.total : undefined} value={determinate ? job.done : undefined} />
      <div className="opsbook-ExplainPanel-progressRow">
        <span role="status" className="opsbook-ExplainPanel-hint">
          {job.cancelling ? 'Cancelling' : PHASE_TEXT[job.phase]}
          {determinate ? ` (${job.done}/${job.total})` : ''}
          {job.message && !job.cancelling ? ` — ${job.message}` : ''}
        </span>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-warn" disabled={job.cancelling} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

const EXPLAIN_PANEL_CSS = `
.opsbook-ExplainPanel { background: var(--jp-layout-color1); overflow: auto; color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1); }
.opsbook-ExplainPanel-body { display: flex; flex-direction: column; gap: 10px; padding: 8px 12px 16px; }
.opsbook-ExplainPanel-headRow { display: flex; justify-content: space-between; align-items: center; }
.opsbook-ExplainPanel-heading { margin: 0; font-size: var(--jp-ui-font-size1); font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em; }
.opsbook-ExplainPanel-group { border: 1px solid var(--jp-border-color2); border-radius: 3px; padding: 6px 8px 8px; margin: 0; min-width: 0; display: flex; flex-direction: column; gap: 6px; }
.opsbook-ExplainPanel-group legend { padding: 0 4px; font-weight: 600; }
.opsbook-ExplainPanel-choices { display: flex; flex-wrap: wrap; gap: 4px 12px; }
.opsbook-ExplainPanel-choices label { display: inline-flex; align-items: center; gap: 4px; }
.opsbook-ExplainPanel-wide { width: 100%; min-width: 0; box-sizing: border-box; }
.opsbook-ExplainPanel-options { display: flex; gap: 8px; flex-wrap: wrap; }
.opsbook-ExplainPanel-options label { display: flex; flex-direction: column; gap: 2px; flex: 1; min-width: 8em; }
.opsbook-ExplainPanel-options input[aria-invalid='true'] { border-color: var(--jp-error-color1); }
.opsbook-ExplainPanel-hint { margin: 0; color: var(--jp-ui-font-color2); }
.opsbook-ExplainPanel-error { margin: 0; color: var(--jp-error-color1); overflow-wrap: anywhere; }
.opsbook-ExplainPanel-actions { display: flex; gap: 6px; }
.opsbook-ExplainPanel-progress { display: flex; flex-direction: column; gap: 4px; }
.opsbook-ExplainPanel-progress progress { width: 100%; }
.opsbook-ExplainPanel-progressRow { display: flex; justify-content: space-between; align-items: center; gap: 6px; }
.opsbook-ExplainPanel-result { min-width: 0; margin: 0 -12px; }
`;
