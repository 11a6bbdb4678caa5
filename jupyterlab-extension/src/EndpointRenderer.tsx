import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { followEvents, type OpsbookClient } from '@opsbook/core/client';
import { EndpointCard, addStats, applyServeEvent, type StatsHistory } from '@opsbook/core/views';
import type { Endpoint, ServeEvent } from '@opsbook/schema';
import { useEffect, useState } from 'react';
import { createLabClient } from './client';
import { OpsbookRenderer } from './OpsbookRenderer';

/** The mimetype of `%serve`, `opsbook.serve()` and `%opsbook endpoints show|stop` (`schema/endpoint.schema.json`). */
export const ENDPOINT_MIME_TYPE = 'application/vnd.opsbook.endpoint+json';

let labClient: OpsbookClient | undefined;
const listeners = new Set<{ onServe(event: ServeEvent): void; onOpen(): void }>();
let stream: { close(): void } | null = null;

/**
 * One `event: serve` stream for every endpoint output of the page (a browser holds few connections
 * per server), opened with the first output that follows it and closed with the last.
 */
function followServe(listener: { onServe(event: ServeEvent): void; onOpen(): void }): () => void {
  listeners.add(listener);
  stream ??= followEvents(client(), {
    onEvent: () => undefined,
    onServe: (event) => listeners.forEach((l) => l.onServe(event.data)),
    onOpen: () => listeners.forEach((l) => l.onOpen()),
  });
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      stream?.close();
      stream = null;
    }
  };
}

function client(): OpsbookClient {
  labClient ??= createLabClient();
  return labClient;
}

/**
 * An endpoint in a notebook: as the output recorded it, then kept current by `event: serve` while
 * shown (status, latency sparkline), with its Stop button and the test form (open), both through
 * this Jupyter server's Opsbook API.
 */
function LiveEndpoint({ initial }: { initial: Endpoint }): JSX.Element {
  const [endpoint, setEndpoint] = useState(initial);
  const [history, setHistory] = useState<StatsHistory>(() => addStats({}, initial.name, initial.stats));
  useEffect(() => {
    setEndpoint(initial);
    const name = initial.name;
    return followServe({
      onServe: (event) => {
        if (event.endpoint !== name) return;
        setEndpoint((current) => applyServeEvent([current], event)?.[0] ?? current);
        setHistory((current) => addStats(current, name, event.stats));
      },
      // Read afresh when the stream (re)opens: it may have stopped since the output was made.
      onOpen: () => {
        client()
          .getEndpoint(name)
          .then(
            (fresh) => setEndpoint((current) => (fresh.started_at === current.started_at ? (fresh as Endpoint) : current)),
            () => undefined,
          );
      },
    });
  }, [initial]);
  return (
    <div className="opsbook-view">
      <EndpointCard
        endpoint={endpoint}
        history={history[endpoint.name]}
        testOpen
        onStop={async (name) => setEndpoint((await client().stopEndpoint(name)) as Endpoint)}
        onTest={(name, request) => client().testEndpoint(name, request)}
      />
    </div>
  );
}

/** Renders an endpoint with its status, URL, models, latency, Stop button and test form. */
export class EndpointRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-EndpointRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const endpoint = model.data[this.options.mimeType] as unknown as Endpoint;
    return this.renderView(<LiveEndpoint initial={endpoint} />);
  }
}
