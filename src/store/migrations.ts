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
 * Times are BIGINT milliseconds since the epoch (what the API speaks, with no time-zone rounding).
 * The metrics table has no keys or ART indexes: DuckDB's planner does not use an ART index for a
 * filter matching more than a few thousand rows (every run's metrics), and one doubled the cost
 * of appending. What the run list and run view read instead is `metric_summaries`, one row per
 * (run, key) kept up to date in the same transaction as each batch.
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
  {
    version: 3,
    name: 'tracking: metric summaries kept on ingest, heartbeats of supervised runs',
    statements: [
      `CREATE TABLE metric_summaries (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        min_value DOUBLE,
        max_value DOUBLE,
        last_value DOUBLE,
        last_step BIGINT NOT NULL,
        last_timestamp_ms DOUBLE NOT NULL,
        PRIMARY KEY (run_id, key)
      )`,
      `INSERT INTO metric_summaries
       SELECT run_id, key, count(*), min(value), max(value),
         arg_max_null(value, (step, timestamp_ms, rowid)), max(step),
         arg_max(timestamp_ms, (step, timestamp_ms, rowid))
       FROM metrics GROUP BY run_id, key`,
      `CREATE TABLE run_heartbeats (
        run_id VARCHAR PRIMARY KEY,
        last_beat_ms BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 4,
    name: 'tracking: run annotations, nesting and provenance; workspace settings; artifacts; model registry',
    statements: [
      // DuckDB cannot add a column with a constraint to a table that has rows: defaults only.
      `ALTER TABLE runs ADD COLUMN parent_run_id VARCHAR`,
      `ALTER TABLE runs ADD COLUMN starred BOOLEAN DEFAULT false`,
      `ALTER TABLE runs ADD COLUMN notes VARCHAR DEFAULT ''`,
      `ALTER TABLE runs ADD COLUMN deleted_ms BIGINT`,
      `ALTER TABLE runs ADD COLUMN provenance VARCHAR`,
      `UPDATE runs SET starred = false, notes = ''`,
      `CREATE TABLE workspace_settings (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL,
        updated_ms BIGINT NOT NULL
      )`,
      `CREATE TABLE artifacts (
        run_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        sha256 VARCHAR NOT NULL,
        media_type VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        created_ms BIGINT NOT NULL,
        PRIMARY KEY (run_id, name)
      )`,
      `CREATE TABLE registered_models (
        name VARCHAR PRIMARY KEY,
        description VARCHAR NOT NULL,
        created_ms BIGINT NOT NULL
      )`,
      `CREATE TABLE model_versions (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        run_id VARCHAR,
        artifact VARCHAR NOT NULL,
        flavor VARCHAR NOT NULL,
        signature VARCHAR NOT NULL,
        parity_max_abs_diff DOUBLE,
        data_fingerprint VARCHAR,
        created_ms BIGINT NOT NULL,
        PRIMARY KEY (name, version)
      )`,
      `CREATE TABLE model_aliases (
        name VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
      )`,
    ],
  },
  {
    version: 5,
    name: 'deploy: deployments applied to Kubernetes, recorded against their model\'s run',
    statements: [
      `CREATE TABLE deployments (
        name VARCHAR NOT NULL,
        namespace VARCHAR NOT NULL,
        context VARCHAR,
        target VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        run_id VARCHAR,
        request VARCHAR NOT NULL,
        canary VARCHAR,
        forced BOOLEAN NOT NULL,
        failed_gates VARCHAR NOT NULL,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        deleted_ms BIGINT,
        PRIMARY KEY (name, namespace)
      )`,
    ],
  },
];
