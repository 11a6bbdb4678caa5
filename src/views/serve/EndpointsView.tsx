import type { Endpoint, EndpointStats, EndpointTestAnswer, EndpointTestRequest } from '@opsbook/schema';
import { useEffect, useState } from 'react';
import { EndpointTestForm } from './EndpointTestForm';
import { LatencySparkline } from './LatencySparkline';
import { isLive } from './serveData';
import { ensureServeStyles } from './serveStyles';

/** What a view can do with an endpoint through the daemon; a view without them shows the endpoint only. */
export interface EndpointActions {
  /** `stopEndpoint`. Rejects when the daemon refused. */
  onStop?(name: string): Promise<unknown>;
  /** `testEndpoint`. Rejects when the daemon refused (404, 409). */
  onTest?(name: string, request: EndpointTestRequest): Promise<EndpointTestAnswer>;
}

export interface EndpointCardProps extends EndpointActions {
  endpoint: Endpoint;
  /** Its stats of the last minute, oldest first (default: its one `stats`). */
  history?: readonly EndpointStats[];
  /** Opens the test form at first (the notebook output does). */
  testOpen?: boolean;
}

export interface EndpointsViewProps extends EndpointActions {
  /** The endpoints (`listEndpoints`, kept current by `event: serve`); undefined while loading. */
  endpoints?: readonly Endpoint[];
  /** Latency history per endpoint name. */
  history?: Readonly<Record<string, readonly EndpointStats[]>>;
  /** Why the list could not be read, shown in its place. */
  error?: string;
  /** Shown when there are no endpoints. */
  empty?: string;
}

const STATUS_TEXT: Record<Endpoint['status'], string> = {
  starting: 'Starting',
  ready: 'Ready',
  stopping: 'Stopping',
  stopped: 'Stopped',
  failed: 'Failed',
};

/** An endpoint status as colour and text. */
export function EndpointStatus({ status }: { status: Endpoint['status'] }): JSX.Element {
  return <span className={`opsbook-badge opsbook-ServeStatus opsbook-ServeStatus-${status}`}>{STATUS_TEXT[status] ?? status}</span>;
}

/**
 * One endpoint: name and status, its URL (a link, with a copy button), device, models (each ready
 * or why not), the latency sparkline while it runs, a Stop button, and the "send test request" form.
 */
export function EndpointCard({ endpoint, history, testOpen = false, onStop, onTest }: EndpointCardProps): JSX.Element {
  useEffect(() => ensureServeStyles(), []);
  const [stopping, setStopping] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const live = isLive(endpoint);
  const points = history ?? (endpoint.stats ? [endpoint.stats] : []);

  const stop = async (): Promise<void> => {
    if (!onStop || stopping) return;
    setStopping(true);
    setProblem(null);
    try {
      await onStop(endpoint.name);
    } catch (reason) {
      setProblem(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setStopping(false);
    }
  };

  const copy = (): void => {
    if (!endpoint.url) return;
    navigator.clipboard?.writeText(endpoint.url).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };

  return (
    <article className="opsbook-Endpoint" aria-label={`Endpoint ${endpoint.name}`} data-status={endpoint.status}>
      <header className="opsbook-Endpoint-head">
        <h3 className="opsbook-Endpoint-name">{endpoint.name}</h3>
        <EndpointStatus status={endpoint.status} />
        {endpoint.device && <span className="opsbook-Endpoint-device" title="Where the models run">{endpoint.device.toUpperCase()}</span>}
        {onStop && live && (
          <button type="button" className="opsbook-Endpoint-stop" disabled={stopping || endpoint.status === 'stopping'} onClick={() => void stop()} aria-label={`Stop endpoint ${endpoint.name}`}>
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
      </header>
      {endpoint.url && (
        <p className="opsbook-Endpoint-url">
          <a href={`${endpoint.url}/v2`} target="_blank" rel="noreferrer" className="opsbook-Endpoint-link">
            {endpoint.url}
          </a>
          <button type="button" className="opsbook-Endpoint-copy" onClick={copy} aria-label={`Copy the URL of ${endpoint.name}`} title="Copy the URL">
            {copied ? 'Copied' : 'Copy'}
          </button>
        </p>
      )}
      {endpoint.error && (
        <p className="opsbook-Endpoint-error" role="alert">
          {endpoint.error}
        </p>
      )}
      {problem && (
        <p className="opsbook-Endpoint-error" role="alert">
          {problem}
        </p>
      )}
      <ul className="opsbook-Endpoint-models" aria-label="Models">
        {endpoint.models.map((m) => (
          <li key={`${m.name}:${m.version}`} className={m.ready ? undefined : 'opsbook-Endpoint-modelDown'}>
            <span className="opsbook-Endpoint-model">
              {m.name}:{m.version}
            </span>{' '}
            <span className="opsbook-Endpoint-shape">{m.inputs.map((i) => `${i.name} ${i.datatype}[${i.shape.join(',')}]`).join(', ')}</span>
            {!m.ready && <span className="opsbook-Endpoint-error"> — {m.error ?? 'not loaded'}</span>}
          </li>
        ))}
      </ul>
      {live && <LatencySparkline points={points} />}
      {onTest && live && (
        <details className="opsbook-Endpoint-test" open={testOpen}>
          <summary>Send test request</summary>
          <EndpointTestForm models={endpoint.models} url={endpoint.url} disabled={endpoint.status !== 'ready'} onSend={(request) => onTest(endpoint.name, request)} />
        </details>
      )}
    </article>
  );
}

/** The endpoints the daemon supervises, running ones first (each an {@link EndpointCard}). */
export function EndpointsView({ endpoints, history = {}, error, empty = 'No endpoint yet.', onStop, onTest }: EndpointsViewProps): JSX.Element {
  useEffect(() => ensureServeStyles(), []);
  if (error) {
    return (
      <div className="opsbook-view opsbook-Endpoints">
        <p className="opsbook-Endpoint-error" role="alert">
          {error}
        </p>
      </div>
    );
  }
  if (!endpoints) {
    return (
      <div className="opsbook-view opsbook-Endpoints">
        <p className="opsbook-Endpoints-hint">Loading endpoints…</p>
      </div>
    );
  }
  const ordered = [...endpoints.filter(isLive), ...endpoints.filter((e) => !isLive(e))];
  return (
    <div className="opsbook-view opsbook-Endpoints">
      {ordered.length === 0 ? (
        <p className="opsbook-Endpoints-hint">{empty}</p>
      ) : (
        ordered.map((endpoint) => <EndpointCard key={endpoint.name} endpoint={endpoint} history={history[endpoint.name]} onStop={onStop} onTest={onTest} />)
      )}
    </div>
  );
}
