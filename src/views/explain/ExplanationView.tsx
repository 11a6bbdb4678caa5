import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { Explanation } from '@opsbook/schema';
import { formatDuration } from '../format';
import type { PlotlyLoader } from '../plotly';
import { loadFullPlotly } from '../plotlyFull';
import { formatNumber } from '../quality/qualityFormat';
import { usePlotlyChart, type FigureTheme } from '../usePlotlyChart';
import { featureOrder, rowLabel, topInteraction } from './explainData';
import { beeswarmChart, dependenceChart, forceChart, limeChart, meanAbsChart, outputText, waterfallChart, type Chart } from './explainFigures';
import { ensureExplainStyles } from './explainStyles';

export interface ExplanationViewProps {
  /** The explanation drawn (`schema/explanation.schema.json`). */
  explanation: Explanation;
  /** Position in `explanation.rows` of the row the per-row charts show first (default 0). */
  row?: number;
  /** Told when the user picks another row. */
  onRowChange?: (row: number) => void;
  /** Supplies plotly.js; defaults to the full dist (waterfall and scattergl are not in the basic one). */
  plotly?: PlotlyLoader;
}

/** The views an explanation offers, in tab order. */
export type ExplanationTab = 'beeswarm' | 'bar' | 'dependence' | 'waterfall' | 'force' | 'lime';

const TAB_TEXT: Record<ExplanationTab, string> = {
  beeswarm: 'Beeswarm',
  bar: 'Mean |value|',
  dependence: 'Dependence',
  waterfall: 'Waterfall',
  force: 'Force',
  lime: 'LIME weights',
};

/** Which views fit: per-row charts always; beeswarm and dependence for SHAP over several rows; LIME's bars for lime. */
export function explanationTabs(explanation: Explanation): ExplanationTab[] {
  const many = explanation.values.length > 1;
  if (explanation.method === 'lime') return ['lime', 'waterfall', ...(many ? (['bar'] as const) : [])];
  return [...(many ? (['beeswarm', 'bar', 'dependence'] as const) : []), 'waterfall', 'force'];
}

const METHOD_TEXT: Record<Explanation['method'], string> = { tree: 'TreeSHAP', kernel: 'KernelSHAP', lime: 'LIME' };

/**
 * An explanation of a model's output: for many rows a beeswarm, the mean |SHAP| bars and a
 * dependence plot; for one row (picked with the row picker) a waterfall and a force-style bar; for
 * LIME its weight bars. Tabs switch views (arrow keys move between them); every chart has an
 * accessible name and a sentence saying what it shows.
 */
export function ExplanationView({ explanation, row, onRowChange, plotly = loadFullPlotly }: ExplanationViewProps): JSX.Element {
  useEffect(() => ensureExplainStyles(), []);
  const ids = useId();
  const tabs = useMemo(() => explanationTabs(explanation), [explanation]);
  const rows = explanation.values.length;
  const [tab, setTab] = useState<ExplanationTab>(row !== undefined && rows > 1 && explanation.method !== 'lime' ? 'waterfall' : tabs[0]);
  const [picked, setPicked] = useState(row ?? 0);
  useEffect(() => {
    if (row !== undefined) setPicked(row);
  }, [row]);
  const current = Math.min(Math.max(0, picked), Math.max(0, rows - 1));
  const shown = tabs.includes(tab) ? tab : tabs[0];
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);

  const pickRow = (next: number): void => {
    const clamped = Math.min(Math.max(0, next), rows - 1);
    setPicked(clamped);
    onRowChange?.(clamped);
  };

  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>, index: number): void => {
    const move: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: -index, End: tabs.length - 1 - index };
    if (!(event.key in move)) return;
    event.preventDefault();
    const next = (index + move[event.key] + tabs.length) % tabs.length;
    setTab(tabs[next]);
    tabRefs.current[next]?.focus();
  };

  const perRow = shown === 'waterfall' || shown === 'force' || shown === 'lime';
  const { model } = explanation;
  const modelName = model.name ? `${model.name}${model.version ? ` v${model.version}` : ''}` : fileName(model.ref);
  if (rows === 0) {
    return (
      <div className="opsbook-view opsbook-ExplanationView">
        <p className="opsbook-muted">This explanation holds no rows.</p>
      </div>
    );
  }
  return (
    <div className="opsbook-view opsbook-ExplanationView" data-method={explanation.method}>
      <h2 className="opsbook-ExplanationView-title">
        <span title={model.path}>
          {METHOD_TEXT[explanation.method]} of {modelName}
        </span>
        <span className="opsbook-ExplanationView-output">{outputText(explanation)}</span>
      </h2>
      <p className="opsbook-ExplanationView-facts">
        <span>
          <strong>{rows.toLocaleString('en-US')}</strong> {rows === 1 ? 'row' : 'rows'} × <strong>{explanation.feature_names.length}</strong> features
        </span>
        {explanation.data?.label && <span>of {explanation.data.label}</span>}
        {explanation.tree_mode && <span>{explanation.tree_mode.replace('_', '-')}</span>}
        {explanation.background_rows !== undefined && <span>{explanation.background_rows.toLocaleString('en-US')} background rows</span>}
        {explanation.nsamples !== undefined && <span>{explanation.nsamples.toLocaleString('en-US')} samples</span>}
        <span>{formatDuration(explanation.seconds * 1000)}</span>
        {explanation.artifact && <span>recorded as {explanation.artifact}</span>}
      </p>
      <div className="opsbook-ExplanationView-bar">
        <div className="opsbook-ExplanationView-tabs" role="tablist" aria-label="Explanation views">
          {tabs.map((name, index) => (
            <button
              key={name}
              ref={(element) => {
                tabRefs.current[index] = element;
              }}
              type="button"
              role="tab"
              id={`${ids}-tab-${name}`}
              aria-selected={name === shown}
              aria-controls={`${ids}-panel`}
              tabIndex={name === shown ? 0 : -1}
              data-tab={name}
              onClick={() => setTab(name)}
              onKeyDown={(event) => onTabKey(event, index)}
            >
              {TAB_TEXT[name]}
            </button>
          ))}
        </div>
        {perRow && rows > 1 && <RowPicker explanation={explanation} value={current} onChange={pickRow} />}
      </div>
      <div id={`${ids}-panel`} role="tabpanel" aria-labelledby={`${ids}-tab-${shown}`} className="opsbook-ExplanationView-panel">
        {shown === 'beeswarm' && <BeeswarmChart explanation={explanation} plotly={plotly} />}
        {shown === 'bar' && <MeanAbsChart explanation={explanation} plotly={plotly} />}
        {shown === 'dependence' && <DependenceChart explanation={explanation} plotly={plotly} />}
        {shown === 'waterfall' && <WaterfallChart explanation={explanation} row={current} plotly={plotly} />}
        {shown === 'force' && <ForceChart explanation={explanation} row={current} plotly={plotly} />}
        {shown === 'lime' && <LimeChart explanation={explanation} row={current} plotly={plotly} />}
      </div>
    </div>
  );
}

/** An .onnx path's file name without the extension, as a title names the model; a reference as given. */
export function fileName(ref: string): string {
  return ref.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, '') || ref;
}

/** Picks the row the per-row charts show: a list of the explained rows (arrow keys step through it) and previous/next. */
function RowPicker({ explanation, value, onChange }: { explanation: Explanation; value: number; onChange: (row: number) => void }): JSX.Element {
  const id = useId();
  const rows = explanation.values.length;
  return (
    <div className="opsbook-ExplanationView-rowPicker">
      <label htmlFor={id}>Row</label>
      <button type="button" aria-label="Previous row" disabled={value === 0} onClick={() => onChange(value - 1)}>
        ‹
      </button>
      <select id={id} value={value} onChange={(event) => onChange(Number(event.target.value))}>
        {explanation.rows.slice(0, rows).map((_, position) => (
          <option key={position} value={position}>
            {rowLabel(explanation, position)}
          </option>
        ))}
      </select>
      <button type="button" aria-label="Next row" disabled={value >= rows - 1} onClick={() => onChange(value + 1)}>
        ›
      </button>
      {explanation.predictions?.[value] !== undefined && (
        <span className="opsbook-muted" aria-live="polite">
          prediction {formatNumber(explanation.predictions[value])}
        </span>
      )}
    </div>
  );
}

/** One chart: the plotly element with its accessible name, and its summary sentence beside it. */
function ExplainChart({ kind, label, build, deps, plotly }: { kind: string; label: string; build: (theme: FigureTheme) => Chart; deps: readonly unknown[]; plotly: PlotlyLoader }): JSX.Element {
  const summaryId = useId();
  const [summary, setSummary] = useState('');
  const { ref, error } = usePlotlyChart(
    plotly,
    (theme) => {
      const chart = build(theme);
      setSummary(chart.summary);
      return chart.figure;
    },
    deps,
  );
  return (
    <figure className={`opsbook-ExplainChart opsbook-ExplainChart-${kind}`} data-chart={kind}>
      <div ref={ref} className="opsbook-ExplainChart-plot" role="img" aria-label={label} aria-describedby={summaryId} />
      {error && <div className="opsbook-error-text">{error}</div>}
      <figcaption id={summaryId} className="opsbook-ExplainChart-summary">
        {summary}
      </figcaption>
    </figure>
  );
}

function WaterfallChart({ explanation, row, plotly }: { explanation: Explanation; row: number; plotly: PlotlyLoader }): JSX.Element {
  return (
    <ExplainChart
      kind="waterfall"
      label={`Waterfall of ${rowLabel(explanation, row)}: each feature's contribution from the base value to the prediction`}
      build={(theme) => waterfallChart(explanation, row, theme)}
      deps={[explanation, row]}
      plotly={plotly}
    />
  );
}

function ForceChart({ explanation, row, plotly }: { explanation: Explanation; row: number; plotly: PlotlyLoader }): JSX.Element {
  return (
    <ExplainChart
      kind="force"
      label={`Force plot of ${rowLabel(explanation, row)}: features pushing the prediction higher and lower`}
      build={(theme) => forceChart(explanation, row, theme)}
      deps={[explanation, row]}
      plotly={plotly}
    />
  );
}

function BeeswarmChart({ explanation, plotly }: { explanation: Explanation; plotly: PlotlyLoader }): JSX.Element {
  return (
    <ExplainChart
      kind="beeswarm"
      label={`Beeswarm of SHAP values: one line per feature, ${explanation.values.length} rows, coloured by feature value`}
      build={(theme) => beeswarmChart(explanation, theme)}
      deps={[explanation]}
      plotly={plotly}
    />
  );
}

function MeanAbsChart({ explanation, plotly }: { explanation: Explanation; plotly: PlotlyLoader }): JSX.Element {
  return (
    <ExplainChart
      kind="bar"
      label={`Mean absolute ${explanation.method === 'lime' ? 'LIME weight' : 'SHAP value'} per feature`}
      build={(theme) => meanAbsChart(explanation, theme)}
      deps={[explanation]}
      plotly={plotly}
    />
  );
}

function LimeChart({ explanation, row, plotly }: { explanation: Explanation; row: number; plotly: PlotlyLoader }): JSX.Element {
  return (
    <ExplainChart
      kind="lime"
      label={`LIME weights of ${rowLabel(explanation, row)}: each condition's weight in the local linear model`}
      build={(theme) => limeChart(explanation, row, theme)}
      deps={[explanation, row]}
      plotly={plotly}
    />
  );
}

/** The dependence plot with its two pickers: the feature drawn and the one colouring it (default its strongest interaction). */
function DependenceChart({ explanation, plotly }: { explanation: Explanation; plotly: PlotlyLoader }): JSX.Element {
  const ids = useId();
  const names = explanation.feature_names;
  const order = useMemo(() => featureOrder(explanation), [explanation]);
  const [feature, setFeature] = useState(order[0] ?? 0);
  const interaction = useMemo(() => topInteraction(explanation, feature), [explanation, feature]);
  /** The colouring the user picked for a feature, 'auto' following its strongest interaction. */
  const [colourChoice, setColourChoice] = useState<'auto' | 'none' | number>('auto');
  const colourBy = colourChoice === 'auto' ? interaction : colourChoice === 'none' || colourChoice === feature ? null : colourChoice;
  return (
    <div className="opsbook-ExplanationView-dependence">
      <div className="opsbook-ExplanationView-pickers">
        <label htmlFor={`${ids}-feature`}>Feature</label>
        <select id={`${ids}-feature`} value={feature} onChange={(event) => setFeature(Number(event.target.value))}>
          {order.map((f) => (
            <option key={f} value={f}>
              {names[f]}
            </option>
          ))}
        </select>
        <label htmlFor={`${ids}-colour`}>Colour by</label>
        <select
          id={`${ids}-colour`}
          value={String(colourChoice)}
          onChange={(event) => {
            const value = event.target.value;
            setColourChoice(value === 'auto' || value === 'none' ? value : Number(value));
          }}
        >
          <option value="auto">{interaction === null ? 'strongest interaction (none)' : `strongest interaction (${names[interaction]})`}</option>
          <option value="none">nothing</option>
          {order
            .filter((f) => f !== feature)
            .map((f) => (
              <option key={f} value={f}>
                {names[f]}
              </option>
            ))}
        </select>
      </div>
      <ExplainChart
        kind="dependence"
        label={`Dependence plot of ${names[feature]}: its SHAP value against its value${colourBy === null ? '' : `, coloured by ${names[colourBy]}`}`}
        build={(theme) => dependenceChart(explanation, feature, colourBy, theme)}
        deps={[explanation, feature, colourBy]}
        plotly={plotly}
      />
    </div>
  );
}
