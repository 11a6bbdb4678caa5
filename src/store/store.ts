import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { StoreLockedError } from './errors';
import { migrations as defaultMigrations, type Migration } from './migrations';

/** Values bound to `$1, $2, …` of a statement. */
export type SqlParams = DuckDBValue[];

/** Types of the bound values, where DuckDB cannot infer them (a list, a null). */
export type SqlTypes = DuckDBType[];

/** A row as plain JS values (BIGINT columns come back as `bigint`). */
export type SqlRow = Record<string, unknown>;

/** What a borrower of the store may do while it holds the connection. */
export interface StoreSession {
  /** The raw connection, for appenders. Do not keep it past the callback. */
  readonly connection: DuckDBConnection;
  /** Runs a statement with bound values and returns its rows. */
  all(sql: string, params?: SqlParams, types?: SqlTypes): Promise<SqlRow[]>;
  /** Runs a statement with bound values. */
  run(sql: string, params?: SqlParams, types?: SqlTypes): Promise<void>;
}

export interface StoreOptions {
  /** Migrations to apply (tests pass their own); defaults to `migrations.ts`. */
  migrations?: readonly Migration[];
}

/** Stores already open in this process: DuckDB would happily open a second, conflicting instance. */
const openInProcess = new Set<string>();

/** Most connections kept for readers; more concurrent reads wait for one to come free. */
const READ_CONNECTIONS = 4;

/**
 * The workspace's DuckDB file, `<workspace>/.opsbook/opsbook.duckdb`, and its artifacts folder.
 * One Store holds the one write connection; every capability borrows it through {@link exclusive}
 * or {@link transaction}, which run one at a time so that requests never interleave inside a
 * transaction. Reads borrow connections of their own through {@link read}, so they never wait
 * behind a write and see only committed data.
 */
export class Store {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly idleReaders: DuckDBConnection[] = [];
  private readonly readerWaiters: ((connection: DuckDBConnection) => void)[] = [];
  private readerCount = 0;
  private readonly readsInFlight = new Set<Promise<unknown>>();

  private constructor(
    /** Real path of the workspace folder. */
    readonly workspace: string,
    /** Path of the DuckDB file. */
    readonly path: string,
    /** Folder for artifact files. */
    readonly artifactsDir: string,
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    /** Version of the newest migration applied. */
    readonly schemaVersion: number,
  ) {}

  /**
   * Opens (creating when needed) the store of a workspace and applies pending migrations.
   * @throws StoreLockedError when another process, or this one, holds the file.
   * @throws Error when the workspace folder does not exist or a migration fails (nothing of it is kept).
   */
  static async open(workspace: string, options: StoreOptions = {}): Promise<Store> {
    const root = realpathSync(workspace);
    const dir = join(root, '.opsbook');
    const artifactsDir = join(dir, 'artifacts');
    mkdirSync(artifactsDir, { recursive: true });
    const path = join(dir, 'opsbook.duckdb');
    if (openInProcess.has(path)) {
      throw new StoreLockedError(path, `the store ${path} is already open in this process`);
    }
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/lock/i.test(message)) throw new StoreLockedError(path, `the store ${path} is locked: ${message}`);
      throw error;
    }
    const connection = await instance.connect();
    try {
      const version = await migrate(connection, options.migrations ?? defaultMigrations);
      openInProcess.add(path);
      return new Store(root, path, artifactsDir, instance, connection, version);
    } catch (error) {
      connection.closeSync();
      instance.closeSync();
      throw error;
    }
  }

  /**
   * Runs `work` with the connection, after every earlier borrower has finished.
   * @throws Error when the store is closed, or whatever `work` throws.
   */
  exclusive<T>(work: (session: StoreSession) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const session = sessionOf(this.connection);
    const next = this.queue.then(() => work(session));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs `work` on a connection of its own, at once when one is free: a read never waits for a
   * write in progress, and sees the data committed before it started. `work` must not write.
   * @throws Error when the store is closed, or whatever `work` throws.
   */
  read<T>(work: (session: StoreSession) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const done = (async () => {
      const connection = await this.borrowReader();
      try {
        return await work(sessionOf(connection));
      } finally {
        this.returnReader(connection);
      }
    })();
    this.readsInFlight.add(done);
    void done.catch(() => undefined).finally(() => this.readsInFlight.delete(done));
    return done;
  }

  private async borrowReader(): Promise<DuckDBConnection> {
    const idle = this.idleReaders.pop();
    if (idle) return idle;
    if (this.readerCount < READ_CONNECTIONS) {
      this.readerCount += 1;
      return this.instance.connect();
    }
    return new Promise((resolve) => this.readerWaiters.push(resolve));
  }

  private returnReader(connection: DuckDBConnection): void {
    const waiter = this.readerWaiters.shift();
    if (waiter) waiter(connection);
    else this.idleReaders.push(connection);
  }

  /**
   * Like {@link exclusive}, inside a transaction that is rolled back when `work` throws, so that
   * bad input leaves nothing half-written.
   * @throws whatever `work` throws, after the rollback.
   */
  transaction<T>(work: (session: StoreSession) => Promise<T>): Promise<T> {
    return this.exclusive(async (session) => {
      await session.run('BEGIN TRANSACTION');
      try {
        const result = await work(session);
        await session.run('COMMIT');
        return result;
      } catch (error) {
        await session.run('ROLLBACK');
        throw error;
      }
    });
  }

  /**
   * Writes the write-ahead log into the database file.
   * @throws Error when the store is closed.
   */
  checkpoint(): Promise<void> {
    return this.exclusive((session) => session.run('CHECKPOINT'));
  }

  /** Waits for borrowers to finish, checkpoints and closes the file. Closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.checkpoint().catch(() => undefined);
    this.closed = true;
    await this.queue;
    await Promise.allSettled([...this.readsInFlight]);
    for (const reader of this.idleReaders.splice(0)) reader.closeSync();
    this.connection.closeSync();
    this.instance.closeSync();
    openInProcess.delete(this.path);
  }
}

function sessionOf(connection: DuckDBConnection): StoreSession {
  return {
    connection,
    async all(sql, params, types) {
      const reader = await connection.runAndReadAll(sql, params, types);
      return reader.getRowObjectsJS() as SqlRow[];
    },
    async run(sql, params, types) {
      await connection.run(sql, params, types);
    },
  };
}

async function migrate(connection: DuckDBConnection, list: readonly Migration[]): Promise<number> {
  await connection.run(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name VARCHAR NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )`,
  );
  const reader = await connection.runAndReadAll('SELECT coalesce(max(version), 0) AS v FROM schema_migrations');
  let current = Number(reader.getRowObjectsJS()[0]?.v ?? 0);
  const newest = list.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > newest) {
    throw new Error(`the store is at schema version ${current}, newer than this opsbook (${newest}); upgrade opsbook`);
  }
  for (const migration of [...list].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    await connection.run('BEGIN TRANSACTION');
    try {
      for (const statement of migration.statements) await connection.run(statement);
      await connection.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      await connection.run('COMMIT');
    } catch (error) {
      await connection.run('ROLLBACK');
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`migration ${migration.version} (${migration.name}) failed: ${message}`);
    }
    current = migration.version;
  }
  return current;
}
