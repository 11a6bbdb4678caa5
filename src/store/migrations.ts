/**
 * The store's schema, as numbered migrations. A migration is never edited once released: add the
 * next number instead. Each one runs in its own transaction together with its `schema_migrations` row.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/**
 * Times are BIGINT milliseconds since the epoch (what the API speaks, with no time-zone rounding);
 * the metrics table has no keys or indexes so that appenders stay the fast path.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tracking: experiments, runs, params, tags, metrics',
    statements: [
      `CREATE TABLE experiments (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL
      )`,
      `CREATE TABLE runs (
        id VARCHAR PRIMARY KEY,
        experiment_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT,
        source_type VARCHAR NOT NULL,
        source_code VARCHAR,
        source_error VARCHAR,
        created_seq BIGINT NOT NULL
      )`,
      `CREATE TABLE params (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY (run_id, key)
      )`,
      `CREATE TABLE tags (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY (run_id, key)
      )`,
      `CREATE TABLE metrics (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value DOUBLE,
        step BIGINT NOT NULL,
        timestamp_ms DOUBLE NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'tracking: metric batch ids, so a resent batch is stored once',
    statements: [
      `CREATE TABLE metric_batches (
        run_id VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        points BIGINT NOT NULL,
        PRIMARY KEY (run_id, batch_id)
      )`,
    ],
  },
];
