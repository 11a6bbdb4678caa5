/**
 * Quotes an SQL identifier (table, column, alias) for DuckDB. The one place identifiers are quoted:
 * values never go through here, they are bound as parameters.
 * @throws Error when the name is empty or holds a NUL character, which no identifier may.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new Error(`not a usable SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}
