import { BIGINT, BOOLEAN, DOUBLE, VARCHAR, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import {
  FilterSyntaxError,
  NUMBER_PATTERN,
  parseFilter,
  parseSortField,
  type ComparisonOperator,
  type FilterField,
  type FilterLiteral,
  type FilterNode,
} from '../client/filter';
import { BadInputError } from '../store/errors';
import type { SqlParams, SqlTypes } from '../store/store';

/** Which runs a list shows by their soft-delete mark. */
export type DeletedFilter = 'exclude' | 'include' | 'only';

/** What one run list asks for (the query of `listRuns`). */
export interface RunListQuery {
  experiment?: string;
  status?: string;
  /** Filter text (docs/filter.md). */
  filter?: string;
  /** `start_time` (default), `end_time`, `name`, `status`, `experiment`, `duration`, `starred`, `params.<k>`, `metrics.<k>`, `tags.<k>`. */
  sort?: string;
  order?: 'asc' | 'desc';
  limit: number;
  offset?: number;
  deleted?: DeletedFilter;
  /** Only the children of this run. */
  parent?: string;
  /** Only this run, deleted or not (the live stream reads a changed run as the list gives it). */
  runId?: string;
}

/** One statement with its bound values; no text of the query's input is ever part of `sql`. */
export interface BoundQuery {
  sql: string;
  values: SqlParams;
  types: SqlTypes;
}

/** Regex of the param and tag values that compare as numbers: the parser's own, so SQL and JS agree. */
const NUMERIC_TEXT = `'${NUMBER_PATTERN}'`;
const SQL_OPERATORS: Record<Exclude<ComparisonOperator, '~'>, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/**
 * Builds bound values and joins while a filter and a sort are compiled. Keys of params, metrics and
 * tags become bound values of join conditions; the join aliases are generated, never user text.
 */
class QueryBuilder {
  readonly values: DuckDBValue[] = [];
  readonly types: DuckDBType[] = [];
  readonly joins: string[] = [];
  private readonly aliases = new Map<string, string>();

  bind(value: DuckDBValue, type: DuckDBType): string {
    this.values.push(value);
    this.types.push(type);
    return `$${this.values.length}`;
  }

  /** The alias of a join on one key of params, tags or metric summaries. */
  keyed(kind: 'params' | 'metrics' | 'tags', key: string): string {
    const id = `${kind}\u0000${key}`;
    let alias = this.aliases.get(id);
    if (alias === undefined) {
      alias = `k${this.aliases.size + 1}`;
      const table = kind === 'metrics' ? 'metric_summaries' : kind;
      this.joins.push(`LEFT JOIN ${table} ${alias} ON ${alias}.run_id = r.id AND ${alias}.key = ${this.bind(key, VARCHAR)}`);
      this.aliases.set(id, alias);
    }
    return alias;
  }
}

/**
 * Parses filter text as the daemon does, mapping a syntax error to bad input on field `filter`.
 * @throws BadInputError naming `filter`, the text and the position of the problem.
 */
export function parseFilterParam(text: string | undefined): FilterNode | null {
  if (text === undefined) return null;
  try {
    return parseFilter(text);
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw new BadInputError('filter', text, `filter: ${error.message}`);
    throw error;
  }
}

/** An epoch-milliseconds column as `Date.prototype.toISOString` writes it. */
const ISO_TIME = (column: string): string => `strftime(epoch_ms(${column}), '%Y-%m-%dT%H:%M:%S.%gZ')`;

/**
 * The one statement that lists runs: the runs matching the query, in order (`ord`), one page of
 * them, each as the JSON text of its `run.schema.json` list item (`run_json`: params, tags, latest
 * metric values and child count aggregated per run), and the number of matching runs before the
 * page (`total`). Set-based: one statement however many runs. DuckDB writes the JSON because
 * building 10,000 objects in JS and serializing them again took most of the time of a list
 * (its ordered `list()` and `string_agg()` aggregates were slower than `json_group_object` and
 * joining the rows' texts in JS).
 * @throws BadInputError naming `filter` or `sort` when either does not parse.
 */
export function buildRunListQuery(query: RunListQuery): BoundQuery {
  const builder = new QueryBuilder();
  const where: string[] = [];
  const filter = parseFilterParam(query.filter);
  if (filter !== null) where.push(compileFilter(filter, builder));
  if (query.experiment !== undefined) where.push(`e.name = ${builder.bind(query.experiment, VARCHAR)}`);
  if (query.status !== undefined) where.push(`r.status = ${builder.bind(query.status, VARCHAR)}`);
  if (query.parent !== undefined) where.push(`r.parent_run_id = ${builder.bind(query.parent, VARCHAR)}`);
  if (query.runId !== undefined) {
    where.push(`r.id = ${builder.bind(query.runId, VARCHAR)}`);
  } else if ((query.deleted ?? 'exclude') !== 'include') {
    where.push(query.deleted === 'only' ? 'r.deleted_ms IS NOT NULL' : 'r.deleted_ms IS NULL');
  }
  const order = sortOrder(query.sort, query.order ?? 'desc', builder);
  const first = builder.bind(query.offset ?? 0, BIGINT);
  const last = builder.bind((query.offset ?? 0) + query.limit, BIGINT);
  const sql = `WITH page AS (
      SELECT r.id, r.experiment_id, e.name AS experiment, r.name, r.status, r.start_ms, r.end_ms, r.source_type,
        r.parent_run_id, coalesce(r.starred, false) AS starred, coalesce(r.notes, '') AS notes, r.deleted_ms,
        row_number() OVER (ORDER BY ${order}) AS ord, count(*) OVER () AS total
      FROM runs r JOIN experiments e ON e.id = r.experiment_id
      ${builder.joins.join('\n      ')}
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      QUALIFY ord > ${first} AND ord <= ${last}
    )
    SELECT page.ord, page.total, json_object(
        'id', page.id, 'experiment_id', page.experiment_id, 'experiment', page.experiment, 'name', page.name,
        'status', page.status, 'start_time', ${ISO_TIME('page.start_ms')},
        'end_time', CASE WHEN page.end_ms IS NULL THEN NULL ELSE ${ISO_TIME('page.end_ms')} END,
        'duration_ms', page.end_ms - page.start_ms, 'source_type', page.source_type,
        'parent_run_id', page.parent_run_id, 'child_count', coalesce(c.children, 0), 'starred', page.starred,
        'notes', page.notes, 'deleted', page.deleted_ms IS NOT NULL,
        'tags', coalesce(t.entries, '{}')::JSON, 'params', coalesce(p.entries, '{}')::JSON,
        'metrics_latest', coalesce(m.entries, '{}')::JSON
      )::VARCHAR AS run_json
    FROM page
    LEFT JOIN (SELECT run_id, json_group_object(key, value)::VARCHAR AS entries
      FROM params WHERE run_id IN (SELECT id FROM page) GROUP BY run_id) p ON p.run_id = page.id
    LEFT JOIN (SELECT run_id, json_group_object(key, value)::VARCHAR AS entries
      FROM tags WHERE run_id IN (SELECT id FROM page) GROUP BY run_id) t ON t.run_id = page.id
    LEFT JOIN (SELECT run_id, json_group_object(key, last_value)::VARCHAR AS entries
      FROM metric_summaries WHERE run_id IN (SELECT id FROM page) GROUP BY run_id) m ON m.run_id = page.id
    LEFT JOIN (SELECT parent_run_id, count(*) AS children
      FROM runs WHERE parent_run_id IN (SELECT id FROM page) GROUP BY parent_run_id) c ON c.parent_run_id = page.id
    ORDER BY page.ord`;
  return { sql, values: builder.values, types: builder.types };
}

/**
 * Counts the runs a query matches, for a page past the end (which has no row to carry `total`).
 * @throws BadInputError naming `filter` when it does not parse.
 */
export function buildRunCountQuery(query: RunListQuery): BoundQuery {
  const { sql, values, types } = buildRunListQuery({ ...query, offset: 0, limit: Number.MAX_SAFE_INTEGER });
  return { sql: `SELECT count(*) AS total FROM (${sql})`, values, types };
}

/**
 * Compiles a parsed filter to a boolean SQL expression over `runs r` and `experiments e`. Every
 * comparison of a missing value (a param the run lacks, a running run's end) is false, never null,
 * so `not` is plain negation, as in `matchesFilter`.
 */
function compileFilter(node: FilterNode, builder: QueryBuilder): string {
  switch (node.type) {
    case 'and':
    case 'or':
      return `(${compileFilter(node.left, builder)} ${node.type.toUpperCase()} ${compileFilter(node.right, builder)})`;
    case 'not':
      return `(NOT ${compileFilter(node.operand, builder)})`;
    case 'compare':
      return compileComparison(node.field, node.operator, node.value, builder);
    case 'in':
      return `(${node.values.map((value) => compileComparison(node.field, '=', value, builder)).join(' OR ')})`;
    case 'exists':
      // The parser allows only end_time and duration among run fields: both exist once the run ended.
      if (node.field.kind === 'run') return '(r.end_ms IS NOT NULL)';
      return `(${builder.keyed(node.field.kind, node.field.key)}.run_id IS NOT NULL)`;
    case 'text': {
      const term = builder.bind(node.text, VARCHAR);
      const hit = (column: string): string => `coalesce(contains(lower(${column}), lower(${term})), false)`;
      return `(${hit('r.name')} OR ${hit("coalesce(r.notes, '')")} OR ${hit('e.name')} OR starts_with(r.id, lower(${term}))
        OR EXISTS (SELECT 1 FROM tags ft WHERE ft.run_id = r.id AND contains(lower(ft.value), lower(${term}))))`;
    }
  }
}

function compileComparison(field: FilterField, operator: ComparisonOperator, literal: FilterLiteral, builder: QueryBuilder): string {
  if (field.kind === 'params' || field.kind === 'tags') {
    const value = `${builder.keyed(field.kind, field.key)}.value`;
    if (operator === '~') return `coalesce(contains(lower(${value}), lower(${builder.bind(literal.text, VARCHAR)})), false)`;
    const op = SQL_OPERATORS[operator];
    const asText = `${value} ${op} ${builder.bind(literal.text, VARCHAR)}`;
    if (literal.number === undefined) return `coalesce(${asText}, false)`;
    // Both sides numbers: compare as numbers (params are stored as text); otherwise as text.
    return `coalesce(CASE WHEN regexp_full_match(${value}, ${NUMERIC_TEXT}) THEN TRY_CAST(${value} AS DOUBLE) ${op} ${builder.bind(literal.number, DOUBLE)} ELSE ${asText} END, false)`;
  }
  if (field.kind === 'metrics') {
    return `coalesce(${builder.keyed('metrics', field.key)}.last_value ${SQL_OPERATORS[operator as keyof typeof SQL_OPERATORS]} ${builder.bind(literal.number!, DOUBLE)}, false)`;
  }
  switch (field.name) {
    case 'starred':
    case 'deleted': {
      const column = field.name === 'starred' ? 'coalesce(r.starred, false)' : '(r.deleted_ms IS NOT NULL)';
      return `(${column} ${operator === '=' ? '=' : '<>'} ${builder.bind(literal.boolean!, BOOLEAN)})`;
    }
    case 'start_time':
    case 'end_time':
    case 'duration': {
      const column = field.name === 'start_time' ? 'r.start_ms' : field.name === 'end_time' ? 'r.end_ms' : '(r.end_ms - r.start_ms)';
      return `coalesce(${column} ${SQL_OPERATORS[operator as keyof typeof SQL_OPERATORS]} ${builder.bind(literal.number!, DOUBLE)}, false)`;
    }
    default: {
      const column = { status: 'r.status', name: 'r.name', experiment: 'e.name', id: 'r.id', notes: "coalesce(r.notes, '')" }[field.name];
      const text = builder.bind(literal.text, VARCHAR);
      if (operator === '~') return `coalesce(contains(lower(${column}), lower(${text})), false)`;
      return `coalesce(${column} ${SQL_OPERATORS[operator]} ${text}, false)`;
    }
  }
}

/** ORDER BY of a list: the sort field (missing values last), then newest first, then id. */
function sortOrder(sort: string | undefined, order: 'asc' | 'desc', builder: QueryBuilder): string {
  let field: FilterField;
  try {
    field = parseSortField(sort ?? 'start_time');
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw new BadInputError('sort', sort, error.message.replace(/ \(at position \d+\)$/, ''));
    throw error;
  }
  const direction = order === 'asc' ? 'ASC' : 'DESC';
  const keys: string[] = [];
  if (field.kind === 'params' || field.kind === 'tags') {
    const value = `${builder.keyed(field.kind, field.key)}.value`;
    // Numbers in numeric order first, then other text, then runs without the key.
    keys.push(`CASE WHEN regexp_full_match(${value}, ${NUMERIC_TEXT}) THEN TRY_CAST(${value} AS DOUBLE) END ${direction} NULLS LAST`, `${value} ${direction} NULLS LAST`);
  } else if (field.kind === 'metrics') {
    keys.push(`${builder.keyed('metrics', field.key)}.last_value ${direction} NULLS LAST`);
  } else {
    const column = {
      start_time: 'r.start_ms',
      end_time: 'r.end_ms',
      name: 'r.name',
      status: 'r.status',
      experiment: 'e.name',
      duration: '(r.end_ms - r.start_ms)',
      starred: 'coalesce(r.starred, false)',
    }[field.name as string];
    keys.push(`${column} ${direction} NULLS LAST`);
  }
  keys.push('r.start_ms DESC', 'r.created_seq DESC', 'r.id');
  return keys.join(', ');
}

