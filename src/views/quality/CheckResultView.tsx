import { useEffect, useId, useMemo, useState, type KeyboardEvent } from 'react';
import type { CheckOutcome, CheckResult, Sample } from '@opsbook/schema';
import { formatDuration } from '../format';
import type { PlotlyLoader } from '../plotly';
import { QualityHistogram } from './QualityHistogram';
import { formatCount, observedText, STATUS_TEXT } from './qualityFormat';
import { ensureQualityStyles } from './qualityStyles';
import { jsonSampleTable, sampleTable, type ArrowLoader, type SampleTable } from './sampleTable';

export interface CheckResultViewProps {
  result: CheckResult;
  /** Opens the run the result was recorded against. */
  onOpenRun?: (runId: string) => void;
  /** Supplies plotly.js for the histograms; defaults to the bundled basic dist. */
  plotly?: PlotlyLoader;
  /** Supplies apache-arrow to decode the typed samples; defaults to importing it on first use. */
  arrow?: ArrowLoader;
}

/** A status as icon and word in its colour. */
export function QualityStatus({ status, label }: { status: CheckOutcome['status']; label?: string }): JSX.Element {
  const { icon, text } = STATUS_TEXT[status];
  return (
    <span className={`opsbook-quality-status opsbook-quality-${status}`}>
      <span className="opsbook-quality-icon" aria-hidden="true">
        {icon}
      </span>
      {label ?? text}
    </span>
  );
}

/** The checks in suite order: by `index` where the result gives it, else as listed. */
function inSuiteOrder(checks: readonly CheckOutcome[]): CheckOutcome[] {
  return checks
    .map((check, position) => ({ check, position }))
    .sort((a, b) => (a.check.index ?? a.position) - (b.check.index ?? b.position))
    .map(({ check }) => check);
}

/**
 * A suite's outcome on one table: the summary, then one row per check in suite order. A check with
 * failing rows or a histogram expands (click, or Enter/Space on the focused row) to show them.
 */
export function CheckResultView({ result, onOpenRun, plotly, arrow }: CheckResultViewProps): JSX.Element {
  useEffect(() => ensureQualityStyles(), []);
  const checks = useMemo(() => inSuiteOrder(result.checks), [result.checks]);
  const count = (status: CheckOutcome['status']): number => checks.filter((c) => c.status === status).length;
  const passed = result.passed ?? count('pass');
  const failed = result.failed ?? count('fail');
  const errors = result.errors ?? count('error');
  return (
    <div className="opsbook-view opsbook-QualityView opsbook-CheckResultView" data-suite={result.suite}>
      <h2>
        <span>{result.suite}</span>
        <QualityStatus status={result.status} label={result.status === 'pass' ? 'passed' : 'failed'} />
      </h2>
      <p className="opsbook-QualityView-facts">
        {result.data && (
          <span>
            on <strong>{result.data.label}</strong>
            {result.reference && (
              <>
                {' '}
                against <strong>{result.reference.label}</strong>
              </>
            )}
          </span>
        )}
        <span>{formatCount(result.rows)} rows</span>
        <span>{formatDuration(result.seconds * 1000)}</span>
        <span className="opsbook-CheckResultView-counts">
          {passed} passed, {failed} failed, {errors} {errors === 1 ? 'error' : 'errors'}
        </span>
        {result.run_id && (
          <span>
            recorded on run{' '}
            {onOpenRun ? (
              <button type="button" className="opsbook-linkish" onClick={() => onOpenRun(result.run_id!)}>
                {result.run_id.slice(0, 8)}
              </button>
            ) : (
              result.run_id.slice(0, 8)
            )}
          </span>
        )}
      </p>
      <table className="opsbook-table opsbook-CheckResultView-checks">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Check</th>
            <th scope="col">Column</th>
            <th scope="col">Observed</th>
            <th scope="col">Expected</th>
            <th scope="col" className="opsbook-num">
              Failing rows
            </th>
          </tr>
        </thead>
        <tbody>
          {checks.map((check, position) => (
            <CheckRow key={check.index ?? position} check={check} position={check.index ?? position} result={result} plotly={plotly} arrow={arrow} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CheckRow({ check, position, result, plotly, arrow }: { check: CheckOutcome; position: number; result: CheckResult } & Pick<CheckResultViewProps, 'plotly' | 'arrow'>): JSX.Element {
  const [open, setOpen] = useState(false);
  const detailId = useId();
  const expandable = !!(check.sample || check.histogram);
  const toggle = (): void => setOpen((was) => !was);
  const onKeyDown = (event: KeyboardEvent<HTMLTableRowElement>): void => {
    if (event.target !== event.currentTarget || (event.key !== 'Enter' && event.key !== ' ')) return;
    event.preventDefault();
    toggle();
  };
  const what = `${check.check}${check.column ? ` on ${check.column}` : ''}`;
  return (
    <>
      <tr
        className={`opsbook-CheckResultView-check opsbook-CheckResultView-${check.status}`}
        data-check-index={position}
        {...(expandable
          ? {
              tabIndex: 0,
              'aria-expanded': open,
              'aria-controls': detailId,
              title: `${open ? 'Hide' : 'Show'} the ${what} check's ${check.sample ? 'failing rows' : 'histogram'}`,
              onClick: toggle,
              onKeyDown,
            }
          : {})}
      >
        <td>
          <span className="opsbook-disclosure" aria-hidden="true">
            {expandable ? (open ? '▾' : '▸') : ''}
          </span>
          <QualityStatus status={check.status} />
        </td>
        <td>
          <code>{check.check}</code>
        </td>
        <td>{check.column ?? ''}</td>
        <td className={`opsbook-CheckResultView-observed${check.status === 'error' ? ' opsbook-error-text' : ''}`}>{observedText(check)}</td>
        <td className="opsbook-CheckResultView-expected">{check.expected ?? ''}</td>
        <td className="opsbook-num opsbook-CheckResultView-failing">{check.failing_rows === undefined ? '' : formatCount(check.failing_rows)}</td>
      </tr>
      {expandable && open && (
        <tr id={detailId} className="opsbook-CheckResultView-detail">
          <td colSpan={6}>
            {check.sample && <SampleGrid sample={check.sample} failingRows={check.failing_rows} arrow={arrow} />}
            {check.histogram && (
              <QualityHistogram
                histogram={check.histogram}
                column={check.column ?? check.check}
                dataLabel={result.data?.label}
                referenceLabel={result.reference?.label}
                plotly={plotly}
              />
            )}
          </td>
        </tr>
      )}
    </>
  );
}

/** Failing rows of a check, each cell in its exact type (see {@link sampleTable}). */
export function SampleGrid({ sample, failingRows, arrow }: { sample: Sample; failingRows?: number; arrow?: ArrowLoader }): JSX.Element {
  // The JSON rows draw at once; the typed cells replace them when the Arrow stream is decoded.
  const [table, setTable] = useState<SampleTable>(() => jsonSampleTable(sample));
  useEffect(() => {
    let current = true;
    setTable(jsonSampleTable(sample));
    void sampleTable(sample, arrow).then((decoded) => current && setTable(decoded));
    return () => {
      current = false;
    };
  }, [sample, arrow]);
  const shown = table.rows.length;
  const caption =
    failingRows !== undefined && failingRows > shown
      ? `${formatCount(shown)} of ${formatCount(failingRows)} failing rows`
      : `${formatCount(shown)} failing ${shown === 1 ? 'row' : 'rows'}`;
  return (
    <div className="opsbook-SampleGrid" data-source={table.source}>
      <table>
        <caption>
          {caption}
          {table.arrowError && <span className="opsbook-muted"> (typed sample unreadable, shown from JSON: {table.arrowError})</span>}
        </caption>
        <thead>
          <tr>
            {table.columns.map((column) => (
              <th key={column.name} scope="col" className={column.numeric ? 'opsbook-num' : undefined}>
                {column.name}
                <small>{column.type}</small>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row, r) => (
            <tr key={r}>
              {row.map((cell, c) => (
                <td key={c} className={table.columns[c]?.numeric ? 'opsbook-num' : undefined}>
                  {cell === null ? <span className="opsbook-null">null</span> : cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
