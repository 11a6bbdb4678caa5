import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { DataFingerprint, DataSource } from '@opsbook/schema';
import { BadInputError } from '../store/errors';

/** File formats the sandbox reads. */
export type DataFormat = 'parquet' | 'csv' | 'json';

/** A data file checked to exist and be readable, with the format it is read as. */
export interface ResolvedSource {
  /** Absolute real path (links resolved): the one path the sandbox allows. */
  path: string;
  format: DataFormat;
  /** Shown to the user: the source's label, else the file name. */
  label: string;
  fingerprint?: DataFingerprint;
  /** A kernel's hand-off file, which the daemon removes after use. */
  handoff?: boolean;
}

const FORMAT_BY_EXTENSION: Record<string, DataFormat> = {
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.csv': 'csv',
  '.tsv': 'csv',
  '.json': 'json',
  '.jsonl': 'json',
  '.ndjson': 'json',
};

/** The format a file name implies, or undefined when its extension is not one the sandbox reads. */
export function formatOf(path: string): DataFormat | undefined {
  return FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
}

/**
 * Resolves a data source to a readable file: a relative path is read from `baseDir`; the format
 * comes from `source.format`, else from the extension. A hand-off source must lie in
 * `<baseDir>/.opsbook/handoff/`.
 * @param field the request field the source came from ('data' or 'reference'), named in errors.
 * @throws BadInputError naming `<field>.path` when the file is missing, not a file or unreadable,
 *   or `<field>.format` when the format is neither given nor implied by the extension.
 */
export async function resolveSource(source: DataSource, baseDir: string, field = 'data'): Promise<ResolvedSource> {
  const given = isAbsolute(source.path) ? source.path : resolve(baseDir, source.path);
  let path: string;
  try {
    path = realpathSync(given);
  } catch {
    throw new BadInputError(`${field}.path`, source.path, `${field}.path: no such file: ${source.path}`);
  }
  if (!statSync(path).isFile()) {
    throw new BadInputError(`${field}.path`, source.path, `${field}.path: not a file: ${source.path}`);
  }
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new BadInputError(`${field}.path`, source.path, `${field}.path: not readable: ${source.path}`);
  }
  if (source.handoff && !inHandoffFolder(path, baseDir)) {
    const handoffDir = realpathOrSelf(join(baseDir, '.opsbook', 'handoff'));
    throw new BadInputError(`${field}.path`, source.path, `${field}.path: a hand-off file must lie in ${handoffDir}: ${source.path}`);
  }
  const format = source.format ?? formatOf(path);
  if (!format) {
    throw new BadInputError(
      `${field}.format`,
      extname(path),
      `${field}.format: cannot tell the format of ${source.path} from its extension; give format parquet, csv or json`,
    );
  }
  return {
    path,
    format,
    label: source.label ?? basename(path),
    ...(source.fingerprint ? { fingerprint: source.fingerprint } : {}),
    ...(source.handoff ? { handoff: true } : {}),
  };
}

/**
 * Beside a hand-off file, `<file>.opsbook.json` holds `{label, fingerprint}`: the kernel writes it
 * (`opsbook/_handoff.py`, `SIDECAR_SUFFIX`) and whoever removes the file removes it too.
 */
export const HANDOFF_SIDECAR_SUFFIX = '.opsbook.json';

/** Whether the real path `path` lies in `<workspace>/.opsbook/handoff/`. */
export function inHandoffFolder(path: string, workspace: string): boolean {
  const inside = relative(realpathOrSelf(join(workspace, '.opsbook', 'handoff')), path);
  return inside !== '' && inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}

/**
 * What a path given on the command line says about itself: a file in the workspace's hand-off folder
 * is a hand-off (the daemon removes it after use), named and fingerprinted as its sidecar says; any
 * other file, nothing.
 */
export function describedHandoff(path: string, workspace: string): Pick<DataSource, 'handoff' | 'label' | 'fingerprint'> {
  if (!inHandoffFolder(path, workspace)) return {};
  let sidecar: { label?: unknown; fingerprint?: unknown };
  try {
    sidecar = JSON.parse(readFileSync(`${path}${HANDOFF_SIDECAR_SUFFIX}`, 'utf8')) as typeof sidecar;
  } catch {
    return { handoff: true };
  }
  return {
    handoff: true,
    ...(typeof sidecar.label === 'string' ? { label: sidecar.label } : {}),
    ...(sidecar.fingerprint && typeof sidecar.fingerprint === 'object' ? { fingerprint: sidecar.fingerprint as DataSource['fingerprint'] } : {}),
  };
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
