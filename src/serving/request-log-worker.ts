/**
 * The request log's writer thread: appends the rows the server hands over to an in-memory DuckDB
 * table and copies each batch to its own Parquet file, so none of this work runs on the thread that
 * answers requests. Each file is written under a temporary name and renamed when complete, so a
 * reader never sees half a file.
 */
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBConnection } from '@duckdb/node-api';
import type { RequestRecord } from './types';

export interface LogWorkerInit {
  dir: string;
  /** File names are `<prefix>-<seq>.parquet`. */
  prefix: string;
}

export type ToLogWorker = { t: 'rows'; rows: RequestRecord[] } | { t: 'close' };
export type FromLogWorker =
  | { t: 'written'; rows: number; file: string }
  | { t: 'failed'; rows: number; error: string }
  | { t: 'closed' };

const init = workerData as LogWorkerInit;
const port = parentPort!;

const TABLE = `CREATE TABLE requests (
  time TIMESTAMP, model VARCHAR, version VARCHAR, id VARCHAR, status INTEGER,
  latency_ms DOUBLE, batch_rows INTEGER, request VARCHAR, response VARCHAR)`;

let seq = 0;
let connection: Promise<DuckDBConnection> | null = null;
// Batches are written one after the other, in the order they came.
let chain: Promise<void> = Promise.resolve();

function connect(): Promise<DuckDBConnection> {
  connection ??= (async () => {
    mkdirSync(init.dir, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    await conn.run(TABLE);
    return conn;
  })();
  return connection;
}

async function write(rows: RequestRecord[]): Promise<void> {
  try {
    const conn = await connect();
    const appender = await conn.createAppender('requests');
    for (const row of rows) {
      appender.appendTimestamp(new DuckDBTimestampValue(BigInt(Math.round(row.time_ms * 1000))));
      appender.appendVarchar(row.model);
      appender.appendVarchar(row.version);
      if (row.id === null) appender.appendNull();
      else appender.appendVarchar(row.id);
      appender.appendInteger(row.status);
      appender.appendDouble(row.latency_ms);
      appender.appendInteger(row.batch_rows);
      appender.appendVarchar(row.request);
      appender.appendVarchar(row.response);
      appender.endRow();
    }
    appender.closeSync();
    seq += 1;
    const file = join(init.dir, `${init.prefix}-${String(seq).padStart(6, '0')}.parquet`);
    const partial = `${file}.partial`;
    await conn.run(`COPY requests TO '${partial.replace(/'/g, "''")}' (FORMAT parquet)`);
    await conn.run('DELETE FROM requests');
    renameSync(partial, file);
    post({ t: 'written', rows: rows.length, file });
  } catch (error) {
    post({ t: 'failed', rows: rows.length, error: error instanceof Error ? error.message : String(error) });
    // Start the next batch on an empty table.
    try {
      await (await connect()).run('DELETE FROM requests');
    } catch {
      connection = null;
    }
  }
}

function post(message: FromLogWorker): void {
  port.postMessage(message);
}

port.on('message', (message: ToLogWorker) => {
  if (message.t === 'rows') chain = chain.then(() => write(message.rows));
  else chain = chain.then(() => post({ t: 'closed' }));
});
