import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { OpsbookClient, type FetchLike } from '@opsbook/core/client';

/** The path under the Jupyter server where its extension proxies the Opsbook daemon's API. */
export const API_PATH = 'opsbook/api/v1';

/**
 * An {@link OpsbookClient} whose requests go through `ServerConnection.makeRequest`, so Jupyter's
 * own authentication and XSRF protection apply and no daemon token reaches the browser.
 */
export function createLabClient(settings: ServerConnection.ISettings = ServerConnection.makeSettings()): OpsbookClient {
  const fetchThroughJupyter: FetchLike = async (request) => {
    // makeRequest takes a URL and an init rather than a Request; the body is read back out of it.
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.text();
    try {
      // `no-cache` still revalidates every read, but unlike the default `no-store` it does not make
      // ServerConnection append a cache-busting `?<timestamp>`, which the API rejects as an unknown parameter.
      // The signal goes along so that closing a live event stream ends its request.
      const init: RequestInit = { method: request.method, headers: request.headers, body, cache: 'no-cache', signal: request.signal };
      return await ServerConnection.makeRequest(request.url, init, settings);
    } catch (reason) {
      // makeRequest wraps fetch failures; say what could not be reached.
      const detail = reason instanceof Error ? reason.message : String(reason);
      throw new Error(`Cannot reach the Jupyter server (${detail})`);
    }
  };
  return new OpsbookClient({ baseUrl: URLExt.join(settings.baseUrl, API_PATH), fetch: fetchThroughJupyter });
}
