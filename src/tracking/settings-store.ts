import type { WorkspaceSetting } from '@opsbook/schema';
import { BadInputError, NotFoundError } from '../store/errors';
import type { Store } from '../store/store';

/** Keys a setting may have, as in `workspace-setting.schema.json`. */
export const SETTING_KEY = /^[a-z0-9][a-z0-9_.-]{0,99}$/;
/** Largest value kept, as JSON text in UTF-8 bytes. */
export const MAX_SETTING_BYTES = 64 * 1024;

/**
 * Settings of the workspace (the runs table's columns, sort and filter under `runs-table`), kept
 * as JSON text in the store's `workspace_settings` table so that every window and editor on the
 * workspace sees the same ones.
 */
export class SettingsStore {
  constructor(private readonly store: Store) {}

  /**
   * The setting kept under `key`.
   * @throws BadInputError when the key is not a setting key.
   * @throws NotFoundError when no value is kept under the key.
   */
  get(key: string): Promise<WorkspaceSetting> {
    try {
      checkKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.store.read(async (db) => {
      const [row] = await db.all('SELECT value, updated_ms FROM workspace_settings WHERE key = $1', [key]);
      if (!row) throw new NotFoundError('key', key, `no workspace setting ${JSON.stringify(key)}`);
      return { key, value: JSON.parse(row.value as string) as unknown, updated_at: new Date(Number(row.updated_ms)).toISOString() };
    });
  }

  /**
   * Keeps `value` under `key`, replacing what was kept before.
   * @throws BadInputError when the key is not a setting key or the value is over 64 KiB as JSON.
   */
  put(key: string, value: unknown): Promise<WorkspaceSetting> {
    let text: string;
    try {
      checkKey(key);
      text = JSON.stringify(value);
      const bytes = new TextEncoder().encode(text).length;
      if (bytes > MAX_SETTING_BYTES) {
        throw new BadInputError('/value', `${bytes} bytes`, `/value is ${bytes} bytes as JSON; a setting holds at most ${MAX_SETTING_BYTES}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const updatedMs = Date.now();
    return this.store.transaction(async (db) => {
      await db.run(
        `INSERT INTO workspace_settings (key, value, updated_ms) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
        [key, text, BigInt(updatedMs)],
      );
      return { key, value: JSON.parse(text) as unknown, updated_at: new Date(updatedMs).toISOString() };
    });
  }
}

/** @throws BadInputError naming `key` when it does not match {@link SETTING_KEY}. */
function checkKey(key: string): void {
  if (!SETTING_KEY.test(key)) {
    throw new BadInputError('key', key, `setting key ${JSON.stringify(key)} must match ${SETTING_KEY.source}`);
  }
}
