import { Batcher, type BatchTarget } from './batcher';
import type { Job, WireTensor } from './pool';
import { InferenceFailure, type InferResult, type Tensor } from './types';

/**
 * A pool whose runs end when the test says so, so that what the batcher does while workers are busy
 * is seen step by step, with no timing involved. (executor.test.ts runs the batcher on real
 * onnxruntime workers.) A finished run answers Y = 2·X row by row, and hands the worker back as the
 * real pool does (then pump).
 */
class ScriptedPool implements BatchTarget {
  readonly jobs: { slot: number; job: Job; done: boolean }[] = [];
  private readonly busy: number[];
  batcher!: Batcher;

  constructor(workers: number) {
    this.busy = Array.from({ length: workers }, () => 0);
  }

  free(_model: number, depth = 1): number | undefined {
    let best: number | undefined;
    this.busy.forEach((busy, slot) => {
      if (busy < depth && (best === undefined || busy < this.busy[best])) best = slot;
    });
    return best;
  }

  run(slot: number, job: Job): void {
    this.busy[slot]++;
    this.jobs.push({ slot, job, done: false });
  }

  /** Ends run `index`: answers it (`answer` may rewrite the outputs), fails it, or crashes its worker. */
  finish(index: number, how: 'ok' | 'fail' | 'crash' = 'ok', answer?: (outputs: WireTensor[]) => WireTensor[]): void {
    const entry = this.jobs[index];
    entry.done = true;
    this.busy[entry.slot]--;
    const x = entry.job.inputs[0];
    const data = Float32Array.from(x.data as Float32Array, (v) => 2 * v);
    const outputs: WireTensor[] = [{ name: 'Y', type: 'float32', dims: [...x.dims], data }];
    if (how === 'ok') entry.job.resolve(answer ? answer(outputs) : outputs);
    else entry.job.reject(new InferenceFailure(how === 'fail' ? 'onnxruntime failed: bad row' : 'the worker stopped'), how === 'crash');
    this.batcher.pump();
  }

  /** Ends every run not yet ended, until none is left. */
  async drain(): Promise<void> {
    for (;;) {
      await turn();
      const open = this.jobs.findIndex((entry) => !entry.done);
      if (open === -1) return;
      this.finish(open);
    }
  }

  rowsOf(index: number): number {
    return this.jobs[index].job.inputs[0].dims[0];
  }
}

function setup(workers: number, maxBatch = 64, maxDelayUs = 0, models: boolean[] = [true]): { pool: ScriptedPool; batcher: Batcher } {
  const pool = new ScriptedPool(workers);
  const batcher = new Batcher(pool, { maxBatch, maxDelayUs });
  models.forEach((batchable, i) => batcher.setModel(i, batchable));
  pool.batcher = batcher;
  return { pool, batcher };
}

function x(rows: number[][], name = 'X'): Tensor[] {
  return [{ name, datatype: 'FP32', shape: [rows.length, rows[0].length], data: Float32Array.from(rows.flat()) }];
}

/** One turn of the event loop (what the batcher waits for to gather same-turn arrivals). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function y(result: InferResult): number[] {
  return Array.from(result.outputs[0].data as Float32Array);
}

describe('Batcher', () => {
  it('runs a request at once, alone, when its model is idle and a worker is free', async () => {
    const { pool } = setup(1, 64, 1_000_000);
    const answer = pool.batcher.submit(0, x([[1, 2]]), ['Y']);
    expect(pool.jobs).toHaveLength(1);
    expect(pool.jobs[0].job.inputs[0]).toMatchObject({ name: 'X', type: 'float32', dims: [1, 2] });
    pool.finish(0);
    const result = await answer;
    expect(y(result)).toEqual([2, 4]);
    expect(result.batchRows).toBe(1);
    expect(result.outputs[0]).toMatchObject({ name: 'Y', datatype: 'FP32', shape: [1, 2] });
  });

  it('stacks what queued while the worker was busy into one run, in order, and splits the answer by rows', async () => {
    const { pool, batcher } = setup(1);
    const first = batcher.submit(0, x([[0, 0]]), ['Y']);
    const queued = [x([[1, 1]]), x([[2, 2], [3, 3]]), x([[4, 4]]), x([[5, 5], [6, 6], [7, 7]])].map((inputs) => batcher.submit(0, inputs, ['Y']));
    await turn();
    expect(pool.jobs).toHaveLength(1);
    pool.finish(0);
    expect(pool.jobs).toHaveLength(2);
    expect(pool.jobs[1].job.inputs[0].dims).toEqual([7, 2]);
    expect(Array.from(pool.jobs[1].job.inputs[0].data as Float32Array)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    // The stacked buffer is handed to the worker, not copied.
    expect(pool.jobs[1].job.transfer).toEqual([(pool.jobs[1].job.inputs[0].data as Float32Array).buffer]);
    pool.finish(1);
    expect((await first).batchRows).toBe(1);
    const results = await Promise.all(queued);
    expect(results.map(y)).toEqual([[2, 2], [4, 4, 6, 6], [8, 8], [10, 10, 12, 12, 14, 14]]);
    expect(results.map((r) => r.outputs[0].shape)).toEqual([[1, 2], [2, 2], [1, 2], [3, 2]]);
    expect(results.every((r) => r.batchRows === 7 && r.queueMs >= 0)).toBe(true);
  });

  it('caps a run at max_batch rows, and runs a request larger than that alone and whole', async () => {
    const { pool, batcher } = setup(1, 32);
    const first = batcher.submit(0, x([[0]]), ['Y']);
    const singles = Array.from({ length: 100 }, (_, i) => batcher.submit(0, x([[i + 1]]), ['Y']));
    const big = batcher.submit(0, x(Array.from({ length: 40 }, (_, i) => [i])), ['Y']);
    await pool.drain();
    expect(pool.jobs.map((_, i) => pool.rowsOf(i))).toEqual([1, 32, 32, 32, 4, 40]);
    expect(y(await first)).toEqual([0]);
    (await Promise.all(singles)).forEach((result, i) => expect(y(result)).toEqual([2 * (i + 1)]));
    expect((await big).batchRows).toBe(40);
  });

  it('stacks only requests that agree on the other dimensions, the inputs and the outputs asked for', async () => {
    const { pool, batcher } = setup(1);
    void batcher.submit(0, x([[0, 0]]), ['Y']);
    const answers = [
      batcher.submit(0, x([[1, 1]]), ['Y']),
      batcher.submit(0, x([[1, 1, 1]]), ['Y']),
      batcher.submit(0, x([[2, 2]]), ['Y']),
      batcher.submit(0, x([[2, 2, 2]]), ['Y']),
      batcher.submit(0, x([[3, 3]]), ['Y', 'Z']),
      batcher.submit(0, x([[4, 4]], 'W'), ['Y']),
    ];
    await pool.drain();
    expect(pool.jobs.slice(1).map((entry) => [entry.job.inputs[0].name, entry.job.inputs[0].dims, entry.job.outputs])).toEqual([
      ['X', [2, 2], ['Y']],
      ['X', [2, 3], ['Y']],
      ['X', [1, 2], ['Y', 'Z']],
      ['W', [1, 2], ['Y']],
    ]);
    expect((await Promise.all(answers)).map(y)).toEqual([[2, 2], [2, 2, 2], [4, 4], [4, 4, 4], [6, 6], [8, 8]]);
  });

  it('never stacks for a model that is not batchable, nor with max_batch 1, and pipelines two runs per worker instead', async () => {
    for (const [maxBatch, batchable] of [[64, false], [1, true]] as const) {
      const { pool, batcher } = setup(1, maxBatch, 0, [batchable]);
      const answers = Array.from({ length: 5 }, (_, i) => batcher.submit(0, x([[i]]), ['Y']));
      await turn();
      expect(pool.jobs.map((entry) => entry.slot)).toEqual([0, 0]);
      await pool.drain();
      expect(pool.jobs.map((_, i) => pool.rowsOf(i))).toEqual([1, 1, 1, 1, 1]);
      expect((await Promise.all(answers)).map(y)).toEqual([[0], [2], [4], [6], [8]]);
    }
  });

  it('holds a free worker for up to max_delay_us while the model has traffic, and not once max_batch rows are waiting', async () => {
    // A long delay, so the test sees the hold; the hold ending is the next test.
    const { pool, batcher } = setup(2, 4, 60_000_000);
    void batcher.submit(0, x([[0]]), ['Y']);
    expect(pool.jobs).toHaveLength(1);
    const waiting = [1, 2, 3].map((i) => batcher.submit(0, x([[i]]), ['Y']));
    await turn();
    await turn();
    // Worker 1 is free, but the model has a run in flight: it waits for more rows.
    expect(pool.jobs).toHaveLength(1);
    const fourth = batcher.submit(0, x([[4]]), ['Y']);
    await turn();
    expect(pool.jobs).toHaveLength(2);
    expect(pool.jobs[1]).toMatchObject({ slot: 1 });
    expect(pool.rowsOf(1)).toBe(4);
    pool.finish(1);
    expect((await Promise.all([...waiting, fourth])).map(y)).toEqual([[2], [4], [6], [8]]);
    pool.finish(0);
    batcher.close();
  });

  it('ends a hold when the model\'s run in flight ends (nobody is left to wait for)', async () => {
    const { pool, batcher } = setup(2, 64, 60_000_000);
    void batcher.submit(0, x([[0]]), ['Y']);
    const held = batcher.submit(0, x([[1]]), ['Y']);
    await turn();
    expect(pool.jobs).toHaveLength(1);
    pool.finish(0);
    expect(pool.jobs).toHaveLength(2);
    pool.finish(1);
    expect(y(await held)).toEqual([2]);
    batcher.close();
  });

  it('ends the hold after max_delay_us, and does not hold with max_delay_us 0', async () => {
    const short = setup(2, 64, 2000);
    void short.batcher.submit(0, x([[0]]), ['Y']);
    const late = short.batcher.submit(0, x([[1]]), ['Y']);
    while (short.pool.jobs.length < 2) await turn();
    short.pool.finish(1);
    expect(y(await late)).toEqual([2]);
    short.pool.finish(0);

    const none = setup(2, 64, 0);
    void none.batcher.submit(0, x([[0]]), ['Y']);
    void none.batcher.submit(0, x([[1]]), ['Y']);
    await turn();
    expect(none.pool.jobs).toHaveLength(2);
    await none.pool.drain();
  });

  it('serves the model whose oldest request is oldest first', async () => {
    const { pool, batcher } = setup(1, 64, 0, [true, true]);
    void batcher.submit(0, x([[0]]), ['Y']);
    const b = batcher.submit(1, x([[1]]), ['Y']);
    const a = batcher.submit(0, x([[2]]), ['Y']);
    await pool.drain();
    expect(pool.jobs.map((entry) => entry.job.model)).toEqual([0, 1, 0]);
    expect(y(await b)).toEqual([2]);
    expect(y(await a)).toEqual([4]);
  });

  it('runs each request of a refused stacked run alone, so only the bad one fails', async () => {
    const { pool, batcher } = setup(1);
    void batcher.submit(0, x([[0]]), ['Y']);
    const settled = Promise.allSettled([1, -1, 3].map((v) => batcher.submit(0, x([[v]]), ['Y'])));
    await turn();
    pool.finish(0);
    expect(pool.rowsOf(1)).toBe(3);
    pool.finish(1, 'fail');
    // Retried one by one, in their order; the worker refuses the second again.
    for (const [index, how] of [[2, 'ok'], [3, 'fail'], [4, 'ok']] as const) {
      while (pool.jobs.length <= index) await turn();
      expect(pool.rowsOf(index)).toBe(1);
      pool.finish(index, how);
    }
    expect(pool.jobs.slice(2).map((entry) => (entry.job.inputs[0].data as Float32Array)[0])).toEqual([1, -1, 3]);
    const outcomes = await settled;
    expect(outcomes.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(y((outcomes[0] as PromiseFulfilledResult<InferResult>).value)).toEqual([2]);
    expect((outcomes[0] as PromiseFulfilledResult<InferResult>).value.batchRows).toBe(1);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(InferenceFailure);
  });

  it('runs requests alone again when a stacked run\'s outputs do not follow its rows', async () => {
    const { pool, batcher } = setup(1);
    void batcher.submit(0, x([[0]]), ['Y']);
    const answers = [1, 2].map((v) => batcher.submit(0, x([[v]]), ['Y']));
    await turn();
    pool.finish(0);
    pool.finish(1, 'ok', (outputs) => [{ ...outputs[0], dims: [1, 1], data: Float32Array.of(99) }]);
    await pool.drain();
    expect(pool.jobs.map((_, i) => pool.rowsOf(i))).toEqual([1, 2, 1, 1]);
    expect((await Promise.all(answers)).map(y)).toEqual([[2], [4]]);
  });

  it('fails every request a crashed worker held, without running them again', async () => {
    const { pool, batcher } = setup(1);
    void batcher.submit(0, x([[0]]), ['Y']);
    const answers = [1, 2].map((v) => batcher.submit(0, x([[v]]), ['Y']));
    await turn();
    pool.finish(0);
    pool.finish(1, 'crash');
    const settled = await Promise.allSettled(answers);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(pool.jobs).toHaveLength(2);
  });

  it('idle() waits for what is queued and running', async () => {
    const { pool, batcher } = setup(1);
    const answers = [1, 2, 3].map((v) => batcher.submit(0, x([[v]]), ['Y']));
    let idle = false;
    const done = batcher.idle().then(() => (idle = true));
    await turn();
    expect(idle).toBe(false);
    await pool.drain();
    await done;
    expect(batcher.pending).toBe(0);
    expect((await Promise.all(answers)).map(y)).toEqual([[2], [4], [6]]);
  });
});
