import {
  Bool,
  DateDay,
  Decimal,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  makeData,
  makeVector,
  Table,
  tableToIPC,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  vectorFromArray,
  type DataType,
  type Vector,
} from 'apache-arrow';
import { DuckDBTypeId, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { Sample } from '@opsbook/schema';
import type { QueryRows } from './sandbox';
import { jsonRows, type JsonScalar } from './values';

type Raw = (value: NonNullable<DuckDBValue>) => number | bigint;
interface FixedWidth {
  type: () => DataType;
  array: (length: number) => Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Float32Array | Float64Array;
  raw: Raw;
}

const num: Raw = (value) => value as number;
const big: Raw = (value) => value as bigint;
const field = (name: string): Raw => (value) => (value as unknown as Record<string, bigint | number>)[name];

/** DuckDB types that have an Arrow type of the same width and meaning, and how to read their raw value. */
const FIXED: Partial<Record<DuckDBTypeId, FixedWidth>> = {
  [DuckDBTypeId.TINYINT]: { type: () => new Int8(), array: (n) => new Int8Array(n), raw: num },
  [DuckDBTypeId.SMALLINT]: { type: () => new Int16(), array: (n) => new Int16Array(n), raw: num },
  [DuckDBTypeId.INTEGER]: { type: () => new Int32(), array: (n) => new Int32Array(n), raw: num },
  [DuckDBTypeId.BIGINT]: { type: () => new Int64(), array: (n) => new BigInt64Array(n), raw: big },
  [DuckDBTypeId.UTINYINT]: { type: () => new Uint8(), array: (n) => new Uint8Array(n), raw: num },
  [DuckDBTypeId.USMALLINT]: { type: () => new Uint16(), array: (n) => new Uint16Array(n), raw: num },
  [DuckDBTypeId.UINTEGER]: { type: () => new Uint32(), array: (n) => new Uint32Array(n), raw: num },
  [DuckDBTypeId.UBIGINT]: { type: () => new Uint64(), array: (n) => new BigUint64Array(n), raw: big },
  [DuckDBTypeId.FLOAT]: { type: () => new Float32(), array: (n) => new Float32Array(n), raw: num },
  [DuckDBTypeId.DOUBLE]: { type: () => new Float64(), array: (n) => new Float64Array(n), raw: num },
  [DuckDBTypeId.DATE]: { type: () => new DateDay(), array: (n) => new Int32Array(n), raw: field('days') },
  [DuckDBTypeId.TIMESTAMP]: { type: () => new TimestampMicrosecond(), array: (n) => new BigInt64Array(n), raw: field('micros') },
  [DuckDBTypeId.TIMESTAMP_TZ]: { type: () => new TimestampMicrosecond('UTC'), array: (n) => new BigInt64Array(n), raw: field('micros') },
  [DuckDBTypeId.TIMESTAMP_S]: { type: () => new TimestampSecond(), array: (n) => new BigInt64Array(n), raw: field('seconds') },
  [DuckDBTypeId.TIMESTAMP_MS]: { type: () => new TimestampMillisecond(), array: (n) => new BigInt64Array(n), raw: field('millis') },
  [DuckDBTypeId.TIMESTAMP_NS]: { type: () => new TimestampNanosecond(), array: (n) => new BigInt64Array(n), raw: field('nanos') },
};

/**
 * Failing rows as a Sample: `rows` holds JSON-safe values (see values.ts), `arrow` the same rows as a
 * base64 Arrow IPC stream with exact types (int64, decimals, dates, timestamps); types Arrow has no
 * match for travel there as their DuckDB text.
 */
export function encodeSample(result: QueryRows): Sample {
  const types = result.columns.map((column) => column.type);
  const rows = jsonRows(result.rows, types) as Sample['rows'];
  const vectors: Record<string, Vector> = {};
  result.columns.forEach((column, index) => {
    vectors[uniqueName(vectors, column.name)] = arrowVector(
      result.rows.map((row) => row[index]),
      column.type,
      rows.map((row) => (row as JsonScalar[])[index]),
    );
  });
  const table = new Table(vectors);
  return {
    columns: result.columns.map((column) => ({ name: column.name, type: column.type.toString() })),
    rows,
    arrow: Buffer.from(tableToIPC(table, 'stream')).toString('base64'),
  };
}

function uniqueName(taken: Record<string, unknown>, name: string): string {
  let candidate = name;
  for (let i = 1; candidate in taken; i += 1) candidate = `${name}_${i}`;
  return candidate;
}

function arrowVector(values: DuckDBValue[], type: DuckDBType, json: JsonScalar[]): Vector {
  const length = values.length;
  const nullBitmap = new Uint8Array(Math.ceil(length / 8));
  let nullCount = 0;
  values.forEach((value, i) => {
    if (value === null) nullCount += 1;
    else nullBitmap[i >> 3] |= 1 << (i & 7);
  });
  const fixed = FIXED[type.typeId];
  if (fixed) {
    const data = fixed.array(length);
    values.forEach((value, i) => {
      if (value !== null) (data as unknown as (number | bigint)[])[i] = fixed.raw(value);
    });
    return makeVector(makeData({ type: fixed.type() as never, length, nullCount, nullBitmap, data: data as never }));
  }
  if (type.typeId === DuckDBTypeId.DECIMAL) {
    const { width, scale } = type as unknown as { width: number; scale: number };
    const words = new BigUint64Array(length * 2);
    values.forEach((value, i) => {
      if (value === null) return;
      const unscaled = (value as unknown as { value: bigint }).value;
      words[i * 2] = BigInt.asUintN(64, unscaled);
      words[i * 2 + 1] = BigInt.asUintN(64, unscaled >> 64n);
    });
    const data = new Uint32Array(words.buffer);
    return makeVector(makeData({ type: new Decimal(scale, width, 128), length, nullCount, nullBitmap, data }));
  }
  if (type.typeId === DuckDBTypeId.BOOLEAN) return vectorFromArray(values as (boolean | null)[], new Bool());
  return vectorFromArray(
    json.map((value) => (value === null ? null : String(value))),
    new Utf8(),
  );
}
