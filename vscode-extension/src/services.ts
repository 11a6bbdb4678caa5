import type { KernelBridge } from '@opsbook/kernel-bridge';
import type { OpsbookClient } from '@opsbook/core/client';
import type { LiveEvent, OpsbookSchemas, WebviewView } from '@opsbook/schema';
import type * as vscode from 'vscode';

/**
 * The services the parts of the extension share, each implemented once: the workspace daemon
 * (`workspaceDaemon.ts`), the webview panels (`webviews/`), the notebook kernels (`kernels/`).
 * `extension.ts` constructs them directly and hands them to the trees and commands.
 */

/** An answer of the daemon's API as the extension forwards it: HTTP status and JSON body (null when none). */
export interface ApiAnswer {
  status: number;
  body: unknown;
  /** The answer's bytes, base64, when it was not JSON (an artifact's file); `body` is then null. */
  content?: { media_type: string; base64: string };
}

/** The `event:` name of a live event. */
export type LiveEventName = NonNullable<OpsbookSchemas['LiveEventName']>;

/** One event of the daemon's live stream (`GET /events`, schema/event.schema.json). */
export interface DaemonEvent {
  name: LiveEventName;
  data: LiveEvent;
}

/** The workspace's daemon as the extension host reaches it: over HTTP, never by loading the store. */
export interface WorkspaceDaemon extends vscode.Disposable {
  /**
   * A client of the workspace folder's daemon: the one its discovery file announces, or one started with
   * the `opsbook.daemon.command` setting (by default the core bundled with the extension).
   * @throws DaemonUnavailableError whose message says what failed and what to do (no folder open, the
   *   daemon did not start within its time, the command was not found).
   */
  client(): Promise<OpsbookClient>;

  /**
   * Makes one API call with the token added. `path` is relative to the API base (`/runs?limit=5`).
   * Never throws for an HTTP status; when the daemon cannot be reached the answer has status 0 and an
   * error.schema.json body (code `unavailable`).
   */
  request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiAnswer>;

  /** Each event of the live stream. The stream is open while at least one listener is subscribed. */
  readonly onEvent: vscode.Event<DaemonEvent>;

  /** Fires each time the stream (re)opens: events sent while it was closed are lost, so read lists again. */
  readonly onConnected: vscode.Event<void>;
}

/** The webview panels: one per view kind, reused, mounting the shared views of `@opsbook/core/views`. */
export interface WebviewPanels extends vscode.Disposable {
  /** Opens (or reveals) the panel for the view's kind and shows the view in it. */
  open(view: WebviewView): void;
}

/** The kernels of open notebooks, whichever provides them (the Jupyter extension, or Opsbook's controller). */
export interface NotebookKernels extends vscode.Disposable {
  /**
   * A bridge to the running kernel of the notebook, or null when the notebook has none running.
   * @throws KernelBridgeError when the kernel is there but does not answer.
   */
  bridgeFor(notebook: vscode.NotebookDocument): Promise<KernelBridge | null>;
}
