import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreLockedError } from './errors';
import { migrations, type Migration } from './migrations';
import { quoteIdent } from './sql';
import { Store } from './store';

describe('Store', () => {
  let workspace: string;
  beforeEach(() => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-store-'));
  });
  afterEach(() => rmSync(workspace, { recursive: true, force: true }));

  it('creates the DuckDB file and the artifacts folder, and applies every migration once', async () => {
    const store = await Store.open(workspace);
    try {
      expect(existsSync(join(workspace, '.opsbook', 'opsbook.duckdb'))).toBe(true);
      expect(existsSync(join(workspace, '.opsbook', 'artifacts'))).toBe(true);
      expect(store.schemaVersion).toBe(migrations[migrations.length - 1].version);
      const rows = await store.exclusive((db) => db.all('SELECT version, name FROM schema_migrations ORDER BY version'));
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    } finally {
      await store.close();
    }
    const again = await Store.open(workspace);
    try {
      const rows = await again.exclusive((db) => db.all('SELECT count(*) AS n FROM schema_migrations'));
      expect(Number(rows[0].n)).toBe(migrations.length);
    } finally {
      await again.close();
    }
  });

  it('applies only new migrations, and keeps nothing of a failing one', async () => {
    const first: Migration = { version: 1, name: 'a', statements: ['CREATE TABLE a (x INTEGER)'] };
    const second: Migration = { version: 2, name: 'b', statements: ['CREATE TABLE b (x INTEGER)'] };
    const broken: Migration = { version: 3, name: 'broken', statements: ['CREATE TABLE c (x INTEGER)', 'SELECT * FROM no_such_table'] };
    await (await Store.open(workspace, { migrations: [first] })).close();
    await expect(Store.open(workspace, { migrations: [first, second, broken] })).rejects.toThrow(/migration 3 \(broken\) failed/);
    const store = await Store.open(workspace, { migrations: [first, second] });
    try {
      expect(store.schemaVersion).toBe(2);
      const tables = await store.exclusive((db) =>
        db.all("SELECT table_name FROM information_schema.tables WHERE table_name IN ('a', 'b', 'c') ORDER BY table_name"),
      );
      expect(tables.map((t) => t.table_name)).toEqual(['a', 'b']);
    } finally {
      await store.close();
    }
  });

  it('refuses a store newer than the code', async () => {
    const store = await Store.open(workspace, { migrations: [{ version: 7, name: 'future', statements: [] }] });
    await store.close();
    await expect(Store.open(workspace, { migrations: [{ version: 1, name: 'old', statements: [] }] })).rejects.toThrow(
      /schema version 7, newer/,
    );
  });

  it('rolls a transaction back when its work throws', async () => {
    const store = await Store.open(workspace, { migrations: [{ version: 1, name: 't', statements: ['CREATE TABLE t (x INTEGER)'] }] });
    try {
      await expect(
        store.transaction(async (db) => {
          await db.run('INSERT INTO t VALUES ($1)', [1]);
          throw new Error('bad input');
        }),
      ).rejects.toThrow('bad input');
      const rows = await store.exclusive((db) => db.all('SELECT count(*) AS n FROM t'));
      expect(Number(rows[0].n)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('runs borrowers one at a time, so transactions never interleave', async () => {
    const store = await Store.open(workspace, { migrations: [{ version: 1, name: 't', statements: ['CREATE TABLE t (x INTEGER)'] }] });
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.transaction(async (db) => {
            await db.run('INSERT INTO t VALUES ($1)', [i]);
            await db.run('INSERT INTO t VALUES ($1)', [i]);
          }),
        ),
      );
      const rows = await store.exclusive((db) => db.all('SELECT count(*) AS n FROM t'));
      expect(Number(rows[0].n)).toBe(40);
    } finally {
      await store.close();
    }
  });

  it('refuses to open the same file twice in one process, and reopens after close', async () => {
    const store = await Store.open(workspace);
    await expect(Store.open(workspace)).rejects.toBeInstanceOf(StoreLockedError);
    await store.checkpoint();
    await store.close();
    await store.close();
    await expect(store.exclusive((db) => db.all('SELECT 1'))).rejects.toThrow(/closed/);
    await (await Store.open(workspace)).close();
  });
});

describe('quoteIdent', () => {
  it('quotes names, doubling embedded quotes', () => {
    expect(quoteIdent('loss')).toBe('"loss"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('select')).toBe('"select"');
  });

  it('refuses names no identifier may have', () => {
    expect(() => quoteIdent('')).toThrow(/not a usable SQL identifier/);
    expect(() => quoteIdent('a\u0000b')).toThrow(/not a usable SQL identifier/);
  });

  it('round-trips hostile names through DuckDB', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'opsbook-store-'));
    const name = 'x"; DROP TABLE t; --';
    const store = await Store.open(workspace, {
      migrations: [{ version: 1, name: 't', statements: [`CREATE TABLE t (${quoteIdent(name)} INTEGER)`] }],
    });
    try {
      await store.exclusive((db) => db.run(`INSERT INTO t (${quoteIdent(name)}) VALUES ($1)`, [5]));
      const rows = await store.exclusive((db) => db.all(`SELECT ${quoteIdent(name)} AS v FROM t`));
      expect(rows).toEqual([{ v: 5 }]);
    } finally {
      await store.close();
      rmSync(workspace, { recursive: true, force: true });
    }
  });
});
