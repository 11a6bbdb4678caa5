import { useEffect, useRef, useState } from 'react';
import type { Artifact } from '@opsbook/schema';
import { loadPlotly, type PlotlyLoader } from './plotly';
import { ensureStyleSheet, ensureViewStyles } from './styles';

export interface ArtifactsListProps {
  /** The run's artifacts (`listArtifacts`); `undefined` while loading. */
  artifacts?: Artifact[];
  /** Reads an artifact's bytes (`getArtifactContent`), typed with its media type. */
  loadContent: (artifact: Artifact) => Promise<Blob>;
  /** Supplies plotly.js for plotly figures. */
  plotly?: PlotlyLoader;
  /** Why the list could not be read, shown in its place. */
  error?: string;
}

/** How an artifact is previewed, from its media type. */
export type PreviewKind = 'image' | 'csv' | 'json' | 'plotly' | 'text' | 'none';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml']);
/** Largest file read for a text preview; bigger ones are downloaded instead. */
const MAX_TEXT_PREVIEW = 2 * 1024 * 1024;
const MAX_CSV_ROWS = 50;

/** The preview an artifact gets: images, CSV as a table, JSON pretty-printed, plotly as a chart, text. */
export function previewKind(artifact: Pick<Artifact, 'media_type' | 'name' | 'size'>): PreviewKind {
  const type = artifact.media_type;
  if (IMAGE_TYPES.has(type)) return 'image';
  if (type === 'application/vnd.plotly.v1+json') return 'plotly';
  if (artifact.size > MAX_TEXT_PREVIEW) return 'none';
  if (type === 'text/csv') return 'csv';
  if (type === 'application/json') return 'json';
  if (type.startsWith('text/') && type !== 'text/html') return 'text';
  return 'none';
}

/** The rows of a small CSV (quoted fields with commas, doubled quotes and newlines kept). */
export function parseCsv(text: string, maxRows = MAX_CSV_ROWS): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) rows.push([...row, field]);
  return rows;
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A blob's text (FileReader where `Blob.text` is missing, as in older webviews). */
function blobText(blob: Blob): Promise<string> {
  if (typeof blob.text === 'function') return blob.text();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsText(blob);
  });
}

/** Saves a blob under a file name through a temporary link (the browser's own download). */
function download(blob: Blob, name: string, doc: Document): void {
  const url = URL.createObjectURL(blob);
  const link = doc.createElement('a');
  link.href = url;
  link.download = name.split('/').pop() ?? 'artifact';
  doc.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const CSS = `
.opsbook-ArtifactsList-table button.opsbook-link { background: none; border: 0; padding: 0; color: var(--opsbook-focus); cursor: pointer; font: inherit; text-align: left; }
.opsbook-ArtifactsList-table tr[aria-selected='true'] { background: var(--opsbook-bg-selected); }
.opsbook-ArtifactsList-preview { margin-top: 8px; border: 1px solid var(--opsbook-border); padding: 8px; overflow: auto; max-height: 480px; }
.opsbook-ArtifactsList-preview img { max-width: 100%; background: white; }
.opsbook-ArtifactsList-preview pre { margin: 0; font-family: var(--opsbook-mono); white-space: pre-wrap; }
.opsbook-ArtifactsList-plot { min-height: 320px; }
`;

/** A run's artifacts: a table (name, kind, size, type) with download, and a preview of the one selected. */
export function ArtifactsList({ artifacts, loadContent, plotly = loadPlotly, error }: ArtifactsListProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureStyleSheet('opsbook-artifacts-css', CSS);
  }, []);
  const [selected, setSelected] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const current = artifacts?.find((a) => a.name === selected) ?? null;

  if (error) return <p className="opsbook-view opsbook-muted" role="alert">Could not list the artifacts: {error}</p>;
  if (!artifacts) return <p className="opsbook-view opsbook-muted">Loading artifacts…</p>;
  if (artifacts.length === 0) return <p className="opsbook-view opsbook-muted opsbook-ArtifactsList-empty">No artifacts logged.</p>;

  const save = (artifact: Artifact): void => {
    setFailure(null);
    loadContent(artifact)
      .then((blob) => download(blob, artifact.name, document))
      .catch((reason: unknown) => setFailure(`${artifact.name}: ${reason instanceof Error ? reason.message : String(reason)}`));
  };

  return (
    <div className="opsbook-view opsbook-ArtifactsList">
      <table className="opsbook-table opsbook-ArtifactsList-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Size</th>
            <th scope="col">Type</th>
            <th scope="col">
              <span className="opsbook-sr-only">Download</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {artifacts.map((artifact) => (
            <tr key={artifact.name} aria-selected={artifact.name === selected} data-artifact={artifact.name}>
              <td>
                <button type="button" className="opsbook-link" title="Preview" onClick={() => setSelected(artifact.name === selected ? null : artifact.name)}>
                  {artifact.name}
                </button>
              </td>
              <td>{artifact.kind}</td>
              <td className="opsbook-num">{formatBytes(artifact.size)}</td>
              <td className="opsbook-muted">{artifact.media_type}</td>
              <td>
                <button type="button" className="jp-Button jp-mod-minimal" aria-label={`Download ${artifact.name}`} onClick={() => save(artifact)}>
                  Download
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {failure && (
        <p className="opsbook-muted" role="alert">
          Could not download {failure}
        </p>
      )}
      {current && <ArtifactPreview key={`${current.name}:${current.sha256}`} artifact={current} loadContent={loadContent} plotly={plotly} />}
    </div>
  );
}

type Loaded = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; blob: Blob; text?: string };

function ArtifactPreview({ artifact, loadContent, plotly }: { artifact: Artifact; loadContent: ArtifactsListProps['loadContent']; plotly: PlotlyLoader }): JSX.Element {
  const kind = previewKind(artifact);
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  useEffect(() => {
    if (kind === 'none') return undefined;
    let cancelled = false;
    loadContent(artifact)
      .then(async (blob) => {
        const text = kind === 'image' ? undefined : await blobText(blob);
        if (!cancelled) setLoaded({ kind: 'ready', blob, text });
      })
      .catch((reason: unknown) => {
        if (!cancelled) setLoaded({ kind: 'error', message: reason instanceof Error ? reason.message : String(reason) });
      });
    return () => {
      cancelled = true;
    };
  }, [artifact, kind, loadContent]);

  let body: JSX.Element;
  if (kind === 'none') body = <p className="opsbook-muted">No preview for {artifact.media_type}; download it instead.</p>;
  else if (loaded.kind === 'loading') body = <p className="opsbook-muted">Loading preview…</p>;
  else if (loaded.kind === 'error') body = <p role="alert">Could not load the preview: {loaded.message}</p>;
  else if (kind === 'image') body = <BlobImage blob={loaded.blob} alt={artifact.name} />;
  else if (kind === 'csv') body = <CsvTable rows={parseCsv(loaded.text ?? '')} />;
  else if (kind === 'json') body = <pre>{prettyJson(loaded.text ?? '')}</pre>;
  else if (kind === 'plotly') body = <PlotlyFigure text={loaded.text ?? ''} plotly={plotly} />;
  else body = <pre>{loaded.text}</pre>;
  return (
    <section className="opsbook-ArtifactsList-preview" aria-label={`Preview of ${artifact.name}`} data-preview={kind}>
      {body}
    </section>
  );
}

/** An image from bytes already read (with the API's auth), through an object URL revoked on unmount. */
export function BlobImage({ blob, alt, className }: { blob: Blob; alt: string; className?: string }): JSX.Element {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const made = URL.createObjectURL(blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [blob]);
  return url ? <img src={url} alt={alt} className={className} /> : <span />;
}

function CsvTable({ rows }: { rows: string[][] }): JSX.Element {
  const [head, ...body] = rows;
  if (!head) return <p className="opsbook-muted">Empty file.</p>;
  return (
    <table className="opsbook-table">
      <thead>
        <tr>
          {head.map((cell, i) => (
            <th key={i} scope="col">
              {cell}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {body.map((row, r) => (
          <tr key={r}>
            {row.map((cell, i) => (
              <td key={i}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function PlotlyFigure({ text, plotly }: { text: string; plotly: PlotlyLoader }): JSX.Element {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return undefined;
    let figure: { data?: object[]; layout?: object };
    try {
      figure = JSON.parse(text) as { data?: object[]; layout?: object };
    } catch (reason) {
      setError(`not a plotly figure: ${(reason as Error).message}`);
      return undefined;
    }
    let api: Awaited<ReturnType<PlotlyLoader>> | undefined;
    plotly()
      .then(async (loaded) => {
        api = loaded;
        await loaded.react(element, figure.data ?? [], figure.layout ?? {}, { displaylogo: false, responsive: true });
      })
      .catch((reason: unknown) => setError(reason instanceof Error ? reason.message : String(reason)));
    return () => api?.purge(element);
  }, [text, plotly]);
  return (
    <>
      {error && <p role="alert">Could not draw the figure: {error}</p>}
      <div ref={ref} className="opsbook-ArtifactsList-plot" />
    </>
  );
}
