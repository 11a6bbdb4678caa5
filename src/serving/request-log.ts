/**
 * The request log: every answered inference (time, model, version, id, status, latency, batch rows,
 * request and response bodies) in DuckDB-readable Parquet files under one folder, for the monitoring
 * work that reads them. record() only queues; every second (or at 10,000 rows) the queue goes to a
 * writer thread (request-log-worker.ts) that writes it as `requests-<start time>-<seq>.parquet`.
 * Memory is bounded: beyond 100,000 rows (or 256 Mi characters of bodies) waiting, rows are dropped,
 * counted and warned about.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FromLogWorker, LogWorkerInit, ToLogWorker } from './request-log-worker';
import type { Log, RequestRecord } from './types';

export interface RequestLogOptions {
  /** How often queued rows are written (default 1000 ms). */
  flushMs?: number;
  /** Rows that trigger a write before the timer (default 10,000). */
  flushRows?: number;
  /** Most rows waiting to be written; more are dropped (default 100,000). */
  maxQueued?: number;
  /** Most request and response text waiting to be written, in UTF-16 code units; more is dropped (default 256 Mi). */
  maxQueuedChars?: number;
}

export class RequestLog {
  private queue: RequestRecord[] = [];
  /** Rows handed to the writer and not yet written. */
  private writing = 0;
  /** Body characters queued or handed to the writer and not yet written. */
  private chars = 0;
  /** Body characters of each batch handed to the writer, oldest first (the writer answers in order). */
  private readonly batchChars: number[] = [];
  private droppedRows = 0;
  private droppedSinceWarning = 0;
  private writtenRows = 0;
  private readonly fileList: string[] = [];
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private readonly flushRows: number;
  private readonly maxQueued: number;
  private readonly maxChars: number;
  private closed: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  private readonly exited: Promise<void>;

  constructor(
    readonly dir: string,
    private readonly log: Log,
    options: RequestLogOptions = {},
  ) {
    this.flushRows = options.flushRows ?? 10_000;
    this.maxQueued = options.maxQueued ?? 100_000;
    this.maxChars = options.maxQueuedChars ?? 256 * 1024 * 1024;
    const init: LogWorkerInit = { dir, prefix: `requests-${fileTime(new Date())}` };
    this.worker = new Worker(logWorkerFile(), { workerData: init });
    this.worker.on('message', (message: FromLogWorker) => this.onMessage(message));
    this.worker.on('error', (error) => this.log({ level: 'error', msg: `the request log writer failed: ${error.message}; requests are no longer logged` }));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.timer = setInterval(() => this.flush(), options.flushMs ?? 1000);
    this.timer.unref();
  }

  /** Queues one row (O(1)); it is written within a second. */
  record(row: RequestRecord): void {
    if (this.closed) return;
    const chars = row.request.length + row.response.length;
    if (this.queue.length + this.writing >= this.maxQueued || this.chars + chars > this.maxChars) {
      this.droppedRows++;
      this.droppedSinceWarning++;
      return;
    }
    this.chars += chars;
    this.queue.push(row);
    if (this.queue.length >= this.flushRows) this.flush();
  }

  /** Rows written to Parquet so far. */
  get written(): number {
    return this.writtenRows;
  }

  /** Rows dropped because the queue was full or a write failed. */
  get dropped(): number {
    return this.droppedRows;
  }

  /** The Parquet files written so far. */
  get files(): string[] {
    return [...this.fileList];
  }

  /** Writes what is queued, then stops the writer. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.timer);
      this.flush();
      const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
      this.post({ t: 'close' });
      await Promise.race([closed, this.exited]);
      await this.worker.terminate();
    })();
    return this.closed;
  }

  private flush(): void {
    if (this.droppedSinceWarning > 0) {
      this.log({
        level: 'warn',
        msg: `request log: dropped ${this.droppedSinceWarning} rows (more than ${this.maxQueued} rows or ${this.maxChars} characters waiting to be written)`,
        dropped: this.droppedRows,
      });
      this.droppedSinceWarning = 0;
    }
    if (this.queue.length === 0) return;
    const rows = this.queue;
    this.queue = [];
    this.writing += rows.length;
    let chars = 0;
    for (const row of rows) chars += row.request.length + row.response.length;
    this.batchChars.push(chars);
    this.post({ t: 'rows', rows });
  }

  private post(message: ToLogWorker): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: FromLogWorker): void {
    if (message.t !== 'closed') this.chars -= this.batchChars.shift() ?? 0;
    if (message.t === 'written') {
      this.writing -= message.rows;
      this.writtenRows += message.rows;
      this.fileList.push(message.file);
    } else if (message.t === 'failed') {
      this.writing -= message.rows;
      this.droppedRows += message.rows;
      this.log({ level: 'warn', msg: `request log: could not write ${message.rows} rows: ${message.error}`, dropped: this.droppedRows });
    } else this.onClosed?.();
  }
}

/** 2026-11-23T08:45:00.123Z as 20261123T084500Z: sortable, and legal in every file system. */
function fileTime(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * The writer's file: compiled beside this module, the bundle's (request-log-worker.cjs beside
 * opsbook.cjs), or — for this module run from its TypeScript source, as jest does — the compiled one.
 */
function logWorkerFile(): string {
  const candidates = [join(__dirname, 'request-log-worker.js'), join(__dirname, 'request-log-worker.cjs'), join(__dirname, '..', 'dist', 'serving', 'request-log-worker.js')];
  return candidates.find((file) => existsSync(file)) ?? candidates[0];
}
