import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { EndpointsView, addStats, applyServeEvent, ensureServeStyles, ensureStyleSheet, type StatsHistory } from '@opsbook/core/views';
import { pythonStringLiteral } from '@opsbook/kernel-bridge';
import { SchemaValidator, type Endpoint, type EndpointTestAnswer, type EndpointTestRequest, type ModelList, type ServeConfig, type ServeEvent, type Variable } from '@opsbook/schema';
import { useState } from 'react';
import { describeError } from './errors';
import { KernelVariables, type FrameKernel, type VariablesState } from './kernelVariables';

/** The daemon's serving operations, as the Serve section calls them. */
export interface ServeApi {
  /** `POST /serve`: answers once every model loaded or failed. @throws OpsbookApiError */
  start(config: ServeConfig): Promise<Endpoint>;
  /** `GET /serve/endpoints`. @throws OpsbookApiError */
  list(): Promise<Endpoint[]>;
  /** `DELETE /serve/endpoints/{name}`. @throws OpsbookApiError */
  stop(name: string): Promise<Endpoint>;
  /** `POST /serve/endpoints/{name}/infer`. @throws OpsbookApiError */
  test(name: string, request: EndpointTestRequest): Promise<EndpointTestAnswer>;
  /** `GET /models`. @throws OpsbookApiError */
  listModels(): Promise<ModelList>;
  /**
   * Follows `event: serve`; `onOpen` when the stream (re)opens, so the list is read afresh.
   * @returns a function that stops following
   */
  follow(onServe: (event: ServeEvent) => void, onOpen: () => void): () => void;
}

/** A model the section offers to serve: a registry reference, or a fitted model of the kernel. */
export type ServeChoice = { kind: 'registry'; ref: string } | { kind: 'kernel'; name: string };

/** How long the kernel may take to export and register a model (log_model: export, parity check, upload). */
const KERNEL_TIMEOUT_MS = 300_000;
/** A Python identifier: what the kernel's inventory names variables with, safe inside an expression. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Listing<T> = { kind: 'loading' } | { kind: 'ready'; value: T } | { kind: 'error'; message: string };

/** A registered model as the section lists it: its references, latest first. */
export interface RegistryEntry {
  name: string;
  refs: string[];
}

/**
 * The "Serve" section of the Opsbook sidebar: one click serves a registered model or a fitted
 * model of the current notebook's kernel (registered through `log_model` first, in the kernel); the
 * endpoints the daemon supervises are listed live from `event: serve` with their URL, device,
 * models, latency sparkline, Stop button and test form.
 */
export class ServePanel extends ReactWidget {
  private endpointsState: Listing<Endpoint[]> = { kind: 'loading' };
  private registryState: Listing<RegistryEntry[]> = { kind: 'loading' };
  private statsHistory: StatsHistory = {};
  private startingChoices = new Map<string, string>();
  private lastProblem: string | null = null;
  private readonly signal = new Signal<ServePanel, void>(this);
  private readonly listed: KernelVariables<{ models: Variable[] }>;
  private unfollow: (() => void) | null = null;
  private stale = true;
  private listing: Promise<void> | null = null;
  private relist = false;

  constructor(
    readonly api: ServeApi,
    private readonly kernels: FrameKernel,
    validator = SchemaValidator.shared(),
  ) {
    super();
    this.id = 'opsbook-serve';
    this.addClass('opsbook-ServePanel');
    this.title.label = 'Serve';
    this.title.caption = 'Serve models over the Open Inference Protocol (V2)';
    ensureStyleSheet('opsbook-serve-panel', SERVE_PANEL_CSS);
    ensureServeStyles();
    this.listed = new KernelVariables(
      kernels,
      validator,
      ['model'],
      // An unfitted estimator cannot be exported.
      (variables) => ({ models: variables.filter((v) => v.kind === 'model' && v.fitted !== false && IDENTIFIER.test(v.name)) }),
      () => this.isDisposed,
    );
    kernels.changed.connect(this.onKernelChanged, this);
  }

  get endpoints(): Listing<Endpoint[]> {
    return this.endpointsState;
  }

  get registry(): Listing<RegistryEntry[]> {
    return this.registryState;
  }

  get history(): StatsHistory {
    return this.statsHistory;
  }

  get variables(): VariablesState<{ models: Variable[] }> {
    return this.listed.state;
  }

  /** Choices being served now (key → what the row says), so their buttons wait. */
  get starting(): ReadonlyMap<string, string> {
    return this.startingChoices;
  }

  /** Why the last serve or stop failed, shown until the next one. */
  get problem(): string | null {
    return this.lastProblem;
  }

  /** The endpoints that can be stopped. */
  liveEndpoints(): Endpoint[] {
    return this.endpointsState.kind === 'ready' ? this.endpointsState.value.filter((e) => e.status === 'starting' || e.status === 'ready') : [];
  }

  /** Reads the endpoints, the registry and the kernel's models again. Never rejects. */
  refresh(): Promise<void> {
    this.stale = false;
    return Promise.all([this.readEndpoints(), this.readRegistry(), this.listed.refresh()]).then(() => undefined);
  }

  /**
   * Serves one choice: a registry reference as it is; a kernel model registered first through
   * `opsbook._serve.register_for_serving` (log_model, with rows of the notebook as its sample) and
   * served as the `NAME:VERSION` it became. Never rejects: a failure is {@link problem}.
   * @returns the endpoint, or null when it failed
   */
  async serve(choice: ServeChoice): Promise<Endpoint | null> {
    const key = choiceKey(choice);
    if (this.startingChoices.has(key)) return null;
    this.lastProblem = null;
    this.startingChoices.set(key, choice.kind === 'kernel' ? `Exporting ${choice.name} through log_model…` : 'Starting…');
    this.emit();
    try {
      const ref = choice.kind === 'registry' ? choice.ref : await this.register(choice.name);
      this.startingChoices.set(key, 'Starting…');
      this.emit();
      const endpoint = await this.api.start({ models: [{ model: ref }] });
      this.upsert(endpoint);
      if (endpoint.status === 'failed') this.lastProblem = `${endpoint.name} failed: ${endpoint.error ?? 'see its logs'}`;
      return endpoint;
    } catch (reason) {
      this.lastProblem = describeError(reason);
      return null;
    } finally {
      this.startingChoices.delete(key);
      this.emit();
      void this.readRegistry(); // a kernel model is a new registry version now
    }
  }

  /** Stops an endpoint. @throws OpsbookApiError (the card shows it) */
  async stop(name: string): Promise<void> {
    this.upsert(await this.api.stop(name));
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.unfollow ??= this.api.follow(
      (event) => this.onServe(event),
      () => void this.readEndpoints(),
    );
  }

  protected override onBeforeDetach(msg: Message): void {
    this.unfollow?.();
    this.unfollow = null;
    super.onBeforeDetach(msg);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this.stale) void this.refresh();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.unfollow?.();
    this.unfollow = null;
    this.kernels.changed.disconnect(this.onKernelChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.signal}>
        {() => (
          <UseSignal signal={this.listed.changed} initialArgs={this.listed.state}>
            {(_, variables) => <ServeSection panel={this} variables={variables ?? this.listed.state} />}
          </UseSignal>
        )}
      </UseSignal>
    );
  }

  /** `NAME:VERSION` of a kernel model, registered in the kernel. @throws Error with the kernel's complaint */
  private async register(variable: string): Promise<string> {
    if (!IDENTIFIER.test(variable)) throw new Error(`${variable} is not a variable name`);
    const bridge = this.listed.requireBridge(variable);
    const expression = `__import__('opsbook._serve', fromlist=['register_for_serving']).register_for_serving(${variable}, ${pythonStringLiteral(variable.replace(/^_+/, '') || 'model')})`;
    const answer = await bridge.transport.evaluate({ registered: expression }, { timeoutMs: KERNEL_TIMEOUT_MS });
    const registered = answer.registered;
    if (!registered || registered.status !== 'ok') {
      throw new Error(`cannot register ${variable}: ${registered && registered.status === 'error' ? `${registered.ename}: ${registered.evalue}` : 'the kernel did not answer'}`);
    }
    const text = String(registered.data['text/plain'] ?? '');
    const ref = /^'([^']+)'$/.exec(text)?.[1];
    if (!ref) throw new Error(`cannot register ${variable}: the kernel answered ${text}`);
    return ref;
  }

  private onServe(event: ServeEvent): void {
    this.statsHistory = addStats(this.statsHistory, event.endpoint, event.stats);
    const current = this.endpointsState.kind === 'ready' ? this.endpointsState.value : null;
    const next = current && applyServeEvent(current, event);
    if (next) {
      this.endpointsState = { kind: 'ready', value: next };
      this.emit();
    } else {
      this.emit();
      void this.readEndpoints(); // a new endpoint: its models and device come with the listing
    }
  }

  private upsert(endpoint: Endpoint): void {
    const current = this.endpointsState.kind === 'ready' ? this.endpointsState.value : [];
    const others = current.filter((e) => e.name !== endpoint.name);
    this.endpointsState = { kind: 'ready', value: [endpoint, ...others] };
    this.statsHistory = addStats(this.statsHistory, endpoint.name, endpoint.stats);
    this.emit();
  }

  /** Lists the endpoints; one asked for while a listing runs is done after it. */
  private readEndpoints(): Promise<void> {
    if (this.listing) {
      this.relist = true;
      return this.listing;
    }
    this.listing = (async () => {
      do {
        this.relist = false;
        try {
          const endpoints = await this.api.list();
          for (const endpoint of endpoints) this.statsHistory = addStats(this.statsHistory, endpoint.name, endpoint.stats);
          this.endpointsState = { kind: 'ready', value: endpoints };
        } catch (reason) {
          this.endpointsState = { kind: 'error', message: describeError(reason) };
        }
        this.emit();
      } while (this.relist && !this.isDisposed);
    })().finally(() => {
      this.listing = null;
    });
    return this.listing;
  }

  private async readRegistry(): Promise<void> {
    try {
      const list = await this.api.listModels();
      this.registryState = {
        kind: 'ready',
        value: list.models.map((model) => ({
          name: model.name,
          refs: [model.name, ...Object.keys(model.aliases).map((alias) => `${model.name}@${alias}`), ...model.versions.map((v) => `${model.name}:${v.version}`)],
        })),
      };
    } catch (reason) {
      this.registryState = { kind: 'error', message: describeError(reason) };
    }
    this.emit();
  }

  private onKernelChanged(): void {
    if (this.isVisible) void this.listed.refresh();
    else this.stale = true;
  }

  private emit(): void {
    if (!this.isDisposed) this.signal.emit();
  }
}

function choiceKey(choice: ServeChoice): string {
  return choice.kind === 'registry' ? `registry:${choice.ref.split(/[:@]/)[0]}` : `kernel:${choice.name}`;
}

function ServeSection({ panel, variables }: { panel: ServePanel; variables: VariablesState<{ models: Variable[] }> }): JSX.Element {
  const registry = panel.registry;
  const endpoints = panel.endpoints;
  const kernelModels = variables.kind === 'ready' ? variables.models : [];
  const kernelText =
    variables.kind === 'loading'
      ? `Listing the models of ${variables.label}…`
      : variables.kind === 'error'
        ? variables.message
        : variables.kind === 'no-kernel'
          ? 'Open a notebook with a running kernel to serve its fitted models.'
          : kernelModels.length === 0
            ? `No fitted model in ${variables.label}.`
            : null;
  return (
    <div className="opsbook-ServePanel-body">
      <div className="opsbook-ServePanel-headRow">
        {/* The sidebar's section title says "Serve" already. */}
        <span className="opsbook-ServePanel-hint">{endpointSummary(endpoints)}</span>
        <button type="button" className="opsbook-ServePanel-refresh" title="List the endpoints, the registry and the kernel's models again" onClick={() => void panel.refresh()}>
          Refresh
        </button>
      </div>
      {panel.problem && (
        <p className="opsbook-ServePanel-error" role="alert">
          {panel.problem}
        </p>
      )}
      <section aria-label="Endpoints" className="opsbook-ServePanel-endpoints">
        <EndpointsView
          endpoints={endpoints.kind === 'ready' ? endpoints.value : undefined}
          error={endpoints.kind === 'error' ? endpoints.message : undefined}
          history={panel.history}
          empty="No endpoint yet: serve a model below."
          onStop={(name) => panel.stop(name)}
          onTest={(name, request) => panel.api.test(name, request)}
        />
      </section>
      <section aria-label="Models to serve" className="opsbook-ServePanel-models">
        <h4 className="opsbook-ServePanel-subheading">Registered models</h4>
        {registry.kind === 'loading' && <p className="opsbook-ServePanel-hint">Reading the registry…</p>}
        {registry.kind === 'error' && <p className="opsbook-ServePanel-error">{registry.message}</p>}
        {registry.kind === 'ready' && registry.value.length === 0 && <p className="opsbook-ServePanel-hint">No registered model yet (opsbook.log_model registers one).</p>}
        {registry.kind === 'ready' && registry.value.length > 0 && (
          <ul className="opsbook-ServePanel-list">
            {registry.value.map((entry) => (
              <RegistryRow key={entry.name} entry={entry} panel={panel} />
            ))}
          </ul>
        )}
        <h4 className="opsbook-ServePanel-subheading">Kernel models</h4>
        {kernelText !== null && <p className={`opsbook-ServePanel-${variables.kind === 'error' ? 'error' : 'hint'}`}>{kernelText}</p>}
        {kernelModels.length > 0 && (
          <ul className="opsbook-ServePanel-list">
            {kernelModels.map((variable) => {
              const busy = panel.starting.get(`kernel:${variable.name}`);
              return (
                <li key={variable.name} className="opsbook-ServePanel-row">
                  <span className="opsbook-ServePanel-name" title={variable.type}>
                    {variable.name}
                  </span>
                  <span className="opsbook-ServePanel-type">{variable.type}</span>
                  <button
                    type="button"
                    className="opsbook-ServePanel-serve"
                    aria-label={`Serve ${variable.name}`}
                    title="Register it through log_model (rows of the notebook as its sample), then serve it"
                    disabled={busy !== undefined}
                    onClick={() => void panel.serve({ kind: 'kernel', name: variable.name })}
                  >
                    {busy ?? 'Serve'}
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </div>
  );
}

function endpointSummary(endpoints: ServePanel['endpoints']): string {
  if (endpoints.kind !== 'ready') return '';
  const live = endpoints.value.filter((e) => e.status === 'starting' || e.status === 'ready').length;
  return `${live} running endpoint${live === 1 ? '' : 's'}`;
}

function RegistryRow({ entry, panel }: { entry: RegistryEntry; panel: ServePanel }): JSX.Element {
  const [ref, setRef] = useState(entry.refs[0]);
  const chosen = entry.refs.includes(ref) ? ref : entry.refs[0];
  const busy = panel.starting.get(`registry:${entry.name}`);
  return (
    <li className="opsbook-ServePanel-row">
      <span className="opsbook-ServePanel-name">{entry.name}</span>
      <select aria-label={`Version of ${entry.name}`} value={chosen} onChange={(event) => setRef(event.target.value)}>
        {entry.refs.map((r) => (
          <option key={r} value={r}>
            {r === entry.name ? 'latest' : r.slice(entry.name.length)}
          </option>
        ))}
      </select>
      <button
        type="button"
        className="opsbook-ServePanel-serve"
        aria-label={`Serve ${entry.name}`}
        disabled={busy !== undefined}
        onClick={() => void panel.serve({ kind: 'registry', ref: chosen })}
      >
        {busy ?? 'Serve'}
      </button>
    </li>
  );
}

const SERVE_PANEL_CSS = `
.opsbook-ServePanel { background: var(--jp-layout-color1); overflow: auto; color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1); min-height: 120px; }
.opsbook-ServePanel-body { display: flex; flex-direction: column; gap: 8px; padding: 6px 8px 12px; }
.opsbook-ServePanel-headRow { display: flex; justify-content: space-between; align-items: center; }
.opsbook-ServePanel-subheading { margin: 4px 0 2px; font-size: var(--jp-ui-font-size1); font-weight: 600; color: var(--jp-ui-font-color2); }
.opsbook-ServePanel-hint { margin: 0; color: var(--jp-ui-font-color2); }
.opsbook-ServePanel-error { margin: 0; color: var(--jp-error-color1); overflow-wrap: anywhere; }
.opsbook-ServePanel-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.opsbook-ServePanel-row { display: flex; align-items: center; gap: 6px; padding: 2px 0; min-width: 0; }
.opsbook-ServePanel-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; flex: 0 1 auto; }
.opsbook-ServePanel-type { color: var(--jp-ui-font-color2); font-size: 0.9em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; min-width: 0; }
.opsbook-ServePanel-row select { min-width: 5.5em; flex: 1 0 auto; max-width: 12em; font: inherit; color: var(--jp-ui-font-color1); background: var(--jp-layout-color1); border: 1px solid var(--jp-border-color1); border-radius: 2px; }
.opsbook-ServePanel button { font: inherit; color: var(--jp-ui-font-color1); background: var(--jp-layout-color1); border: 1px solid var(--jp-border-color1); border-radius: 2px; padding: 1px 8px; cursor: pointer; white-space: nowrap; }
.opsbook-ServePanel button.opsbook-ServePanel-serve { margin-left: auto; border-color: var(--jp-brand-color1); color: var(--jp-brand-color1); }
.opsbook-ServePanel button:hover:not(:disabled) { background: var(--jp-layout-color2); }
.opsbook-ServePanel button:disabled { opacity: 0.6; cursor: default; }
.opsbook-ServePanel button:focus-visible, .opsbook-ServePanel select:focus-visible { outline: 2px solid var(--jp-brand-color1); outline-offset: 1px; }
`;
