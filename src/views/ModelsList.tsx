import { useEffect, useState } from 'react';
import type { ModelVersion, RegisteredModel } from '@opsbook/schema';
import { BlobImage } from './ArtifactsList';
import { relativeTime } from './format';
import { ensureStyleSheet, ensureViewStyles } from './styles';

export interface ModelsListProps {
  /** Registered models (`listModels`); `undefined` while loading. */
  models?: RegisteredModel[];
  /** Reads a version's parity figure (an artifact of its run). */
  loadFigure: (version: ModelVersion) => Promise<Blob>;
  /** Opens the run a version was logged in. */
  onOpenRun?: (runId: string) => void;
  /** Why the list could not be read, shown in its place. */
  error?: string;
  /** Clock for relative times, in ms since the epoch. */
  now?: number;
}

const CSS = `
.opsbook-ModelsList-model { border-bottom: 1px solid var(--opsbook-border); padding: 6px 8px; }
.opsbook-ModelsList-head { display: flex; align-items: baseline; gap: 6px; flex-wrap: wrap; margin: 0; font-size: 1em; }
.opsbook-ModelsList-name { font-weight: 600; }
.opsbook-ModelsList-alias { font-size: 0.85em; padding: 0 5px; border-radius: 8px; border: 1px solid var(--opsbook-focus); color: var(--opsbook-focus); }
.opsbook-ModelsList-versions { display: flex; flex-wrap: wrap; gap: 4px; margin: 4px 0; padding: 0; list-style: none; }
.opsbook-ModelsList-versions button { font: inherit; font-size: 0.9em; border: 1px solid var(--opsbook-border); background: transparent; color: inherit; border-radius: 3px; cursor: pointer; padding: 0 6px; }
.opsbook-ModelsList-versions button[aria-pressed='true'] { background: var(--opsbook-bg-selected); border-color: var(--opsbook-focus); }
.opsbook-ModelsList-facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 8px; margin: 4px 0; font-size: 0.9em; }
.opsbook-ModelsList-facts dt { color: var(--opsbook-fg-muted); }
.opsbook-ModelsList-facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.opsbook-ModelsList-figure { max-width: 100%; width: 240px; border: 1px solid var(--opsbook-border); background: white; }
.opsbook-ModelsList button.opsbook-link { background: none; border: 0; padding: 0; color: var(--opsbook-focus); cursor: pointer; font: inherit; }
`;

/** Registered models, each with its versions, aliases, the chosen version's facts and its parity figure. */
export function ModelsList({ models, loadFigure, onOpenRun, error, now = Date.now() }: ModelsListProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureStyleSheet('opsbook-models-css', CSS);
  }, []);
  if (error) return <p className="opsbook-view opsbook-muted" role="alert">Could not list the models: {error}</p>;
  if (!models) return <p className="opsbook-view opsbook-muted">Loading models…</p>;
  if (models.length === 0) {
    return (
      <p className="opsbook-view opsbook-muted opsbook-ModelsList-empty">
        No registered models. Log one from a notebook with <code>opsbook.log_model(model, &quot;name&quot;, sample=X)</code>.
      </p>
    );
  }
  return (
    <div className="opsbook-view opsbook-ModelsList">
      {models.map((model) => (
        <ModelCard key={model.name} model={model} loadFigure={loadFigure} onOpenRun={onOpenRun} now={now} />
      ))}
    </div>
  );
}

function ModelCard({ model, loadFigure, onOpenRun, now }: { model: RegisteredModel } & Pick<ModelsListProps, 'loadFigure' | 'onOpenRun'> & { now: number }): JSX.Element {
  const [chosen, setChosen] = useState<number | null>(null);
  const version = model.versions.find((v) => v.version === (chosen ?? model.latest_version)) ?? model.versions[0];
  const aliases = Object.entries(model.aliases).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section className="opsbook-ModelsList-model" data-model={model.name} aria-label={`Model ${model.name}`}>
      <h3 className="opsbook-ModelsList-head">
        <span className="opsbook-ModelsList-name">{model.name}</span>
        <span className="opsbook-muted opsbook-ModelsList-latest">v{model.latest_version}</span>
        {aliases.map(([alias, number]) => (
          <span key={alias} className="opsbook-ModelsList-alias" title={`${model.name}@${alias} is version ${number}`}>
            @{alias}→{number}
          </span>
        ))}
      </h3>
      {model.description && <p className="opsbook-muted">{model.description}</p>}
      <ul className="opsbook-ModelsList-versions" aria-label="Versions">
        {model.versions.map((v) => (
          <li key={v.version}>
            <button type="button" aria-pressed={v.version === version?.version} onClick={() => setChosen(v.version)}>
              v{v.version}
            </button>
          </li>
        ))}
      </ul>
      {version && <VersionFacts version={version} loadFigure={loadFigure} onOpenRun={onOpenRun} now={now} />}
    </section>
  );
}

function VersionFacts({ version, loadFigure, onOpenRun, now }: { version: ModelVersion } & Pick<ModelsListProps, 'loadFigure' | 'onOpenRun'> & { now: number }): JSX.Element {
  const features = version.signature.feature_names;
  return (
    <div className="opsbook-ModelsList-version" data-version={version.version}>
      <dl className="opsbook-ModelsList-facts">
        <dt>Flavor</dt>
        <dd>{version.flavor}</dd>
        <dt>Parity</dt>
        <dd className="opsbook-ModelsList-parity">
          {version.parity_max_abs_diff === null ? 'not checked' : `max |diff| ${version.parity_max_abs_diff.toExponential(2)}`}
          {version.signature.predict_method ? ` (${version.signature.predict_method})` : ''}
        </dd>
        <dt>Features</dt>
        <dd>{features ? features.join(', ') : `${version.signature.inputs.map((i) => i.name).join(', ')}`}</dd>
        {version.data_fingerprint && (
          <>
            <dt>Sample</dt>
            <dd title={version.data_fingerprint.hash}>{version.data_fingerprint.rows} rows</dd>
          </>
        )}
        <dt>Logged</dt>
        <dd>
          <time dateTime={version.created_at}>{relativeTime(version.created_at, now)}</time>
        </dd>
        {version.run_id && (
          <>
            <dt>Run</dt>
            <dd>
              {onOpenRun ? (
                <button type="button" className="opsbook-link" onClick={() => onOpenRun(version.run_id!)}>
                  {version.run_id.slice(0, 8)}
                </button>
              ) : (
                version.run_id.slice(0, 8)
              )}
            </dd>
          </>
        )}
      </dl>
      {version.parity_figure && <ParityFigure key={`${version.name}:${version.version}`} version={version} loadFigure={loadFigure} />}
    </div>
  );
}

function ParityFigure({ version, loadFigure }: { version: ModelVersion; loadFigure: ModelsListProps['loadFigure'] }): JSX.Element {
  const [state, setState] = useState<{ blob?: Blob; error?: string }>({});
  useEffect(() => {
    let cancelled = false;
    loadFigure(version)
      .then((blob) => !cancelled && setState({ blob }))
      .catch((reason: unknown) => !cancelled && setState({ error: reason instanceof Error ? reason.message : String(reason) }));
    return () => {
      cancelled = true;
    };
  }, [version, loadFigure]);
  if (state.error) return <p className="opsbook-muted">Parity figure unavailable: {state.error}</p>;
  if (!state.blob) return <p className="opsbook-muted">Loading parity figure…</p>;
  return <BlobImage blob={state.blob} alt={`Parity of ${version.name} v${version.version}: kernel vs onnxruntime`} className="opsbook-ModelsList-figure" />;
}
