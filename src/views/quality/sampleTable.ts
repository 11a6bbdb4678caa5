import type { Data, Vector } from 'apache-arrow';
import type { Sample } from '@opsbook/schema';

/** A failing-row sample ready to draw: each cell as the exact text of its value, `null` for SQL NULL. */
export interface SampleTable {
  columns: { name: string; type: string; numeric: boolean }[];
  rows: (string | null)[][];
  /** Where the cells came from: the Arrow IPC stream (exact types) or the JSON rows. */
  source: 'arrow' | 'rows';
  /** Why the Arrow stream could not be read, when the JSON rows were drawn instead. */
  arrowError?: string;
}

/** The apache-arrow module. */
export type ArrowModule = typeof import('apache-arrow');

/** Resolves apache-arrow; views take one as a prop so hosts (and tests) can supply their own. */
export type ArrowLoader = () => Promise<ArrowModule>;

let arrowModule: Promise<ArrowModule> | undefined;

/** apache-arrow, imported on first use so that hosts load it only when a sample is shown. */
export const loadArrow: ArrowLoader = () => {
  arrowModule ??= import('apache-arrow');
  return arrowModule;
};

const NUMERIC_DUCKDB_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL|NUMERIC)\b/i;

/** The sample's JSON rows as they are (int64 beyond 2^53, decimals and timestamps already strings). */
export function jsonSampleTable(sample: Sample, arrowError?: string): SampleTable {
  const rows = sample.rows as (number | string | boolean | null)[][];
  return {
    columns: sample.columns.map((column) => ({ ...column, numeric: NUMERIC_DUCKDB_TYPE.test(column.type) })),
    rows: rows.map((row) => row.map((value) => (value === null ? null : String(value)))),
    source: 'rows',
    arrowError,
  };
}

/**
 * The cells of a sample, read from its Arrow IPC stream where it has one: an int64 beyond 2^53, a
 * decimal or a microsecond timestamp keeps every digit there. Without a stream, or with one that
 * does not decode, the JSON rows (and why the stream was not used).
 */
export async function sampleTable(sample: Sample, arrow: ArrowLoader = loadArrow): Promise<SampleTable> {
  if (!sample.arrow) return jsonSampleTable(sample);
  try {
    return arrowSampleTable(await arrow(), sample, sample.arrow);
  } catch (reason) {
    return jsonSampleTable(sample, reason instanceof Error ? reason.message : String(reason));
  }
}

function arrowSampleTable(arrow: ArrowModule, sample: Sample, stream: string): SampleTable {
  const { DataType } = arrow;
  const table = arrow.tableFromIPC(base64Bytes(stream));
  const cells = table.schema.fields.map((_field, i) => columnCells(arrow, table.getChildAt(i)!));
  return {
    // Arrow needs unique field names, so repeated column names are renamed there: the sample's own
    // names and DuckDB types are taken by position.
    columns: table.schema.fields.map((field, i) => ({
      name: sample.columns[i]?.name ?? field.name,
      type: sample.columns[i]?.type ?? String(field.type),
      numeric: DataType.isInt(field.type) || DataType.isFloat(field.type) || DataType.isDecimal(field.type),
    })),
    rows: Array.from({ length: table.numRows }, (_, row) => cells.map((column) => column[row])),
    source: 'arrow',
  };
}

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function columnCells(arrow: ArrowModule, vector: Vector): (string | null)[] {
  const cells: (string | null)[] = [];
  for (const data of vector.data) {
    const base = cells.length;
    for (let i = 0; i < data.length; i++) cells.push(data.getValid(i) ? cellText(arrow, data, i, () => vector.get(base + i)) : null);
  }
  return cells;
}

/** One value as text, read from the column's buffers where Arrow's getter would round it. */
function cellText({ DataType }: ArrowModule, data: Data, index: number, get: () => unknown): string {
  const type = data.type;
  if (DataType.isInt(type) && type.bitWidth === 64) return String((data.values as BigInt64Array | BigUint64Array)[index]);
  if (DataType.isTimestamp(type)) return timestampText((data.values as BigInt64Array)[index], type.unit, type.timezone);
  if (DataType.isDate(type)) {
    const ms = type.unit === DATE_UNIT_DAY ? (data.values as Int32Array)[index] * DAY_MS : Number((data.values as BigInt64Array)[index]);
    return new Date(ms).toISOString().slice(0, 10);
  }
  if (DataType.isDecimal(type)) {
    const words = type.bitWidth / 32;
    return decimalText((data.values as Uint32Array).subarray(index * words, (index + 1) * words), type.scale);
  }
  return valueText(get());
}

const DAY_MS = 86_400_000;
/** Arrow's DateUnit.DAY; the unit enums are numbered by the Arrow format, not by the JS library. */
const DATE_UNIT_DAY = 0;
/** Units per second of Arrow's TimeUnit SECOND, MILLISECOND, MICROSECOND, NANOSECOND (0 to 3). */
const UNITS_PER_SECOND = [1n, 1_000n, 1_000_000n, 1_000_000_000n];

/**
 * ISO 8601 with every digit of the stored unit (trailing zeros of the fraction dropped); a
 * timestamp with a time zone is an instant and ends in Z, one without is a wall-clock time.
 */
export function timestampText(value: bigint, unit: number, timezone: string | null | undefined): string {
  const perSecond = UNITS_PER_SECOND[unit];
  let seconds = value / perSecond;
  let fraction = value % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const digits = String(perSecond).length - 1;
  const fractionText = fraction === 0n ? '' : `.${String(fraction).padStart(digits, '0').replace(/0+$/, '')}`;
  return `${whole}${fractionText}${timezone ? 'Z' : ''}`;
}

/** A two's-complement decimal of 32-bit little-endian words, scaled by 10^-scale, every digit kept. */
export function decimalText(words: Uint32Array, scale: number): string {
  let unscaled = 0n;
  for (let i = words.length - 1; i >= 0; i--) unscaled = (unscaled << 32n) | BigInt(words[i]);
  const bits = BigInt(words.length * 32);
  if (unscaled >> (bits - 1n) === 1n) unscaled -= 1n << bits;
  const negative = unscaled < 0n;
  const digits = String(negative ? -unscaled : unscaled);
  if (scale <= 0) return `${negative ? '-' : ''}${digits}${'0'.repeat(-scale)}`;
  const padded = digits.padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return `0x${Array.from(value, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  const plain = (value as { toJSON?: () => unknown })?.toJSON?.() ?? value;
  return JSON.stringify(plain, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}
