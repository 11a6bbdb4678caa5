import { DuckDBTypeId, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

/** A value JSON carries without loss: what sample rows and observed values hold. */
export type JsonScalar = number | string | boolean | null;

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const TIMESTAMPS = new Set<DuckDBTypeId>([
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_S,
  DuckDBTypeId.TIMESTAMP_MS,
  DuckDBTypeId.TIMESTAMP_NS,
  DuckDBTypeId.TIMESTAMP_TZ,
]);

/**
 * A DuckDB value as a JSON scalar that keeps its meaning: integers beyond ±2^53 (BIGINT, HUGEINT, …)
 * and decimals become their exact decimal text, timestamps ISO 8601 text ('2024-05-01T12:00:00'),
 * dates 'YYYY-MM-DD', non-finite doubles 'NaN'/'Infinity', and nested values (lists, structs, maps)
 * their DuckDB text.
 */
export function jsonScalar(value: DuckDBValue, type: DuckDBType): JsonScalar {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value <= SAFE && value >= -SAFE ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return value;
  if (TIMESTAMPS.has(type.typeId)) return String(value).replace(' ', 'T');
  return String(value);
}

/** Rows of a result as JSON scalars, column by column in the result's order. */
export function jsonRows(rows: readonly (readonly DuckDBValue[])[], types: readonly DuckDBType[]): JsonScalar[][] {
  return rows.map((row) => row.map((value, i) => jsonScalar(value, types[i])));
}

/** A number for arithmetic (counts, means, statistics): bigints and decimals converted, null kept. */
export function numberOf(value: DuckDBValue): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object' && 'toDouble' in value && typeof value.toDouble === 'function') return value.toDouble() as number;
  const parsed = Number(String(value));
  return Number.isNaN(parsed) ? null : parsed;
}
