/**
 * The Executor (src/serving/types.ts): chooses the device, starts the worker pool that loads every
 * model in every worker, and runs checked requests through the batcher. createExecutor returns at
 * once; models load in the background and `settled` says when all have loaded or failed.
 */
import { basename, extname } from 'node:path';
import { Batcher } from './batcher';
import { chooseDevice } from './gpu';
import { Pool, type LoadReport } from './pool';
import { InferenceFailure, type Device, type Executor, type InferResult, type Log, type ResolvedServeConfig, type ServedModel, type Tensor } from './types';

export interface ExecutorOptions {
  /** The worker script (tests wrap the real one to make it fail). */
  workerFile?: string;
}

/**
 * Starts serving `config.models` on `config.workers` worker threads. The device is decided first
 * (one `device` log event); each model logs one `model` event when it has loaded or failed.
 * `settled` rejects (CudaUnavailable, code cuda_unavailable) when `device: cuda` cannot be had.
 */
export function createExecutor(config: ResolvedServeConfig, log: Log, options: ExecutorOptions = {}): Executor {
  return new WorkerExecutor(config, log, options);
}

class WorkerExecutor implements Executor {
  private currentDevice: Device;
  readonly settled: Promise<void>;
  private readonly served: ServedModel[];
  private readonly index = new Map<ServedModel, number>();
  private readonly reported: boolean[];
  private pool: Pool | null = null;
  private readonly batcher: Batcher;
  private closing = false;

  constructor(
    private readonly config: ResolvedServeConfig,
    private readonly log: Log,
    private readonly options: ExecutorOptions,
  ) {
    this.currentDevice = config.device === 'cuda' ? 'cuda' : 'cpu';
    this.served = config.models.map((spec) => {
      const path = spec.path ?? spec.model;
      return {
        name: spec.name ?? basename(path, extname(path)),
        version: spec.version ?? '1',
        model: spec.model,
        path,
        device: this.currentDevice,
        ready: false,
        error: null,
        inputs: [],
        outputs: [],
        batchable: false,
      };
    });
    this.served.forEach((model, i) => this.index.set(model, i));
    this.reported = this.served.map(() => false);
    this.batcher = new Batcher(
      {
        free: (model, depth) => this.pool?.free(model, depth),
        run: (slot, job) => this.pool!.run(slot, job),
      },
      { maxBatch: config.max_batch, maxDelayUs: config.max_delay_us },
    );
    this.settled = this.start();
    // The server reads settled; an unobserved rejection must not end the process before it does.
    this.settled.catch(() => undefined);
  }

  get device(): Device {
    return this.currentDevice;
  }

  models(): ServedModel[] {
    return this.served;
  }

  infer(model: ServedModel, inputs: Tensor[], outputs?: string[]): Promise<InferResult> {
    const i = this.index.get(model) ?? this.served.findIndex((m) => m.name === model.name && m.version === model.version);
    const served = this.served[i];
    if (!served) return Promise.reject(new InferenceFailure(`no model ${model.name} version ${model.version} is served`));
    if (this.closing) return Promise.reject(new InferenceFailure('the server is shutting down'));
    if (!served.ready) return Promise.reject(new InferenceFailure(served.error ? `model ${served.name} failed to load: ${served.error}` : `model ${served.name} is still loading`));
    const names = outputs && outputs.length > 0 ? outputs : served.outputs.map((output) => output.name);
    return this.batcher.submit(i, inputs, names);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.settled.catch(() => undefined);
    await this.batcher.idle();
    this.batcher.close();
    await this.pool?.close();
  }

  private async start(): Promise<void> {
    const choice = await chooseDevice(this.config.device, this.log).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      for (const model of this.served) model.error = message;
      throw error;
    });
    this.currentDevice = choice.device;
    for (const model of this.served) model.device = choice.device;
    if (this.closing) return;
    this.pool = new Pool({
      size: Math.max(1, this.config.workers),
      models: this.served.map((model) => model.path),
      device: choice.device,
      log: this.log,
      workerFile: this.options.workerFile,
      onLoaded: (report) => this.onLoaded(report),
      onFree: () => this.onFree(),
    });
    await this.pool.settled;
    // A model no worker could report on (every worker stopped while loading) failed to load.
    this.served.forEach((model, i) => {
      if (!this.reported[i]) this.onLoaded({ t: 'loaded', model: i, ok: false, error: 'every worker thread stopped while loading the models' });
    });
  }

  private onFree(): void {
    this.batcher.pump();
    // Workers that stopped while loading are not replaced: when none is left that can run a model,
    // what waits for it would wait forever.
    this.served.forEach((model, i) => {
      if (model.ready && this.pool && !this.pool.mayRun(i)) {
        model.ready = false;
        model.error = 'no worker thread holds the model any more (they stopped)';
        this.log({ level: 'error', msg: `model ${model.name} version ${model.version}: ${model.error}`, name: model.name, version: model.version });
        this.batcher.failQueued(i, new InferenceFailure(`model ${model.name} cannot run: ${model.error}`));
      }
    });
  }

  /** The first report on a model decides its state (every worker loads the same file the same way). */
  private onLoaded(report: LoadReport): void {
    const i = report.model;
    if (this.reported[i]) return;
    this.reported[i] = true;
    const model = this.served[i];
    if (report.ok) {
      model.inputs = report.inputs;
      model.outputs = report.outputs;
      model.batchable = report.batchable;
      model.ready = true;
      this.batcher.setModel(i, report.batchable);
    } else model.error = report.error;
    const { name, version, model: asked, path, ready, error, device, inputs, outputs } = model;
    this.log({
      level: ready ? 'info' : 'error',
      msg: ready ? `model ${name} version ${version} loaded` : `model ${name} version ${version} failed to load: ${error}`,
      event: 'model',
      name,
      version,
      model: asked,
      path,
      ready,
      error,
      device,
      inputs,
      outputs,
    });
  }
}
