import { SchemaValidator, type BridgeRequest, type InventoryArgs } from '@opsbook/schema';
import { BRIDGE_MIMETYPE, KernelBridge, bridgeExpression } from './bridge';
import { KernelBridgeError } from './errors';
import { startTestKernel, type TestKernel } from './testing/kernels';

jest.setTimeout(30_000);

const validator = new SchemaValidator();

/** Replaces opsbook.bridge.handle in the kernel for the length of one test. */
async function withHandle(test: TestKernel, python: string, run: () => Promise<void>): Promise<void> {
  const patched = await test.transport.execute(
    `import opsbook.bridge as _bridge\n_original_handle = _bridge.handle\n${python}`,
  );
  expect(patched.status).toBe('ok');
  try {
    await run();
  } finally {
    await test.transport.execute('_bridge.handle = _original_handle');
  }
}

/** Python for a handle() whose reply is `reply(request)`, a Python expression over `request`. */
function replyingWith(reply: string): string {
  return [
    'import json as _json',
    'class _Fake:',
    '    def __init__(self, reply): self.reply = reply',
    `    def _repr_mimebundle_(self, include=None, exclude=None): return {${JSON.stringify(BRIDGE_MIMETYPE)}: self.reply}`,
    'def _fake_handle(text):',
    '    request = _json.loads(text)',
    `    return _Fake(${reply})`,
    '_bridge.handle = _fake_handle',
  ].join('\n');
}

describe('KernelBridge over a real ipykernel', () => {
  let test: TestKernel;
  let bridge: KernelBridge;

  beforeAll(async () => {
    test = await startTestKernel();
    bridge = new KernelBridge(test.transport, { validator, timeoutMs: 20_000 });
    const setup = await test.transport.execute(
      [
        'import numpy as np, pandas as pd, polars as pl, pyarrow as pa',
        'from sklearn.ensemble import GradientBoostingRegressor',
        'from sklearn.linear_model import LogisticRegression',
        'rng = np.random.default_rng(0)',
        'train = pd.DataFrame(rng.normal(size=(1000, 4)), columns=["f0", "f1", "f2", "f3"])',
        'train["label"] = (train["f0"] > 0).astype("int8")',
        'events = pl.DataFrame({"user": list(range(250)), "score": [0.5] * 250})',
        'arrow = pa.table({"x": pa.array([1, 2, 3], pa.int32())})',
        'model = LogisticRegression().fit(train[["f0", "f1", "f2", "f3"]], train["label"])',
        'draft = GradientBoostingRegressor()',
        'learning_rate = 0.1',
        'run_name = "baseline"',
      ].join('\n'),
    );
    expect(setup).toMatchObject({ status: 'ok' });
  });

  afterAll(async () => {
    await test?.stop();
  });

  it('inventories the frames, models and scalars the executed code defined', async () => {
    const result = await bridge.inventory();

    expect(validator.check('bridge.schema.json#/$defs/InventoryResult', result)).toBeNull();
    expect(result.variables).toEqual([
      {
        name: 'train', kind: 'dataframe', type: 'pandas.DataFrame', library: 'pandas', shape: [1000, 5],
        columns: [
          { name: 'f0', dtype: 'float64' }, { name: 'f1', dtype: 'float64' }, { name: 'f2', dtype: 'float64' },
          { name: 'f3', dtype: 'float64' }, { name: 'label', dtype: 'int8' },
        ],
      },
      {
        name: 'events', kind: 'dataframe', type: 'polars.DataFrame', library: 'polars', shape: [250, 2],
        columns: [{ name: 'user', dtype: 'Int64' }, { name: 'score', dtype: 'Float64' }],
      },
      { name: 'arrow', kind: 'dataframe', type: 'pyarrow.Table', library: 'pyarrow', shape: [3, 1], columns: [{ name: 'x', dtype: 'int32' }] },
      { name: 'model', kind: 'model', type: 'sklearn.linear_model.LogisticRegression', library: 'sklearn', fitted: true, n_features: 4 },
      { name: 'draft', kind: 'model', type: 'sklearn.ensemble.GradientBoostingRegressor', library: 'sklearn', fitted: false },
      { name: 'learning_rate', kind: 'scalar', type: 'float', library: 'builtins', value: 0.1 },
      { name: 'run_name', kind: 'scalar', type: 'str', library: 'builtins', value: 'baseline' },
    ]);
  });

  it('sends the wire format of docs/ARCHITECTURE.md and gets a schema-valid reply', async () => {
    const request: BridgeRequest = { protocol: 'opsbook.bridge/1', id: 'wire-1', type: 'inventory', args: { kinds: ['model'] } as BridgeRequest['args'] };

    const evaluated = await test.transport.evaluate({ opsbook: bridgeExpression(JSON.stringify(request)) });

    expect(bridgeExpression('{"a": "it\'s"}')).toBe(`__import__('opsbook.bridge').bridge.handle('{"a": "it\\'s"}')`);
    const value = evaluated.opsbook;
    expect(value.status).toBe('ok');
    const reply = value.status === 'ok' ? value.data[BRIDGE_MIMETYPE] : undefined;
    expect(validator.check('bridge.schema.json#/$defs/BridgeReply', reply)).toBeNull();
    expect(reply).toMatchObject({ protocol: 'opsbook.bridge/1', id: 'wire-1', type: 'inventory', ok: true });
    expect(value.status === 'ok' && value.data['text/plain']).toBe("opsbook bridge reply to inventory 'wire-1': ok");
  });

  it('honours kinds, and leaves the execution counter and history alone', async () => {
    const before = await test.transport.execute('1');
    const frames = await bridge.inventory({ kinds: ['dataframe'] });
    const scalars = await bridge.request('inventory', { kinds: ['scalar'] });
    const after = await test.transport.execute('1');

    expect(frames.variables.map((v) => v.name)).toEqual(['train', 'events', 'arrow']);
    expect(scalars.variables.map((v) => v.name)).toEqual(['learning_rate', 'run_name']);
    expect(after.executionCount).toBe((before.executionCount ?? 0) + 1);
  });

  it('refuses args that do not match the schema before sending them', async () => {
    const bad = { kinds: ['frames'] } as unknown as InventoryArgs;

    await expect(bridge.inventory(bad)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('"frames"') });
  });

  it('raises the error code of an ok:false reply', async () => {
    await withHandle(test, "_bridge.HANDLERS['inventory'] = lambda args: 1 / 0\n_bridge.handle = _original_handle", async () => {
      try {
        await expect(bridge.inventory()).rejects.toMatchObject({ code: 'internal', message: 'inventory: ZeroDivisionError: division by zero' });
      } finally {
        await test.transport.execute("_bridge.HANDLERS['inventory'] = _bridge._inventory");
      }
    });
    await expect(bridge.inventory()).resolves.toHaveProperty('variables');
  });

  it('rejects a reply to another request as bad_reply', async () => {
    await withHandle(test, replyingWith('{"protocol": "opsbook.bridge/1", "id": "someone-else", "type": "inventory", "ok": True, "result": {"variables": []}}'), async () => {
      await expect(bridge.inventory()).rejects.toMatchObject({ code: 'bad_reply', message: expect.stringContaining('does not match request id') });
    });
  });

  it('rejects replies that do not match the schema as bad_reply', async () => {
    await withHandle(test, replyingWith('{"protocol": "opsbook.bridge/1", "id": request["id"], "type": "inventory", "ok": True}'), async () => {
      await expect(bridge.inventory()).rejects.toMatchObject({ code: 'bad_reply', message: expect.stringContaining('/result is required') });
    });
    await withHandle(
      test,
      replyingWith('{"protocol": "opsbook.bridge/1", "id": request["id"], "type": "inventory", "ok": True, "result": {"variables": [{"name": "x"}]}}'),
      async () => {
        await expect(bridge.inventory()).rejects.toMatchObject({ code: 'bad_reply', message: expect.stringContaining('/variables/0') });
      },
    );
  });

  it('rejects a reply without the bridge mimetype as bad_reply', async () => {
    await withHandle(test, '_bridge.handle = lambda text: "just a string"', async () => {
      await expect(bridge.inventory()).rejects.toMatchObject({ code: 'bad_reply', message: expect.stringContaining(BRIDGE_MIMETYPE) });
    });
  });

  it('reports an exception in the expression as kernel_error', async () => {
    await withHandle(test, 'def _boom(text):\n    raise RuntimeError("kernel trouble")\n_bridge.handle = _boom', async () => {
      await expect(bridge.inventory()).rejects.toMatchObject({ code: 'kernel_error', message: 'RuntimeError: kernel trouble' });
    });
  });

  it('times out while the kernel is busy', async () => {
    const busy = test.transport.execute('import time\ntime.sleep(1)');

    await expect(bridge.inventory({}, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'timeout' });
    await busy;
  });
});

describe('KernelBridge where opsbook is not importable', () => {
  it('raises not_installed', async () => {
    const test = await startTestKernel({ blockOpsbook: true });
    try {
      const bridge = new KernelBridge(test.transport, { validator });
      const failure = bridge.inventory();

      await expect(failure).rejects.toBeInstanceOf(KernelBridgeError);
      await expect(failure).rejects.toMatchObject({ code: 'not_installed', message: expect.stringContaining("No module named 'opsbook") });
      const stillWorks = await test.transport.execute('import sys; print(sys.version_info[0])');
      expect(stillWorks.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '3\n' }]);
    } finally {
      await test.stop();
    }
  });
});
