import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';
import { BadInputError, NotFoundError } from '../store/errors';
import { Store } from '../store/store';
import { MAX_SETTING_BYTES, SettingsStore } from './settings-store';

const validator = new SchemaValidator();

describe('SettingsStore', () => {
  let workspace: string;
  let store: Store;
  let settings: SettingsStore;

  beforeEach(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-settings-'));
    store = await Store.open(workspace);
    settings = new SettingsStore(store);
  });
  afterEach(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('keeps any JSON value under a key, replaces it, and keeps it across a reopen', async () => {
    await expect(settings.get('runs-table')).rejects.toBeInstanceOf(NotFoundError);
    const first = await settings.put('runs-table', { columns: ['name', 'params.lr'], sort: 'metrics.acc', order: 'desc', filter: 'é "q"' });
    expect(validator.check('workspace-setting.schema.json', first)).toBeNull();
    for (const value of [null, 0, 'text', [1, { a: [] }], { nested: { deep: true } }]) {
      expect((await settings.put('runs-table', value)).value).toEqual(value);
      expect((await settings.get('runs-table')).value).toEqual(value);
    }
    await store.close();
    store = await Store.open(workspace);
    settings = new SettingsStore(store);
    const kept = await settings.get('runs-table');
    expect(kept.value).toEqual({ nested: { deep: true } });
    expect(Date.parse(kept.updated_at)).toBeGreaterThanOrEqual(Date.parse(first.updated_at));
  });

  it.each(['', 'Runs', '-a', 'a b', 'a/b', 'x'.repeat(101)])('refuses the key %j, naming key', async (key) => {
    await expect(settings.put(key, 1)).rejects.toMatchObject({ field: 'key', value: key });
    await expect(settings.get(key)).rejects.toBeInstanceOf(BadInputError);
  });

  it('takes a value of 64 KiB as JSON and refuses one byte more, counting UTF-8 bytes', async () => {
    const fits = 'x'.repeat(MAX_SETTING_BYTES - 2);
    expect((await settings.put('big', fits)).value).toBe(fits);
    await expect(settings.put('big', `${fits}x`)).rejects.toMatchObject({ field: '/value' });
    await expect(settings.put('big', 'é'.repeat(MAX_SETTING_BYTES / 2))).rejects.toBeInstanceOf(BadInputError);
    expect((await settings.get('big')).value).toBe(fits);
  });
});
