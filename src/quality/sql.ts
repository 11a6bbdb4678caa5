import { BadInputError } from '../store/errors';
import { quoteIdent } from '../store/sql';

/**
 * Quoting for the SQL the quality compiler writes. Identifiers go through the store's one
 * `quoteIdent`; values the compiler must splice (DuckDB takes no bound parameters in a view's
 * table function or in `SET allowed_paths`) go through {@link quoteLiteral}. Everything else is bound.
 */
export { quoteIdent };

/**
 * Quotes a string as an SQL string literal: single quotes doubled, nothing else changes meaning
 * inside one (DuckDB does not treat backslashes as escapes in a plain literal).
 * @throws BadInputError when the value holds a NUL character, which no DuckDB string may.
 */
export function quoteLiteral(value: string, field = 'value'): string {
  if (value.includes('\u0000')) {
    throw new BadInputError(field, value, `${field} holds a NUL character: ${JSON.stringify(value)}`);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Quotes a file path as an SQL string literal for read_parquet/read_csv/read_json and
 * `allowed_paths`.
 * @throws BadInputError when the path holds a NUL character.
 */
export function quotePath(path: string, field = 'data.path'): string {
  return quoteLiteral(path, field);
}
