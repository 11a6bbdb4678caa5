import { createRoot, type Root } from 'react-dom/client';
import type { ActivationFunction } from 'vscode-notebook-renderer';
import { checkValue, WebviewMessenger } from '../shared';
import { OUTPUT_SCHEMAS, OutputView, type OutputActions } from './OutputView';

/**
 * The notebook renderer of the `application/vnd.opsbook.*+json` outputs: each output's data is checked
 * against its schema (a bad one says why instead of drawing nothing), then drawn by the shared views.
 * With the extension's messaging, a run card's Open opens the run in a panel and a compare output's
 * chart reads series through the extension.
 */
export const activate: ActivationFunction = (context) => {
  const roots = new Map<string, Root>();
  let actions: OutputActions = {};
  if (context.postMessage && context.onDidReceiveMessage) {
    const messenger = new WebviewMessenger({
      post: (message) => void context.postMessage!(message),
      listen: (handler) => {
        const subscription = context.onDidReceiveMessage!(handler);
        return () => subscription.dispose();
      },
    });
    actions = { open: (view) => messenger.send({ type: 'open', view }), client: messenger.client() };
  }
  return {
    renderOutputItem(item, element) {
      roots.get(item.id)?.unmount();
      const root = createRoot(element);
      roots.set(item.id, root);
      let data: unknown;
      try {
        data = item.json();
      } catch (error) {
        root.render(<Problem mime={item.mime} message={`its data is not JSON (${(error as Error).message})`} />);
        return;
      }
      const schema = OUTPUT_SCHEMAS[item.mime];
      let issue: string | null;
      try {
        issue = schema ? checkValue(schema, data) : `${item.mime} is not an Opsbook mimetype`;
      } catch (error) {
        // A validator that fails on odd data must still leave a message in the cell, not a blank.
        issue = `its data could not be checked (${(error as Error).message})`;
      }
      root.render(issue ? <Problem mime={item.mime} message={issue} /> : <OutputView mime={item.mime} data={data} metadata={mimeMetadata(item.metadata, item.mime)} actions={actions} />);
    },
    disposeOutputItem(id) {
      if (id === undefined) {
        for (const root of roots.values()) root.unmount();
        roots.clear();
        return;
      }
      roots.get(id)?.unmount();
      roots.delete(id);
    },
  };
};

/** The part of an output's metadata keyed by its mimetype, as nbformat stores per-mimetype metadata. */
function mimeMetadata(metadata: unknown, mime: string): { only_differences?: unknown } | undefined {
  const own = metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>)[mime] : undefined;
  return own && typeof own === 'object' ? (own as { only_differences?: unknown }) : undefined;
}

function Problem({ mime, message }: { mime: string; message: string }): JSX.Element {
  return (
    <p role="alert" style={{ color: 'var(--vscode-errorForeground)' }}>
      Opsbook cannot draw this {mime} output: {message}
    </p>
  );
}
