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
  const fetchThroughJupyter: FetchLike = async (url, init) => {
    try {
      // `no-cache` still revalidates every read, but unlike the default `no-store` it does not make
      // ServerConnection append a cache-busting `?<timestamp>`, which the API rejects as an unknown parameter.
      const request: RequestInit = { method: init.method, headers: init.headers, body: init.body, cache: 'no-cache' };
      return await ServerConnection.makeRequest(url, request, settings);
    } catch (reason) {
      // makeRequest wraps fetch failures; say what could not be reached.
      const detail = reason instanceof Error ? reason.message : String(reason);
      throw new Error(`Cannot reach the Jupyter server (${detail})`);
    }
  };
  return new OpsbookClient({ baseUrl: URLExt.join(settings.baseUrl, API_PATH), fetch: fetchThroughJupyter });
}
