import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { RequestLog } from './request-log';
import type { LogFields, RequestRecord } from './types';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsbook-request-log-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function row(i: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    time_ms: Date.UTC(2026, 10, 23, 8, 0, 0) + i,
    model: i % 2 ? 'iris' : 'house',
    version: String(1 + (i % 3)),
    id: i % 5 === 0 ? null : `req-${i}`,
    status: i % 7 === 0 ? 400 : 200,
    latency_ms: i / 8,
    batch_rows: 1 + (i % 4),
    request: JSON.stringify({ id: `req-${i}`, inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 2], data: [i, i + 0.5] }] }),
    response: JSON.stringify({ model_name: 'm', outputs: [{ name: 'Y', datatype: 'FP32', shape: [1], data: [i * 2] }] }),
    ...overrides,
  };
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('RequestLog', () => {
  it('writes every row to Parquet files DuckDB reads back, column by column', async () => {
    const logs: LogFields[] = [];
    const log = new RequestLog(dir, (fields) => logs.push(fields), { flushRows: 10, flushMs: 60_000 });
    for (let i = 0; i < 25; i++) log.record(row(i));
    // Not JSON: a request that was refused for being malformed is logged as it came.
    log.record(row(25, { request: '{"inputs": [', status: 400, response: '{"error":"invalid JSON"}' }));
    await log.close();
    expect(log.written).toBe(26);
    expect(log.dropped).toBe(0);

    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    files.forEach((file, i) => expect(file).toMatch(new RegExp(`^requests-\\d{8}T\\d{6}Z-00000${i + 1}\\.parquet$`)));
    expect(log.files.map((file) => file.slice(dir.length + 1)).sort()).toEqual(files);

    const glob = join(dir, '*.parquet');
    const types = await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${glob}'))`);
    expect(types.map((t) => [t.column_name, t.column_type])).toEqual([
      ['time', 'TIMESTAMP'],
      ['model', 'VARCHAR'],
      ['version', 'VARCHAR'],
      ['id', 'VARCHAR'],
      ['status', 'INTEGER'],
      ['latency_ms', 'DOUBLE'],
      ['batch_rows', 'INTEGER'],
      ['request', 'VARCHAR'],
      ['response', 'VARCHAR'],
    ]);
    const rows = await query(
      `SELECT epoch_ms(time) AS time_ms, model, version, id, status, latency_ms, batch_rows, request, response FROM read_parquet('${glob}') ORDER BY time`,
    );
    expect(rows).toHaveLength(26);
    rows.forEach((got, i) => {
      const expected = i < 25 ? row(i) : row(25, { request: '{"inputs": [', status: 400, response: '{"error":"invalid JSON"}' });
      expect({ ...got, time_ms: Number(got.time_ms) }).toEqual(expected);
    });
    // The bodies are JSON DuckDB can take apart.
    const [data] = await query(`SELECT sum((request::JSON->'inputs'->0->'data'->>0)::DOUBLE) AS s FROM read_parquet('${glob}') WHERE status = 200`);
    let expected = 0;
    for (let i = 0; i < 25; i++) if (i % 7 !== 0) expected += i;
    expect(data.s).toBe(expected);
    expect(logs.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('writes on its timer without being closed', async () => {
    const log = new RequestLog(dir, () => undefined, { flushMs: 50 });
    log.record(row(1));
    log.record(row(2));
    while (log.written < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readdirSync(dir).filter((file) => file.endsWith('.parquet'))).toHaveLength(1);
    const [count] = await query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${join(dir, '*.parquet')}')`);
    expect(count.n).toBe(2);
    await log.close();
  });

  it('keeps memory bounded: rows beyond the queue limit are dropped, counted and warned about', async () => {
    const logs: LogFields[] = [];
    const log = new RequestLog(dir, (fields) => logs.push(fields), { flushMs: 60_000, flushRows: 1000, maxQueued: 10 });
    for (let i = 0; i < 25; i++) log.record(row(i));
    expect(log.dropped).toBe(15);
    await log.close();
    expect(log.written).toBe(10);
    expect(logs).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/dropped 15 rows/), dropped: 15 })]);
    const [count] = await query(`SELECT count(*)::INTEGER AS n, min(id) AS first FROM read_parquet('${join(dir, '*.parquet')}')`);
    expect(count).toEqual({ n: 10, first: 'req-1' });
    // After close nothing more is taken.
    log.record(row(99));
    expect(log.written).toBe(10);
  });

  it('bounds the bodies waiting too, by their length', async () => {
    const logs: LogFields[] = [];
    const log = new RequestLog(dir, (fields) => logs.push(fields), { flushMs: 60_000, maxQueuedChars: 1000 });
    const big = 'x'.repeat(300);
    for (let i = 0; i < 5; i++) log.record(row(i, { request: JSON.stringify({ pad: big }), response: '{}' }));
    expect(log.dropped).toBe(2);
    await log.close();
    expect(log.written).toBe(3);
    expect(logs).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/dropped 2 rows .*1000 characters/) })]);
  });

  it('close() with nothing recorded writes no file (and makes no folder)', async () => {
    const nested = join(dir, 'a', 'b');
    const log = new RequestLog(nested, () => undefined);
    await log.close();
    expect(log.written).toBe(0);
    expect(log.files).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
