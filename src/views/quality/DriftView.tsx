import { useEffect, useId, useMemo, useState } from 'react';
import type { ColumnDrift, DriftReport } from '@opsbook/schema';
import { formatDuration } from '../format';
import type { PlotlyLoader } from '../plotly';
import { QualityHistogram } from './QualityHistogram';
import { DRIFT_METHOD_LABEL, formatCount, formatNumber, formatPValue } from './qualityFormat';
import { QualityStatus } from './CheckResultView';
import { ensureQualityStyles } from './qualityStyles';

export interface DriftViewProps {
  report: DriftReport;
  /** Supplies plotly.js for the histograms; defaults to the bundled basic dist. */
  plotly?: PlotlyLoader;
}

/** Columns by drift: highest severity first, drifted before stable on a tie, then by name. */
export function rankDrift(columns: readonly ColumnDrift[]): ColumnDrift[] {
  return [...columns].sort(
    (a, b) => b.severity - a.severity || Number(b.drifted) - Number(a.drifted) || a.column.localeCompare(b.column),
  );
}

/**
 * Two tables compared column by column, ranked by drift. Drifted columns are flagged in words and
 * show their overlaid histograms at once; stable ones open theirs on request.
 */
export function DriftView({ report, plotly }: DriftViewProps): JSX.Element {
  useEffect(() => ensureQualityStyles(), []);
  const ranked = useMemo(() => rankDrift(report.columns), [report.columns]);
  const drifted = report.drifted ?? ranked.filter((c) => c.drifted).length;
  return (
    <div className="opsbook-view opsbook-QualityView opsbook-DriftView">
      <h2>
        <span>
          Drift of {report.data.label} from {report.reference.label}
        </span>
        <QualityStatus status={drifted > 0 ? 'fail' : 'pass'} label={drifted > 0 ? `${drifted} drifted` : 'no drift'} />
      </h2>
      <p className="opsbook-QualityView-facts">
        <span className="opsbook-DriftView-summary">
          {drifted} of {ranked.length} shared {ranked.length === 1 ? 'column' : 'columns'} drifted
        </span>
        {report.data.rows !== undefined && report.reference.rows !== undefined && (
          <span>
            {formatCount(report.data.rows)} rows vs {formatCount(report.reference.rows)}
          </span>
        )}
        <span>{formatDuration(report.seconds * 1000)}</span>
      </p>
      {!!report.only_in_data?.length && (
        <p className="opsbook-DriftView-only opsbook-DriftView-onlyInData">
          Only in {report.data.label}: {report.only_in_data.join(', ')}
        </p>
      )}
      {!!report.only_in_reference?.length && (
        <p className="opsbook-DriftView-only opsbook-DriftView-onlyInReference">
          Only in {report.reference.label}: {report.only_in_reference.join(', ')}
        </p>
      )}
      <ol className="opsbook-DriftView-columns">
        {ranked.map((column, rank) => (
          <DriftColumn key={column.column} column={column} rank={rank + 1} report={report} plotly={plotly} />
        ))}
      </ol>
    </div>
  );
}

function DriftColumn({ column, rank, report, plotly }: { column: ColumnDrift; rank: number; report: DriftReport; plotly?: PlotlyLoader }): JSX.Element {
  const [open, setOpen] = useState(column.drifted);
  const histogramId = useId();
  return (
    <li className="opsbook-DriftView-column" data-column={column.column} data-drifted={column.drifted} aria-label={`Column ${column.column}`}>
      <h3>
        <span className="opsbook-DriftView-rank">#{rank}</span>
        <span className="opsbook-ProfileView-name">{column.column}</span>
        <span className="opsbook-ProfileView-type">{column.type}</span>
        <QualityStatus status={column.drifted ? 'fail' : 'pass'} label={column.drifted ? 'drifted' : 'stable'} />
        <span className="opsbook-muted" title="The largest statistic over its threshold; above 1 means drifted">
          severity {formatNumber(column.severity)}
        </span>
      </h3>
      <table className="opsbook-table opsbook-DriftView-scores">
        <thead>
          <tr>
            <th scope="col">Method</th>
            <th scope="col" className="opsbook-num">
              Statistic
            </th>
            <th scope="col" className="opsbook-num">
              p-value
            </th>
            <th scope="col" className="opsbook-num">
              Threshold
            </th>
            <th scope="col">Verdict</th>
          </tr>
        </thead>
        <tbody>
          {column.scores.map((score) => (
            <tr key={score.method} data-method={score.method}>
              <td>{DRIFT_METHOD_LABEL[score.method]}</td>
              <td className="opsbook-num">{formatNumber(score.statistic)}</td>
              <td className="opsbook-num">{score.p_value === undefined ? '—' : formatPValue(score.p_value)}</td>
              <td className="opsbook-num">{formatNumber(score.threshold)}</td>
              <td>{score.drifted ? 'over threshold' : 'within'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" className="opsbook-DriftView-toggle" aria-expanded={open} aria-controls={histogramId} onClick={() => setOpen((was) => !was)}>
        {open ? 'Hide histogram' : 'Show histogram'}
      </button>
      {open && (
        <div id={histogramId}>
          <QualityHistogram histogram={column.histogram} column={column.column} dataLabel={report.data.label} referenceLabel={report.reference.label} plotly={plotly} />
        </div>
      )}
    </li>
  );
}
