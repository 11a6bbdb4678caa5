import { createHash, randomUUID } from 'node:crypto';
import { constants, createReadStream, createWriteStream, lstatSync, mkdirSync, openSync, fstatSync, closeSync, realpathSync, renameSync, rmSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Artifact, ArtifactList } from '@opsbook/schema';
import { BadInputError, NotFoundError } from '../store/errors';
import type { Store } from '../store/store';

export type ArtifactKind = Artifact['kind'];

/** Largest artifact accepted by default: 2 GiB, streamed to disk. */
export const MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;
/** Longest artifact name, and longest segment of one (most file systems stop at 255 bytes). */
export const MAX_ARTIFACT_NAME = 1024;
const MAX_SEGMENT = 255;
/** The one shape a name segment may have: an allow-list, so no encoding or lookalike slips through. */
const SEGMENT = /^[A-Za-z0-9._ -]+$/;

/** A body larger than the limit (HTTP 413). */
export class ArtifactTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the artifact is larger than ${limit} bytes`);
    this.name = 'ArtifactTooLargeError';
  }
}

/** Media types guessed from a name's extension when the uploader gives none. */
const MEDIA_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  html: 'text/html',
  htm: 'text/html',
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  onnx: 'application/octet-stream',
  parquet: 'application/vnd.apache.parquet',
};

/** Types a browser shows without running anything; every other type is served as an attachment. */
const INLINE_TYPES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'text/plain',
  'text/csv',
  'text/markdown',
  'application/json',
  'application/vnd.plotly.v1+json',
]);

/**
 * The canonical form of an artifact name, checked against an allow-list: '/'-separated segments of
 * letters, digits, '.', '_', '-' and spaces, none of them '.' or '..', no leading or doubled '/',
 * at most {@link MAX_ARTIFACT_NAME} characters.
 * @throws BadInputError (field `name`) for anything else.
 */
export function canonicalArtifactName(name: string): string {
  const refuse = (why: string): never => {
    const shown = name.length > 120 ? `${name.slice(0, 120)}…` : name;
    throw new BadInputError('name', shown, `artifact name ${JSON.stringify(shown)} ${why}`);
  };
  if (name.length === 0) refuse('is empty');
  if (name.length > MAX_ARTIFACT_NAME) refuse(`is longer than ${MAX_ARTIFACT_NAME} characters`);
  if (name.startsWith('/')) refuse("starts with '/'; names are relative to the run");
  const segments = name.split('/');
  for (const segment of segments) {
    if (segment.length === 0) refuse("has an empty segment ('//' or a trailing '/')");
    if (segment === '.' || segment === '..') refuse(`has a '${segment}' segment`);
    if (segment.length > MAX_SEGMENT) refuse(`has a segment longer than ${MAX_SEGMENT} characters`);
    if (!SEGMENT.test(segment)) refuse("may hold only letters, digits, '.', '_', '-', spaces and '/' between segments");
    if (segment.trim() !== segment) refuse('has a segment that starts or ends with a space');
  }
  return segments.join('/');
}

/** The media type for a name, from its extension. */
export function mediaTypeFor(name: string): string {
  const extension = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';
  return MEDIA_TYPES[extension] ?? 'application/octet-stream';
}

/**
 * Response headers that let a browser show safe types inline and keep every other type from running
 * in the app's origin: a sandboxing CSP always, and `attachment` for all but the safe types.
 */
export function contentHeadersFor(artifact: Pick<Artifact, 'name' | 'media_type'>): Record<string, string> {
  const base = artifact.name.split('/').pop() ?? 'artifact';
  const disposition = INLINE_TYPES.has(artifact.media_type) ? 'inline' : 'attachment';
  return {
    'Content-Type': artifact.media_type,
    'Content-Disposition': `${disposition}; filename*=UTF-8''${encodeURIComponent(base)}`,
    'Content-Security-Policy': "sandbox; default-src 'none'",
  };
}

export interface ArtifactStoreOptions {
  /** Largest artifact accepted, in bytes; defaults to {@link MAX_ARTIFACT_BYTES}. */
  maxBytes?: number;
}

/** What {@link ArtifactStore.upload} needs besides the bytes. */
export interface ArtifactUpload {
  name: string;
  kind?: ArtifactKind;
  mediaType?: string;
  /** Declared length (Content-Length), refused early when over the limit. */
  declaredBytes?: number;
}

/** An artifact opened for reading. */
export interface OpenedArtifact {
  artifact: Artifact;
  stream: Readable;
  size: number;
}

/**
 * Files kept with runs under `<workspace>/.opsbook/artifacts/<run_id>/<name>`, indexed in the
 * `artifacts` table. A name is canonicalized by an allow-list; then every component of its path is
 * checked with lstat (a symlink anywhere is refused), the real path must stay inside the run's
 * folder, and reads open with O_NOFOLLOW.
 */
export class ArtifactStore {
  readonly maxBytes: number;

  constructor(
    private readonly store: Store,
    options: ArtifactStoreOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? MAX_ARTIFACT_BYTES;
  }

  /**
   * Streams `body` to the run's folder (to a temporary file first, hashed as it comes), then moves it
   * under its name, replacing an artifact of the same name.
   * @throws BadInputError (field `name`) for a name outside the allow-list or one that runs through a symlink or a file.
   * @throws NotFoundError when the run does not exist.
   * @throws ArtifactTooLargeError when the body is larger than the limit (nothing is kept).
   */
  async upload(runId: string, upload: ArtifactUpload, body: Readable): Promise<Artifact> {
    const name = canonicalArtifactName(upload.name);
    if (upload.declaredBytes !== undefined && upload.declaredBytes > this.maxBytes) throw new ArtifactTooLargeError(this.maxBytes);
    await this.requireRun(runId);
    this.prepare(runId, name, true);
    const incoming = join(this.store.artifactsDir, '.incoming');
    mkdirSync(incoming, { recursive: true, mode: 0o700 });
    const temporary = join(incoming, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const limit = this.maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > limit) {
          done(new ArtifactTooLargeError(limit));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // The body is piped, not put in the pipeline: a refused body must not destroy the request, whose
    // connection still carries the 413 answer (the server closes it once that is sent).
    const abort = (error: Error): void => {
      meter.destroy(error);
    };
    const closedEarly = (): void => {
      if (!body.readableEnded) abort(new Error('the upload was cut off before its end'));
    };
    body.once('error', abort);
    body.once('close', closedEarly);
    body.pipe(meter);
    const file = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
    try {
      await pipeline(meter, file);
      // Checked again just before the move: the folder may have changed while the bytes came.
      renameSync(temporary, this.prepare(runId, name, true));
    } catch (error) {
      body.unpipe(meter);
      // The file may still be opening when the pipeline fails: remove it only once the stream closed.
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      rmSync(temporary, { force: true });
      throw error;
    } finally {
      body.off('error', abort);
      body.off('close', closedEarly);
    }
    const artifact: Artifact = {
      run_id: runId,
      name,
      size,
      sha256: hash.digest('hex'),
      media_type: upload.mediaType ?? mediaTypeFor(name),
      kind: upload.kind ?? 'file',
      created_at: new Date().toISOString(),
    };
    await this.store.transaction(async (db) => {
      await db.run('DELETE FROM artifacts WHERE run_id = $1 AND name = $2', [runId, name]);
      await db.run(
        `INSERT INTO artifacts (run_id, name, size, sha256, media_type, kind, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [runId, name, BigInt(size), artifact.sha256, artifact.media_type, artifact.kind, BigInt(Date.parse(artifact.created_at))],
      );
    });
    return artifact;
  }

  /**
   * The run's artifacts, sorted by name.
   * @throws NotFoundError when the run does not exist.
   */
  async list(runId: string): Promise<ArtifactList> {
    await this.requireRun(runId);
    const rows = await this.store.read((db) =>
      db.all('SELECT * FROM artifacts WHERE run_id = $1 ORDER BY name', [runId]),
    );
    return { artifacts: rows.map(toArtifact) };
  }

  /**
   * One artifact's record.
   * @throws BadInputError (field `name`) for a name outside the allow-list.
   * @throws NotFoundError when the run or the artifact does not exist.
   */
  async get(runId: string, name: string): Promise<Artifact> {
    const canonical = canonicalArtifactName(name);
    await this.requireRun(runId);
    const [row] = await this.store.read((db) =>
      db.all('SELECT * FROM artifacts WHERE run_id = $1 AND name = $2', [runId, canonical]),
    );
    if (!row) throw new NotFoundError('name', canonical, `run ${runId} has no artifact ${JSON.stringify(canonical)}`);
    return toArtifact(row);
  }

  /**
   * The checked absolute path of an artifact's file (for the registry, and for readers in this process).
   * @throws BadInputError (field `name`) for a bad name or a symlink on the way.
   * @throws NotFoundError when the run, the artifact or its file does not exist.
   */
  async pathOf(runId: string, name: string): Promise<string> {
    const artifact = await this.get(runId, name);
    const path = this.prepare(runId, artifact.name, false);
    const stats = lstatOrNull(path);
    if (!stats?.isFile()) throw new NotFoundError('name', artifact.name, `the file of artifact ${JSON.stringify(artifact.name)} is missing`);
    return path;
  }

  /**
   * Opens an artifact for reading, with O_NOFOLLOW.
   * @throws BadInputError (field `name`) for a bad name or a symlink on the way.
   * @throws NotFoundError when the run, the artifact or its file does not exist.
   */
  async open(runId: string, name: string): Promise<OpenedArtifact> {
    const canonical = canonicalArtifactName(name);
    await this.requireRun(runId);
    // The path is checked before the index: a symlink planted on the way is refused even for a name never stored.
    const path = this.prepare(runId, canonical, false);
    const artifact = await this.get(runId, canonical);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw symlinkRefused(artifact.name);
      if (code === 'ENOENT') throw new NotFoundError('name', artifact.name, `the file of artifact ${JSON.stringify(artifact.name)} is missing`);
      throw error;
    }
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      closeSync(fd);
      throw new BadInputError('name', artifact.name, `artifact ${JSON.stringify(artifact.name)} is not a regular file`);
    }
    return { artifact, stream: createReadStream('', { fd, autoClose: true }), size: stats.size };
  }

  /**
   * The absolute path for a canonical name inside the run's folder: every existing component is
   * lstat'ed (a symlink is refused, a file where a folder should be too); with `create`, missing
   * folders are made one at a time. The real path of the parent must lie inside the run's folder.
   */
  private prepare(runId: string, name: string, create: boolean): string {
    const base = realpathSync(this.store.artifactsDir);
    const root = join(base, runId);
    const rootStats = lstatOrNull(root);
    if (rootStats?.isSymbolicLink()) throw symlinkRefused(name);
    if (!rootStats) {
      if (!create) throw new NotFoundError('name', name, `run ${runId} has no artifact ${JSON.stringify(name)}`);
      mkdirSync(root, { mode: 0o700 });
    }
    const segments = name.split('/');
    let current = root;
    for (const [index, segment] of segments.entries()) {
      current = join(current, segment);
      const stats = lstatOrNull(current);
      const last = index === segments.length - 1;
      if (stats?.isSymbolicLink()) throw symlinkRefused(name);
      if (last) {
        if (stats && !stats.isFile()) throw new BadInputError('name', name, `artifact name ${JSON.stringify(name)} names a folder`);
        break;
      }
      if (!stats) {
        if (!create) throw new NotFoundError('name', name, `run ${runId} has no artifact ${JSON.stringify(name)}`);
        mkdirSync(current, { mode: 0o700 });
      } else if (!stats.isDirectory()) {
        throw new BadInputError('name', name, `artifact name ${JSON.stringify(name)} runs through ${JSON.stringify(segments.slice(0, index + 1).join('/'))}, which is a file`);
      }
    }
    const parent = realpathSync(join(current, '..'));
    const realRoot = realpathSync(root);
    if (parent !== realRoot && !parent.startsWith(realRoot + sep)) {
      throw new BadInputError('name', name, `artifact name ${JSON.stringify(name)} leaves the run's folder`);
    }
    return current;
  }

  private async requireRun(runId: string): Promise<void> {
    const rows = await this.store.read((db) => db.all('SELECT id FROM runs WHERE id = $1', [runId]));
    if (rows.length === 0) throw new NotFoundError('run_id', runId, `no run with id ${runId}`);
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function symlinkRefused(name: string): BadInputError {
  return new BadInputError('name', name, `artifact name ${JSON.stringify(name)} runs through a symbolic link, which artifacts may not`);
}

function toArtifact(row: Record<string, unknown>): Artifact {
  return {
    run_id: row.run_id as string,
    name: row.name as string,
    size: Number(row.size),
    sha256: row.sha256 as string,
    media_type: row.media_type as string,
    kind: row.kind as ArtifactKind,
    created_at: new Date(Number(row.created_ms)).toISOString(),
  };
}
