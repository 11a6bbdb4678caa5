import type { Check, CheckSuite, ColumnProfile, DataProfile, SuggestResult } from '@opsbook/schema';
import { Document, isMap, isSeq } from 'yaml';
import type { QualityHooks } from './hooks';
import { profileTable } from './profile';
import type { ResolvedSource } from './source';

/** Text columns with at most this many distinct values get an in_set check. */
export const IN_SET_LIMIT = 20;
/** Columns with a null fraction above 0 and up to this get a null_fraction check. */
const FEW_NULLS = 0.5;
const SUITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A check with the comment that says what it was suggested from. */
interface Suggestion {
  check: Check;
  why: string;
}

/**
 * A starting suite for a table, from its profile: row_count (half to twice today's rows), columns
 * (today's types), not_null for columns without nulls, unique for columns whose non-null values are
 * all distinct, between with the observed min and max of numbers, in_set for text with at most
 * {@link IN_SET_LIMIT} values, null_fraction for columns with some nulls. Every check passes on the
 * table it was suggested from. The YAML holds a comment per check saying what it came from.
 * @param options.name the suite's name (default: the data's label without its extension)
 * @throws BadInputError naming `data.path` when the file cannot be read.
 * @throws ConflictError (field job_id) when the job is cancelled.
 */
export async function suggestSuite(data: ResolvedSource, options: { name?: string } = {}, hooks: QualityHooks = {}): Promise<SuggestResult> {
  const profile = await profileTable(data, { top: IN_SET_LIMIT }, hooks);
  return suiteFromProfile(profile, options.name ?? suiteName(data.label));
}

/** The suggested suite and its commented YAML, from a profile. */
export function suiteFromProfile(profile: DataProfile, name: string): SuggestResult {
  const suggestions = suggestChecks(profile);
  const [first, ...rest] = suggestions;
  const suite: CheckSuite = {
    suite: name,
    description: `Suggested from ${profile.data.label} (${profile.rows} rows); edit to taste.`,
    checks: [first.check, ...rest.map((s) => s.check)],
  };
  return { suite, yaml: toYaml(suite, suggestions) };
}

function suggestChecks(profile: DataProfile): [Suggestion, ...Suggestion[]] {
  const rows = profile.rows;
  const suggestions: [Suggestion, ...Suggestion[]] = [
    rows === 0
      ? { check: { check: 'row_count', min: 0 }, why: 'the table is empty today' }
      : {
          check: { check: 'row_count', min: Math.floor(rows / 2), max: rows * 2 },
          why: `${rows} rows today: from half to twice that`,
        },
    {
      check: { check: 'columns', expect: Object.fromEntries(profile.columns.map((c) => [c.name, c.type])) },
      why: `the ${profile.columns.length} columns and their types today`,
    },
  ];
  for (const column of profile.columns) suggestions.push(...columnChecks(column, rows));
  return suggestions;
}

function columnChecks(c: ColumnProfile, rows: number): Suggestion[] {
  const out: Suggestion[] = [];
  const nonNull = rows - c.nulls;
  if (rows > 0 && c.nulls === 0) out.push({ check: { check: 'not_null', column: c.name }, why: `no nulls in ${rows} rows` });
  if (c.nulls > 0 && c.null_fraction <= FEW_NULLS) {
    const max = Math.min(1, Math.ceil(c.null_fraction * 1.5 * 10_000 - 1e-9) / 10_000);
    out.push({
      check: { check: 'null_fraction', column: c.name, max },
      why: `${c.nulls} of ${rows} rows null today (${(c.null_fraction * 100).toFixed(2)}%): up to half again as many`,
    });
  }
  const orderable = c.kind === 'numeric' || c.kind === 'categorical' || c.kind === 'temporal';
  if (orderable && c.distinct_exact && nonNull > 1 && c.distinct === nonNull) {
    out.push({ check: { check: 'unique', column: c.name }, why: `${c.distinct} distinct values in ${nonNull} non-null rows` });
  }
  if (c.kind === 'numeric' && nonNull > 0) {
    const min = bound(c.min, 'down');
    const max = bound(c.max, 'up');
    if (min !== undefined && max !== undefined) {
      const rounded = min !== Number(c.min) || max !== Number(c.max) ? ' (rounded outward to doubles)' : '';
      out.push({ check: { check: 'between', column: c.name, min, max }, why: `observed min ${c.min} and max ${c.max}${rounded}` });
    }
  }
  const text = c.kind === 'categorical' && !/^UUID$/.test(c.type);
  if (text && c.distinct_exact && c.distinct > 0 && c.distinct <= IN_SET_LIMIT && c.distinct < nonNull && c.top?.length === c.distinct) {
    const values = c.top.map((t) => t.value).filter((v): v is string => typeof v === 'string');
    out.push({
      check: { check: 'in_set', column: c.name, values },
      why: `the ${values.length} values seen: ${c.top.map((t) => `${t.value} (${t.count})`).join(', ')}`,
    });
  }
  return out;
}

/**
 * A between bound from an observed min or max: the number itself, or for an integer beyond 2^53
 * (which a JSON number cannot hold) the nearest double outside it (down for a min, up for a max),
 * so that the check still passes on the data. Non-finite values give no bound.
 */
function bound(value: ColumnProfile['min'], direction: 'down' | 'up'): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  if (!/^-?\d+$/.test(value)) return Number(value);
  const exact = BigInt(value);
  const n = Number(exact);
  if (BigInt(n) === exact) return n;
  const ulp = 2 ** (Math.floor(Math.log2(Math.abs(n))) - 52);
  if (direction === 'down') return BigInt(n) > exact ? n - ulp : n;
  return BigInt(n) < exact ? n + ulp : n;
}

/** A suite name from a file or variable name: the extension dropped, other characters replaced. */
export function suiteName(label: string): string {
  const stem = label.replace(/\.[A-Za-z0-9]+$/, '').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
  return SUITE_NAME.test(stem) ? stem : `data_${stem}`.slice(0, 128).replace(/^data__+/, 'data_');
}

function toYaml(suite: CheckSuite, suggestions: readonly Suggestion[]): string {
  const doc = new Document(suite);
  doc.commentBefore = ' Suggested by `opsbook check --suggest`: each check says what in the data it came from.';
  const checks = doc.get('checks', true);
  if (isSeq(checks)) {
    checks.items.forEach((item, i) => {
      if (!isMap(item)) return;
      item.flow = true;
      item.commentBefore = ` ${suggestions[i].why}`;
    });
  }
  return doc.toString({ lineWidth: 0 });
}
