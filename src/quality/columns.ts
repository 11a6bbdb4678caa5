import type { ColumnProfile } from '@opsbook/schema';

/** What a column holds, from its DuckDB type: decides which statistics describe it. */
export type ColumnKind = ColumnProfile['kind'];

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|REAL|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;
const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const TEMPORAL = /^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE)$/;
const CATEGORICAL = /^(VARCHAR|ENUM\(.*\)|UUID)$/s;

/**
 * The kind of a DuckDB type as DESCRIBE writes it: numbers (integers, floats, decimals), dates and
 * timestamps, booleans, text and enums; lists, structs, maps, blobs, intervals and times are other.
 */
export function columnKind(type: string): ColumnKind {
  if (NUMERIC.test(type)) return 'numeric';
  if (TEMPORAL.test(type)) return 'temporal';
  if (type === 'BOOLEAN') return 'boolean';
  if (CATEGORICAL.test(type)) return 'categorical';
  return 'other';
}

/** Whether a DuckDB type is an integer type (whose values may lie beyond 2^53). */
export function isIntegerType(type: string): boolean {
  return INTEGER.test(type);
}
