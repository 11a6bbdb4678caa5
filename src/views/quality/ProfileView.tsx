import { useEffect } from 'react';
import type { ColumnProfile, DataProfile } from '@opsbook/schema';
import { formatDuration } from '../format';
import { MiniHistogram } from './QualityHistogram';
import { formatCount, formatNumber, formatPercent, formatValue } from './qualityFormat';
import { ensureQualityStyles } from './qualityStyles';

export interface ProfileViewProps {
  profile: DataProfile;
}

/** The quantiles in the order of the distribution, whatever order the object lists them in. */
function quantileEntries(quantiles: NonNullable<ColumnProfile['quantiles']>): [string, unknown][] {
  const rank = (key: string): number => Number(key.replace(/^\D+/, '')) || 0;
  return Object.entries(quantiles).sort(([a], [b]) => rank(a) - rank(b));
}

/** A distinct count, marked ≈ when it was estimated (HyperLogLog) rather than counted. */
export function distinctText(column: Pick<ColumnProfile, 'distinct' | 'distinct_exact'>): string {
  return `${column.distinct_exact ? '' : '≈ '}${formatCount(column.distinct)}`;
}

/** A table's profile: one card per column with its type, nulls, distinct values, statistics and histogram. */
export function ProfileView({ profile }: ProfileViewProps): JSX.Element {
  useEffect(() => ensureQualityStyles(), []);
  return (
    <div className="opsbook-view opsbook-QualityView opsbook-ProfileView">
      <h2>Profile of {profile.data.label}</h2>
      <p className="opsbook-QualityView-facts">
        <span>{formatCount(profile.rows)} rows</span>
        <span>{formatCount(profile.columns.length)} columns</span>
        <span>{formatDuration(profile.seconds * 1000)}</span>
        <span>{profile.distinct_exact ? 'distinct values counted exactly' : 'distinct values approximate (≈, HyperLogLog)'}</span>
      </p>
      <ul className="opsbook-ProfileView-columns">
        {profile.columns.map((column) => (
          <ColumnCard key={column.name} column={column} />
        ))}
      </ul>
    </div>
  );
}

function ColumnCard({ column }: { column: ColumnProfile }): JSX.Element {
  const facts: [string, string, string?][] = [
    ['nulls', `${formatCount(column.nulls)} (${formatPercent(column.null_fraction)})`],
    ['distinct', distinctText(column), column.distinct_exact ? undefined : 'approximate (HyperLogLog)'],
  ];
  if (column.min !== undefined) facts.push(['min', formatValue(column.min)]);
  if (column.max !== undefined) facts.push(['max', formatValue(column.max)]);
  if (column.mean !== undefined && column.mean !== null) facts.push(['mean', formatNumber(column.mean)]);
  if (column.stddev !== undefined && column.stddev !== null) facts.push(['stddev', formatNumber(column.stddev)]);
  if (column.quantiles) facts.push(['quantiles', quantileEntries(column.quantiles).map(([key, value]) => `${key} ${formatValue(value)}`).join(' · ')]);
  return (
    <li className="opsbook-ProfileView-column" data-column={column.name} aria-label={`Column ${column.name}`}>
      <h3>
        <span className="opsbook-ProfileView-name">{column.name}</span>
        <span className="opsbook-ProfileView-type">{column.type}</span>
        <span className="opsbook-ProfileView-kind">{column.kind}</span>
      </h3>
      <dl className="opsbook-ProfileView-facts">
        {facts.map(([term, value, title]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd className={`opsbook-ProfileView-${term}`} title={title}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
      {column.top && column.top.length > 0 && (
        <ol className="opsbook-ProfileView-top" aria-label={`Most frequent values of ${column.name}`}>
          {column.top.map((entry, i) => (
            <li key={i}>
              <span title={formatValue(entry.value)}>{formatValue(entry.value)}</span>
              <span>{formatCount(entry.count)}</span>
            </li>
          ))}
        </ol>
      )}
      {column.histogram && <MiniHistogram histogram={column.histogram} column={column.name} />}
    </li>
  );
}
