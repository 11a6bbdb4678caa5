import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import type { ISignal } from '@lumino/signaling';
import { OpsbookApiError } from '@opsbook/core/client';
import { CheckResultView, ensureStyleSheet, ProfileView } from '@opsbook/core/views';
import { pythonStringLiteral } from '@opsbook/kernel-bridge';
import {
  SchemaValidator,
  type CheckResult,
  type CheckSuite,
  type DataProfile,
  type DataSource,
  type QualityProgress,
  type Variable,
} from '@opsbook/schema';
import { useId, useMemo, useRef, useState } from 'react';
import { describeError } from './errors';
import { KernelVariables, type FrameKernel, type VariablesState } from './kernelVariables';
import { readSuiteText } from './suiteText';
import type { IOpsbookRuns } from './tokens';

/** What the panel asks of the lab around it. */
export interface QualityPanelHost {
  /** Opens a run in the main area (the one a result was recorded against). */
  openRun(runId: string): void;
  /**
   * The text of a file of the Jupyter server's tree (a suite to load).
   * @throws Error naming the path when it cannot be read
   */
  readTextFile(path: string): Promise<string>;
}

/** The dataframes of the current kernel, as the panel lists them. */
export type FramesState = VariablesState<{ frames: Variable[] }>;

/** What a check, profile or suggestion runs on: a kernel dataframe or a file of the workspace. */
export type QualitySource = { kind: 'frame'; name: string } | { kind: 'file'; path: string };

/** The data a request names, and the run the kernel has open (results are recorded against it). */
interface ResolvedData {
  data: DataSource;
  runId?: string;
}

/** The folder of the workspace a kernel writes frames into for the daemon (removed after use). */
const HANDOFF_FOLDER = '.opsbook/handoff';
/** How long the kernel may take to write a frame: a large one takes longer than the bridge's usual 30 s. */
const PUSH_TIMEOUT_MS = 300_000;

/**
 * The "Data Quality" panel of the left sidebar: pick a dataframe of the current notebook's kernel
 * (through the bridge's `inventory`) or a file, edit or suggest a check suite, run it with progress
 * and cancel, and read the result with its failing rows and histograms, or the data's profile.
 * Like the other panels it does nothing while hidden: the kernel's frames are listed when it shows
 * and again after a cell ran while it is visible.
 */
export class QualityPanel extends ReactWidget {
  private stale = true;
  private workspace: Promise<string> | null = null;
  /** One validator for the editor and the bridge: each compiles the schemas it uses once. */
  readonly validator = SchemaValidator.shared();
  private readonly variables: KernelVariables<{ frames: Variable[] }>;

  /** @param kernels the kernel whose dataframes are offered */
  constructor(
    private readonly runs: IOpsbookRuns,
    private readonly kernels: FrameKernel,
    readonly host: QualityPanelHost,
  ) {
    super();
    this.id = 'opsbook-quality';
    this.addClass('opsbook-QualityPanel');
    this.title.caption = 'Data Quality: check suites, profiles and failing rows of dataframes and files';
    ensureStyleSheet('opsbook-quality-panel', QUALITY_PANEL_CSS);
    this.variables = new KernelVariables(kernels, this.validator, ['dataframe'], (variables) => ({ frames: variables.filter((v) => v.kind === 'dataframe') }), () => this.isDisposed);
    kernels.changed.connect(this.onKernelChanged, this);
  }

  /** The current kernel's dataframes. */
  get frames(): FramesState {
    return this.variables.state;
  }

  /** Emitted when {@link frames} changes. */
  get framesChanged(): ISignal<unknown, FramesState> {
    return this.variables.changed;
  }

  /** Lists the kernel's dataframes again (a listing under way is followed by one more). Never rejects. */
  refreshFrames(): Promise<void> {
    this.stale = false;
    return this.variables.refresh();
  }

  /**
   * The data a request is to name: a file as given, or a kernel dataframe written as Parquet into the
   * workspace's hand-off folder by the kernel (the daemon reads it once and removes it).
   * @throws KernelBridgeError when the kernel cannot write the frame; OpsbookApiError when the daemon is unreachable
   */
  async resolveData(source: QualitySource): Promise<ResolvedData> {
    if (source.kind === 'file') return { data: { path: source.path } };
    const bridge = this.variables.requireBridge('the dataframe');
    const folder = `${await this.workspaceFolder()}/${HANDOFF_FOLDER}`;
    const pushed = await bridge.request('push_frame', { name: source.name, folder }, { timeoutMs: PUSH_TIMEOUT_MS });
    return {
      data: { path: pushed.path, handoff: true, label: source.name, fingerprint: pushed.fingerprint },
      runId: pushed.active_run_id,
    };
  }

  /**
   * Removes a frame the kernel wrote for a job that was cancelled before the daemon got it (the
   * daemon removes those it reads); the kernel that wrote the file removes it.
   * @throws KernelBridgeError when the kernel cannot be reached
   */
  async discard(data: ResolvedData): Promise<void> {
    const bridge = this.variables.bridge();
    if (!data.data.handoff || !bridge) return;
    const path = pythonStringLiteral(data.data.path);
    const answer = await bridge.transport.evaluate({ removed: `__import__('opsbook._handoff')._handoff.remove_frame_file(${path})` });
    const removed = answer.removed;
    if (removed?.status === 'error') throw new Error(`cannot remove ${data.data.path}: ${removed.ename}: ${removed.evalue}`);
  }

  /** `POST /quality/check`. @throws OpsbookApiError (400 naming the field; 409 when cancelled) */
  async check(data: ResolvedData, suite: CheckSuite, jobId: string): Promise<CheckResult> {
    const result = await this.runs.client.runQualityCheck({ data: data.data, suite, job_id: jobId, ...(data.runId ? { run_id: data.runId } : {}) });
    // The OpenAPI types read CheckOutcome.observed as `unknown`; check-result.schema.json (the same body) as an object.
    return result as CheckResult;
  }

  /** `POST /quality/profile`. @throws OpsbookApiError (400; 409 when cancelled) */
  profile(data: ResolvedData, jobId: string): Promise<DataProfile> {
    return this.runs.client.profileData({ data: data.data, job_id: jobId });
  }

  /** `POST /quality/suggest`: a starting suite as YAML. @throws OpsbookApiError (400; 409 when cancelled) */
  async suggest(data: ResolvedData, jobId: string): Promise<string> {
    return (await this.runs.client.suggestSuite({ data: data.data, job_id: jobId })).yaml;
  }

  /** `DELETE /quality/jobs/{job_id}`: its request then answers 409. @throws OpsbookApiError */
  async cancel(jobId: string): Promise<void> {
    await this.runs.client.cancelQualityJob(jobId);
  }

  /**
   * Passes on the progress events of one job, holding the live event stream open meanwhile.
   * @returns a function that stops following
   */
  followJob(jobId: string, onProgress: (progress: QualityProgress) => void): () => void {
    const release = this.runs.watch();
    const listener = (_: IOpsbookRuns, progress: QualityProgress): void => {
      if (progress.job_id === jobId) onProgress(progress);
    };
    this.runs.qualityProgress.connect(listener);
    return () => {
      this.runs.qualityProgress.disconnect(listener);
      release();
    };
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this.stale) void this.refreshFrames();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.kernels.changed.disconnect(this.onKernelChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.variables.changed} initialArgs={this.variables.state}>
        {(_, frames) => <QualityView panel={this} frames={frames ?? this.variables.state} />}
      </UseSignal>
    );
  }

  private onKernelChanged(): void {
    if (this.isVisible) void this.refreshFrames();
    else this.stale = true;
  }

  /** The daemon's workspace (from `GET /health`), read once; a failed read is tried again next time. */
  private workspaceFolder(): Promise<string> {
    this.workspace ??= this.runs.client.health().then(
      (info) => info.workspace.replace(/\/+$/, ''),
      (reason: unknown) => {
        this.workspace = null;
        throw reason;
      },
    );
    return this.workspace;
  }
}

/** A job under way: what it is, where it stands, and whether the user asked to cancel it. */
interface Job {
  id: string;
  kind: 'check' | 'profile' | 'suggest';
  phase: QualityProgress['phase'] | 'push';
  done: number;
  total: number;
  message?: string;
  cancelling: boolean;
}

type Shown = { kind: 'check'; result: CheckResult } | { kind: 'profile'; profile: DataProfile };

const PHASE_TEXT: Record<Job['phase'], string> = {
  push: 'Writing the dataframe from the kernel',
  load: 'Loading the data',
  scan: 'Scanning the table',
  samples: 'Fetching failing rows',
  sql: 'Running SQL checks',
  drift: 'Comparing with the reference',
  profile: 'Profiling columns',
  record: 'Recording on the run',
  done: 'Done',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

const JOB_TEXT: Record<Job['kind'], string> = { check: 'Checking', profile: 'Profiling', suggest: 'Suggesting a suite' };

const SUITE_PLACEHOLDER = `suite: orders
checks:
  - {check: not_null, column: id}
  - {check: between, column: age, min: 0, max: 120}`;

/** A job id the daemon accepts (`^[A-Za-z0-9_-]{1,64}$`). */
function newJobId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  return `lab-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

function QualityView({ panel, frames }: { panel: QualityPanel; frames: FramesState }): JSX.Element {
  const ids = useId();
  const [sourceKind, setSourceKind] = useState<QualitySource['kind']>('frame');
  const [frameName, setFrameName] = useState('');
  const [filePath, setFilePath] = useState('');
  const [suiteText, setSuiteText] = useState('');
  const [suitePath, setSuitePath] = useState('');
  const [touched, setTouched] = useState(false);
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const jobRef = useRef<Job | null>(null);
  jobRef.current = job;

  const suite = useMemo(() => readSuiteText(suiteText, panel.validator), [suiteText, panel.validator]);
  const frameNames = frames.kind === 'ready' ? frames.frames.map((frame) => frame.name) : [];
  // The chosen frame while the kernel still holds it; otherwise the first one listed.
  const chosenFrame = frameNames.includes(frameName) ? frameName : (frameNames[0] ?? '');

  const source: QualitySource | null =
    sourceKind === 'frame'
      ? chosenFrame
        ? { kind: 'frame', name: chosenFrame }
        : null
      : filePath.trim()
        ? { kind: 'file', path: filePath.trim() }
        : null;
  const busy = job !== null;

  /** Runs one job from start to end: the kernel's push, the request, its progress, its outcome. */
  const start = async (kind: Job['kind']): Promise<void> => {
    if (!source || busy) return;
    if (kind === 'check' && !suite.ok) {
      setTouched(true);
      return;
    }
    const id = newJobId();
    const update = (patch: Partial<Job>): void => setJob((current) => (current && current.id === id ? { ...current, ...patch } : current));
    setJob({ id, kind, phase: source.kind === 'frame' ? 'push' : 'load', done: 0, total: 0, cancelling: false });
    setError(null);
    if (kind !== 'suggest') setShown(null);
    const stop = panel.followJob(id, (progress) => update({ phase: progress.phase, done: progress.done, total: progress.total, message: progress.message }));
    try {
      const data = await panel.resolveData(source);
      if (jobRef.current?.id === id && jobRef.current.cancelling) {
        await panel.discard(data);
        setError('Cancelled.');
        return;
      }
      update({ phase: 'load' });
      if (kind === 'check' && suite.ok) setShown({ kind: 'check', result: await panel.check(data, suite.suite, id) });
      else if (kind === 'profile') setShown({ kind: 'profile', profile: await panel.profile(data, id) });
      else if (kind === 'suggest') {
        setSuiteText(await panel.suggest(data, id));
        setTouched(true);
      }
    } catch (reason) {
      const cancelled = reason instanceof OpsbookApiError && reason.status === 409 && jobRef.current?.cancelling;
      setError(cancelled ? 'Cancelled.' : describeError(reason));
    } finally {
      stop();
      setJob((current) => (current?.id === id ? null : current));
    }
  };

  const loadSuite = async (): Promise<void> => {
    const path = suitePath.trim();
    if (!path || busy) return;
    setError(null);
    try {
      setSuiteText(await panel.host.readTextFile(path));
      setTouched(true);
    } catch (reason) {
      setError(`Cannot load ${path}: ${describeError(reason)}`);
    }
  };

  const cancel = (): void => {
    const current = jobRef.current;
    if (!current || current.cancelling) return;
    setJob({ ...current, cancelling: true });
    // While the kernel still writes the frame there is no job in the daemon yet: the run stops after the push.
    if (current.phase === 'push') return;
    panel.cancel(current.id).catch((reason: unknown) => setError(describeError(reason)));
  };

  const suiteError = !suite.ok && (touched || suiteText.trim() !== '') ? suite.message : null;
  return (
    <div className="opsbook-QualityPanel-body">
      <h2 className="opsbook-QualityPanel-heading">Data Quality</h2>
      <fieldset className="opsbook-QualityPanel-source" disabled={busy}>
        <legend>Data</legend>
        <div className="opsbook-QualityPanel-sourceKinds" role="radiogroup" aria-label="Data source">
          <label>
            <input type="radio" name={`${ids}-source`} checked={sourceKind === 'frame'} onChange={() => setSourceKind('frame')} /> Kernel dataframe
          </label>
          <label>
            <input type="radio" name={`${ids}-source`} checked={sourceKind === 'file'} onChange={() => setSourceKind('file')} /> File
          </label>
        </div>
        {sourceKind === 'frame' ? (
          <FramePicker frames={frames} value={chosenFrame} onChange={setFrameName} onRefresh={() => void panel.refreshFrames()} />
        ) : (
          <label className="opsbook-QualityPanel-field">
            <span>Path (relative to the workspace)</span>
            <PathInput label="Data file" placeholder="data/orders.parquet" value={filePath} onChange={setFilePath} />
          </label>
        )}
      </fieldset>

      <div className="opsbook-QualityPanel-suite">
        <div className="opsbook-QualityPanel-suiteHead">
          <label htmlFor={`${ids}-suite`}>Suite (YAML)</label>
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-reject"
            disabled={!source || busy}
            title="Write a starting suite from the data's profile"
            onClick={() => void start('suggest')}
          >
            Suggest
          </button>
        </div>
        <form
          className="opsbook-QualityPanel-load"
          onSubmit={(event) => {
            event.preventDefault();
            void loadSuite();
          }}
        >
          <PathInput label="Suite file" placeholder="suites/orders.yaml" value={suitePath} onChange={setSuitePath} disabled={busy} />
          <button type="submit" className="jp-Button jp-mod-styled jp-mod-reject" disabled={busy || !suitePath.trim()} title="Load a suite file of the workspace into the editor">
            Load
          </button>
        </form>
        <textarea
          id={`${ids}-suite`}
          className="opsbook-QualityPanel-editor"
          aria-label="Suite"
          aria-invalid={suiteError ? true : undefined}
          aria-describedby={suiteError ? `${ids}-suite-error` : undefined}
          spellCheck={false}
          rows={Math.min(20, Math.max(6, suiteText.split('\n').length + 1))}
          placeholder={SUITE_PLACEHOLDER}
          value={suiteText}
          readOnly={busy}
          onChange={(event) => setSuiteText(event.target.value)}
          onBlur={() => setTouched(true)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              void start('check');
            }
          }}
        />
        {suiteError && (
          <p id={`${ids}-suite-error`} className="opsbook-QualityPanel-suiteError" role="alert">
            {suiteError}
          </p>
        )}
      </div>

      <div className="opsbook-QualityPanel-actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={!source || busy || !suite.ok}
          title="Run the suite (Ctrl+Enter in the editor)"
          onClick={() => void start('check')}
        >
          Run checks
        </button>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" disabled={!source || busy} onClick={() => void start('profile')}>
          Profile
        </button>
      </div>

      {job && <JobProgress job={job} onCancel={cancel} />}
      {error && (
        <p className="opsbook-QualityPanel-error" role="alert">
          {error}
        </p>
      )}
      {shown?.kind === 'check' && (
        <div className="opsbook-QualityPanel-result">
          <CheckResultView result={shown.result} onOpenRun={(runId) => panel.host.openRun(runId)} />
        </div>
      )}
      {shown?.kind === 'profile' && (
        <div className="opsbook-QualityPanel-result">
          <ProfileView profile={shown.profile} />
        </div>
      )}
    </div>
  );
}

/** A one-line box for a path of the workspace. */
function PathInput({
  label,
  placeholder,
  value,
  onChange,
  disabled,
}: {
  label: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
  disabled?: boolean;
}): JSX.Element {
  return (
    <input
      type="text"
      className="jp-mod-styled"
      aria-label={label}
      placeholder={placeholder}
      value={value}
      spellCheck={false}
      disabled={disabled}
      onChange={(event) => onChange(event.target.value)}
    />
  );
}

function FramePicker({
  frames,
  value,
  onChange,
  onRefresh,
}: {
  frames: FramesState;
  value: string;
  onChange: (name: string) => void;
  onRefresh: () => void;
}): JSX.Element {
  if (frames.kind === 'no-kernel') {
    return <p className="opsbook-QualityPanel-hint">Open a notebook with a running kernel to list its dataframes.</p>;
  }
  const list = frames.kind === 'ready' ? frames.frames : [];
  return (
    <div className="opsbook-QualityPanel-frames">
      <div className="opsbook-QualityPanel-framesRow">
        <select
          className="jp-mod-styled"
          aria-label="Dataframe"
          value={value}
          disabled={list.length === 0}
          onChange={(event) => onChange(event.target.value)}
        >
          {list.map((frame) => (
            <option key={frame.name} value={frame.name}>
              {frameLabel(frame)}
            </option>
          ))}
        </select>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" title="List the kernel's dataframes again" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      <p className="opsbook-QualityPanel-hint" role="status">
        {frames.kind === 'loading' && `Listing the dataframes of ${frames.label}…`}
        {frames.kind === 'ready' &&
          (list.length === 0 ? `${frames.label} holds no dataframe yet.` : `${list.length} dataframe${list.length === 1 ? '' : 's'} in ${frames.label}`)}
        {frames.kind === 'error' && <span className="opsbook-QualityPanel-error">{frames.message}</span>}
      </p>
    </div>
  );
}

/** `df (pandas, 1,000 × 4)`. */
function frameLabel(frame: Variable): string {
  const shape = frame.shape && frame.shape.length === 2 ? `, ${frame.shape[0].toLocaleString('en-US')} × ${frame.shape[1]}` : '';
  return `${frame.name} (${frame.library}${shape})`;
}

function JobProgress({ job, onCancel }: { job: Job; onCancel: () => void }): JSX.Element {
  const determinate = job.total > 0;
  const phase = job.cancelling ? 'Cancelling' : PHASE_TEXT[job.phase];
  const counts = determinate ? ` (${job.done}/${job.total})` : '';
  return (
    <div className="opsbook-QualityPanel-progress" data-phase={job.phase}>
      <progress
        aria-label={`${JOB_TEXT[job.kind]} progress`}
        max={determinate ? job.total : undefined}
        value={determinate ? job.done : undefined}
      />
      <div className="opsbook-QualityPanel-progressRow">
        <span role="status" className="opsbook-QualityPanel-phase">
          {JOB_TEXT[job.kind]}: {phase}
          {counts}
          {job.message && !job.cancelling ? ` — ${job.message}` : ''}
        </span>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-warn" disabled={job.cancelling} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

const QUALITY_PANEL_CSS = `
.opsbook-QualityPanel { background: var(--jp-layout-color1); overflow: auto; color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1); }
.opsbook-QualityPanel-body { display: flex; flex-direction: column; gap: 10px; padding: 8px 12px 16px; }
.opsbook-QualityPanel-heading { margin: 0; font-size: var(--jp-ui-font-size1); font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em; }
.opsbook-QualityPanel-source { border: 1px solid var(--jp-border-color2); border-radius: 3px; padding: 6px 8px 8px; margin: 0; min-width: 0; }
.opsbook-QualityPanel-source legend { padding: 0 4px; font-weight: 600; }
.opsbook-QualityPanel-sourceKinds { display: flex; gap: 12px; margin-bottom: 6px; }
.opsbook-QualityPanel-sourceKinds label { display: inline-flex; align-items: center; gap: 4px; }
.opsbook-QualityPanel-field { display: flex; flex-direction: column; gap: 4px; }
.opsbook-QualityPanel-field input, .opsbook-QualityPanel-framesRow select { width: 100%; min-width: 0; }
.opsbook-QualityPanel-framesRow { display: flex; gap: 6px; align-items: center; }
.opsbook-QualityPanel-framesRow select { flex: 1; }
.opsbook-QualityPanel-hint { margin: 4px 0 0; color: var(--jp-ui-font-color2); }
.opsbook-QualityPanel-suite { display: flex; flex-direction: column; gap: 4px; }
.opsbook-QualityPanel-suiteHead { display: flex; justify-content: space-between; align-items: center; font-weight: 600; }
.opsbook-QualityPanel-load { display: flex; gap: 6px; align-items: center; }
.opsbook-QualityPanel-load input { flex: 1; min-width: 0; }
.opsbook-QualityPanel-editor {
  font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); line-height: 1.4;
  background: var(--jp-cell-editor-background); color: var(--jp-content-font-color1);
  border: 1px solid var(--jp-border-color1); border-radius: 2px; padding: 6px; resize: vertical; min-height: 8em; tab-size: 2;
}
.opsbook-QualityPanel-editor:focus { outline: 1px solid var(--jp-brand-color1); }
.opsbook-QualityPanel-editor[aria-invalid='true'] { border-color: var(--jp-error-color1); }
.opsbook-QualityPanel-suiteError, .opsbook-QualityPanel-error { margin: 0; color: var(--jp-error-color1); overflow-wrap: anywhere; }
.opsbook-QualityPanel-actions { display: flex; gap: 6px; }
.opsbook-QualityPanel-progress { display: flex; flex-direction: column; gap: 4px; }
.opsbook-QualityPanel-progress progress { width: 100%; }
.opsbook-QualityPanel-progressRow { display: flex; justify-content: space-between; align-items: center; gap: 6px; }
.opsbook-QualityPanel-phase { color: var(--jp-ui-font-color2); }
.opsbook-QualityPanel-result { min-width: 0; }
`;
