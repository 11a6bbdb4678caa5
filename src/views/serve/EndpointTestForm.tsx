import type { EndpointModel, EndpointTestAnswer, EndpointTestRequest } from '@opsbook/schema';
import { useId, useRef, useState } from 'react';
import { curlCommand, formatLatency, parseRequest, requestText, startingRequest } from './serveData';

export interface EndpointTestFormProps {
  /** The endpoint's models (the form picks one; ready ones only are offered). */
  models: readonly EndpointModel[];
  /** The endpoint's URL, for the curl line; null hides it. */
  url: string | null;
  /** Sends the request through the daemon (`testEndpoint`). Rejects when the daemon refused it. */
  onSend(request: EndpointTestRequest): Promise<EndpointTestAnswer>;
  /** Whether sending is possible now (the endpoint is ready). */
  disabled?: boolean;
}

type Result = { kind: 'answer'; answer: EndpointTestAnswer } | { kind: 'error'; message: string };

/**
 * "Send test request": the model's sample row as an editable V2 request (its logged
 * `<stem>.sample.json`, else zeros of its input shapes), sent through the daemon; shows the server's
 * status, the latency and the answer (outputs, or the server's error). Ctrl/Cmd+Enter sends.
 */
export function EndpointTestForm({ models, url, onSend, disabled = false }: EndpointTestFormProps): JSX.Element {
  const ids = useId();
  const offered = models.filter((m) => m.ready);
  const [picked, setPicked] = useState(0);
  const model = offered[Math.min(picked, Math.max(0, offered.length - 1))];
  const [texts, setTexts] = useState<Record<string, string>>({});
  const key = model ? `${model.name}:${model.version}` : '';
  const text = texts[key] ?? (model ? requestText(startingRequest(model)) : '');
  const parsed = parseRequest(text);
  const [result, setResult] = useState<Result | null>(null);
  const [sending, setSending] = useState(false);
  const sent = useRef(0);

  if (!model) return <p className="opsbook-ServeTest-hint">No model of this endpoint is ready to test.</p>;

  const send = async (): Promise<void> => {
    if (!('request' in parsed) || sending || disabled) return;
    const mine = ++sent.current;
    setSending(true);
    try {
      const answer = await onSend({ model: model.name, version: model.version, request: parsed.request });
      if (mine === sent.current) setResult({ kind: 'answer', answer });
    } catch (reason) {
      if (mine === sent.current) setResult({ kind: 'error', message: reason instanceof Error ? reason.message : String(reason) });
    } finally {
      if (mine === sent.current) setSending(false);
    }
  };

  return (
    <form
      className="opsbook-ServeTest"
      aria-label={`Test request to ${model.name}`}
      onSubmit={(event) => {
        event.preventDefault();
        void send();
      }}
    >
      {offered.length > 1 && (
        <label className="opsbook-ServeTest-row">
          <span>Model</span>
          <select value={String(offered.indexOf(model))} onChange={(event) => setPicked(Number(event.target.value))}>
            {offered.map((m, i) => (
              <option key={`${m.name}:${m.version}`} value={String(i)}>
                {m.name}:{m.version}
              </option>
            ))}
          </select>
        </label>
      )}
      <label htmlFor={`${ids}-body`} className="opsbook-ServeTest-label">
        Request (V2 JSON{model.sample_request ? ', the logged sample row' : ', zeros of the input shapes'})
      </label>
      <textarea
        id={`${ids}-body`}
        className="opsbook-ServeTest-body"
        spellCheck={false}
        rows={Math.min(12, Math.max(4, text.split('\n').length))}
        value={text}
        aria-invalid={'error' in parsed ? true : undefined}
        aria-describedby={'error' in parsed ? `${ids}-problem` : undefined}
        onChange={(event) => setTexts({ ...texts, [key]: event.target.value })}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            void send();
          }
        }}
      />
      {'error' in parsed && (
        <p id={`${ids}-problem`} className="opsbook-ServeTest-error" role="alert">
          {parsed.error}
        </p>
      )}
      <div className="opsbook-ServeTest-actions">
        <button type="submit" className="opsbook-ServeTest-send" disabled={disabled || sending || !('request' in parsed)}>
          {sending ? 'Sending…' : 'Send test request'}
        </button>
        {texts[key] !== undefined && (
          <button
            type="button"
            title="Start again from the model's sample request"
            onClick={() => {
              const rest = { ...texts };
              delete rest[key];
              setTexts(rest);
            }}
          >
            Reset
          </button>
        )}
      </div>
      {result && <TestResult result={result} />}
      {url && 'request' in parsed && (
        <details className="opsbook-ServeTest-curl">
          <summary>curl</summary>
          <pre>{curlCommand(url, model, parsed.request)}</pre>
        </details>
      )}
    </form>
  );
}

function TestResult({ result }: { result: Result }): JSX.Element {
  if (result.kind === 'error') {
    return (
      <p className="opsbook-ServeTest-error" role="alert">
        {result.message}
      </p>
    );
  }
  const { status, latency_ms: latency, body } = result.answer;
  const ok = status >= 200 && status < 300;
  const error = !ok && typeof (body as { error?: unknown }).error === 'string' ? (body as { error: string }).error : null;
  return (
    <div className="opsbook-ServeTest-result" role="status" aria-live="polite">
      <p className="opsbook-ServeTest-status">
        <span className={`opsbook-ServeTest-code ${ok ? 'opsbook-ServeTest-ok' : 'opsbook-ServeTest-bad'}`}>HTTP {status}</span> in {formatLatency(latency)}
      </p>
      {error !== null ? <p className="opsbook-ServeTest-error">{error}</p> : <pre className="opsbook-ServeTest-answer">{answerText(body)}</pre>}
    </div>
  );
}

/** The answer's outputs one per line (`name DATATYPE[shape]: values`), else the body as JSON. */
function answerText(body: object): string {
  const outputs = (body as { outputs?: unknown }).outputs;
  if (!Array.isArray(outputs)) return JSON.stringify(body, null, 2);
  return outputs
    .map((o: { name?: string; datatype?: string; shape?: number[]; data?: unknown[] }) => {
      const data = Array.isArray(o.data) ? o.data : [];
      const shown = data.slice(0, 50).map((v) => (typeof v === 'number' ? Number(v.toPrecision(6)) : v));
      return `${o.name} ${o.datatype}[${(o.shape ?? []).join(', ')}]: ${JSON.stringify(shown)}${data.length > 50 ? ` … ${data.length - 50} more` : ''}`;
    })
    .join('\n');
}
