import { lstatSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type {
  DataFingerprint,
  ModelAlias,
  ModelList,
  ModelResolution,
  ModelSignature,
  ModelVersion,
  ModelVersionCreate,
  RegisteredModel,
} from '@opsbook/schema';
import { BadInputError, NotFoundError } from '../store/errors';
import type { SqlRow, Store, StoreSession } from '../store/store';
import type { ArtifactStore } from './artifacts';

/** A registered model's name, as in `model.schema.json`. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** An alias starts with a letter, so `NAME@3` can never be mistaken for a version. */
const ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** What a model reference names, before it is looked up. */
export type ModelRef =
  | { kind: 'path'; path: string }
  | { kind: 'latest'; name: string }
  | { kind: 'version'; name: string; version: number }
  | { kind: 'alias'; name: string; alias: string };

/**
 * Parses `NAME`, `NAME:VERSION`, `NAME@ALIAS`, or a path to an `.onnx` file (anything holding a
 * '/' or ending in `.onnx`).
 * @throws BadInputError (field `ref`) naming the reference when it is none of these.
 */
export function parseModelRef(ref: string): ModelRef {
  const bad = (why: string): never => {
    throw new BadInputError('ref', ref, `model reference ${JSON.stringify(ref)} ${why}; expected NAME, NAME:VERSION, NAME@ALIAS or a path to an .onnx file`);
  };
  if (ref.includes('\u0000')) bad('holds a NUL character');
  if (ref.includes('/') || ref.includes('\\') || ref.toLowerCase().endsWith('.onnx')) {
    if (!ref.toLowerCase().endsWith('.onnx')) bad('is a path that does not end in .onnx');
    return { kind: 'path', path: ref };
  }
  const versioned = /^([^:@]+):(.*)$/.exec(ref);
  if (versioned) {
    if (!MODEL_NAME.test(versioned[1])) bad('has a bad model name');
    if (!/^[1-9]\d{0,8}$/.test(versioned[2])) bad('has a version that is not a positive integer');
    return { kind: 'version', name: versioned[1], version: Number(versioned[2]) };
  }
  const aliased = /^([^:@]+)@(.*)$/.exec(ref);
  if (aliased) {
    if (!MODEL_NAME.test(aliased[1])) bad('has a bad model name');
    if (!ALIAS.test(aliased[2])) bad('has a bad alias (a letter, then letters, digits, _ or -)');
    return { kind: 'alias', name: aliased[1], alias: aliased[2] };
  }
  if (!MODEL_NAME.test(ref)) bad('is not a model name');
  return { kind: 'latest', name: ref };
}

/**
 * The model registry: named models whose numbered versions each point at an `.onnx` artifact of a
 * run, with aliases (`prod`, `candidate`) that point at versions.
 */
export class ModelRegistry {
  constructor(
    private readonly store: Store,
    private readonly artifacts: ArtifactStore,
  ) {}

  /**
   * Registers the next version of `name` (1 for a new model); numbering happens inside one
   * transaction, so two registrations never get the same number.
   * @throws NotFoundError when the run or its artifact does not exist.
   * @throws BadInputError when the artifact is not an `.onnx` file or its name is bad.
   */
  async register(name: string, input: ModelVersionCreate): Promise<ModelVersion> {
    const artifact = await this.artifacts.get(input.run_id, input.artifact);
    if (!artifact.name.toLowerCase().endsWith('.onnx')) {
      throw new BadInputError('/artifact', input.artifact, `artifact ${JSON.stringify(input.artifact)} is not an .onnx file`);
    }
    await this.artifacts.pathOf(input.run_id, artifact.name);
    const version = await this.store.transaction(async (db) => {
      const now = BigInt(Date.now());
      const existing = await db.all('SELECT name FROM registered_models WHERE name = $1', [name]);
      if (existing.length === 0) {
        await db.run('INSERT INTO registered_models (name, description, created_ms) VALUES ($1, $2, $3)', [name, input.description ?? '', now]);
      }
      const [next] = await db.all('SELECT coalesce(max(version), 0) + 1 AS version FROM model_versions WHERE name = $1', [name]);
      const number = Number(next.version);
      await db.run(
        `INSERT INTO model_versions (name, version, run_id, artifact, flavor, signature, parity_max_abs_diff, data_fingerprint, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          name,
          number,
          input.run_id,
          artifact.name,
          input.flavor,
          JSON.stringify(input.signature),
          input.parity_max_abs_diff ?? null,
          input.data_fingerprint ? JSON.stringify(input.data_fingerprint) : null,
          now,
        ],
      );
      return number;
    });
    return this.getVersion(name, version);
  }

  /** Every registered model with its versions and aliases, sorted by name. */
  list(): Promise<ModelList> {
    return this.store.read(async (db) => {
      const models = await db.all('SELECT * FROM registered_models ORDER BY name');
      return { models: await Promise.all(models.map((row) => this.modelOf(db, row))) };
    });
  }

  /**
   * One model with its versions (newest first) and aliases.
   * @throws NotFoundError when no model has that name.
   */
  get(name: string): Promise<RegisteredModel> {
    return this.store.read(async (db) => {
      const [row] = await db.all('SELECT * FROM registered_models WHERE name = $1', [name]);
      if (!row) throw new NotFoundError('name', name, `no registered model named ${JSON.stringify(name)}`);
      return this.modelOf(db, row);
    });
  }

  /**
   * One version of a model.
   * @throws NotFoundError when the model or the version does not exist.
   */
  getVersion(name: string, version: number): Promise<ModelVersion> {
    return this.store.read(async (db) => {
      const [row] = await db.all('SELECT * FROM model_versions WHERE name = $1 AND version = $2', [name, version]);
      if (!row) {
        await requireModel(db, name);
        throw new NotFoundError('version', String(version), `model ${JSON.stringify(name)} has no version ${version}`);
      }
      return (await this.versionsOf(db, name, [row]))[0];
    });
  }

  /**
   * Points `alias` at a version of `name`, moving it when it pointed elsewhere.
   * @throws NotFoundError when the model or the version does not exist.
   * @throws BadInputError when the alias is not a letter followed by letters, digits, _ or -.
   */
  setAlias(name: string, alias: string, version: number): Promise<ModelAlias> {
    if (!ALIAS.test(alias)) throw new BadInputError('alias', alias, `alias ${JSON.stringify(alias)} must be a letter followed by letters, digits, _ or -`);
    return this.store.transaction(async (db) => {
      const found = await db.all('SELECT version FROM model_versions WHERE name = $1 AND version = $2', [name, version]);
      if (found.length === 0) {
        await requireModel(db, name);
        throw new NotFoundError('/version', String(version), `model ${JSON.stringify(name)} has no version ${version}`);
      }
      await db.run('DELETE FROM model_aliases WHERE name = $1 AND alias = $2', [name, alias]);
      await db.run('INSERT INTO model_aliases (name, alias, version) VALUES ($1, $2, $3)', [name, alias, version]);
      return { name, alias, version };
    });
  }

  /**
   * Removes an alias.
   * @returns what it pointed at.
   * @throws NotFoundError when the model or the alias does not exist.
   */
  deleteAlias(name: string, alias: string): Promise<ModelAlias> {
    return this.store.transaction(async (db) => {
      const [row] = await db.all('SELECT version FROM model_aliases WHERE name = $1 AND alias = $2', [name, alias]);
      if (!row) {
        await requireModel(db, name);
        throw new NotFoundError('alias', alias, `model ${JSON.stringify(name)} has no alias ${JSON.stringify(alias)}`);
      }
      await db.run('DELETE FROM model_aliases WHERE name = $1 AND alias = $2', [name, alias]);
      return { name, alias, version: Number(row.version) };
    });
  }

  /**
   * What a model reference names: the version and the absolute path of its `.onnx` file. A path
   * reference is taken relative to the workspace and must be a regular file.
   * @throws BadInputError (field `ref`) when the reference is malformed.
   * @throws NotFoundError when the model, version, alias or file does not exist.
   */
  async resolve(ref: string): Promise<ModelResolution> {
    const parsed = parseModelRef(ref);
    if (parsed.kind === 'path') {
      const path = isAbsolute(parsed.path) ? parsed.path : resolve(this.store.workspace, parsed.path);
      let isFile = false;
      try {
        isFile = lstatSync(path).isFile();
      } catch {
        isFile = false;
      }
      if (!isFile) throw new NotFoundError('ref', ref, `no .onnx file at ${path}`);
      return { ref, path, version: null };
    }
    let number: number;
    if (parsed.kind === 'version') {
      number = parsed.version;
    } else if (parsed.kind === 'alias') {
      const [row] = await this.store.read((db) =>
        db.all('SELECT version FROM model_aliases WHERE name = $1 AND alias = $2', [parsed.name, parsed.alias]),
      );
      if (!row) {
        await this.get(parsed.name);
        throw new NotFoundError('ref', ref, `model ${JSON.stringify(parsed.name)} has no alias ${JSON.stringify(parsed.alias)}`);
      }
      number = Number(row.version);
    } else {
      number = (await this.get(parsed.name)).latest_version;
    }
    const version = await this.getVersion(parsed.name, number).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new NotFoundError('ref', ref, `${error.message} (from ${JSON.stringify(ref)})`);
      throw error;
    });
    if (version.run_id === null) throw new NotFoundError('ref', ref, `version ${number} of ${JSON.stringify(parsed.name)} has no run to hold its file`);
    const path = await this.artifacts.pathOf(version.run_id, version.artifact);
    return { ref, path, version };
  }

  private async modelOf(db: StoreSession, row: SqlRow): Promise<RegisteredModel> {
    const name = row.name as string;
    const rows = await db.all('SELECT * FROM model_versions WHERE name = $1 ORDER BY version DESC', [name]);
    const versions = await this.versionsOf(db, name, rows);
    const aliases = await db.all('SELECT alias, version FROM model_aliases WHERE name = $1 ORDER BY alias', [name]);
    return {
      name,
      description: row.description as string,
      created_at: new Date(Number(row.created_ms)).toISOString(),
      latest_version: versions[0]?.version ?? 1,
      aliases: Object.fromEntries(aliases.map((a) => [a.alias as string, Number(a.version)])),
      versions,
    };
  }

  private async versionsOf(db: StoreSession, name: string, rows: SqlRow[]): Promise<ModelVersion[]> {
    const aliases = await db.all('SELECT alias, version FROM model_aliases WHERE name = $1 ORDER BY alias', [name]);
    const figures = new Set<string>();
    const runIds = [...new Set(rows.map((row) => row.run_id as string | null).filter((id): id is string => id !== null))];
    for (const runId of runIds) {
      const found = await db.all(`SELECT name FROM artifacts WHERE run_id = $1 AND name LIKE '%.parity.%'`, [runId]);
      for (const figure of found) figures.add(`${runId}/${figure.name as string}`);
    }
    return rows.map((row) => {
      const version = Number(row.version);
      const runId = (row.run_id as string | null) ?? null;
      const artifact = row.artifact as string;
      const stem = artifact.replace(/\.onnx$/i, '');
      const figure = ['svg', 'png'].map((ext) => `${stem}.parity.${ext}`).find((candidate) => figures.has(`${runId}/${candidate}`)) ?? null;
      return {
        name,
        version,
        run_id: runId,
        artifact,
        flavor: row.flavor as string,
        signature: JSON.parse(row.signature as string) as ModelSignature,
        parity_max_abs_diff: row.parity_max_abs_diff === null ? null : Number(row.parity_max_abs_diff),
        parity_figure: figure,
        data_fingerprint: row.data_fingerprint === null ? null : (JSON.parse(row.data_fingerprint as string) as DataFingerprint),
        aliases: aliases.filter((a) => Number(a.version) === version).map((a) => a.alias as string),
        created_at: new Date(Number(row.created_ms)).toISOString(),
      };
    });
  }
}

async function requireModel(db: StoreSession, name: string): Promise<void> {
  const rows = await db.all('SELECT name FROM registered_models WHERE name = $1', [name]);
  if (rows.length === 0) throw new NotFoundError('name', name, `no registered model named ${JSON.stringify(name)}`);
}

/**
 * Resolves a model reference (`NAME`, `NAME:VERSION`, `NAME@ALIAS` or an `.onnx` path) through the
 * registry: the one entry point for the explain, serve and deploy capabilities.
 * @throws BadInputError (field `ref`) when the reference is malformed.
 * @throws NotFoundError when what it names does not exist.
 */
export function resolveModelRef(registry: ModelRegistry, ref: string): Promise<ModelResolution> {
  return registry.resolve(ref);
}
