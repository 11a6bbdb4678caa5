/**
 * A serving worker thread: one onnxruntime session of every model, each on one intra-op thread (the
 * pool runs one worker per core, so every core works without threads fighting over them). Runs one
 * batch at a time as the pool sends them; input buffers arrive transferred and output buffers go back
 * transferred, so no tensor is copied between threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { signatureOfSession } from './model-meta';
import { readShared, writeShared, type FlatMessage, type FromWorker, type ToWorker, type WireTensor, type WorkerInit } from './pool';

const init = workerData as WorkerInit;
const sharedBytes = new Uint8Array(init.shared);
const port = parentPort;
if (!port) throw new Error('src/serving/worker.ts runs as a worker thread');

// onnxruntime's own error lines would go to the server's stderr for every refused run; the same
// message reaches the client and the log through the failure answer.
ort.env.logLevel = 'fatal';

const sessions: (ort.InferenceSession | null)[] = init.models.map(() => null);
// One run option object for every run: nothing is allocated per request but the feeds.
const RUN_OPTIONS: ort.InferenceSession.RunOptions = {};

function post(message: FromWorker, transfer: readonly ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function load(): Promise<void> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: init.device === 'cuda' ? ['cuda'] : ['cpu'],
  };
  // One model after the other: a worker's loading competes with the other workers' for the cores.
  for (let model = 0; model < init.models.length; model++) {
    try {
      const session = await ort.InferenceSession.create(init.models[model], options);
      const signature = signatureOfSession(session);
      sessions[model] = session;
      post({ t: 'loaded', model, ok: true, ...signature });
    } catch (error) {
      post({ t: 'loaded', model, ok: false, error: messageOf(error) });
    }
  }
}

interface Run {
  id: number;
  model: number;
  inputs: WireTensor[];
  outputs: string[];
  /** The shared slot its inputs came in, where its outputs go back if they fit; -1: none. */
  slot: number;
}

/** A run as the message holds it: an object, or the flat form whose tensors are in a shared slot. */
function decode(message: Extract<ToWorker, { t: 'run' }> | FlatMessage): Run {
  if (!Array.isArray(message)) return { id: message.id, model: message.model, inputs: message.inputs, outputs: message.outputs, slot: -1 };
  const { tensors, end } = readShared(init.shared, message, 5, message[4] as number, null);
  const outputs = message.slice(end + 1, end + 1 + (message[end] as number)) as string[];
  return { id: message[1] as number, model: message[2] as number, inputs: tensors, outputs, slot: message[3] as number };
}

async function run(message: Extract<ToWorker, { t: 'run' }> | FlatMessage): Promise<void> {
  const job = decode(message);
  const session = sessions[job.model];
  if (!session) {
    post({ t: 'failed', id: job.id, error: 'the model is not loaded in this worker' });
    return;
  }
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of job.inputs) feeds[input.name] = new ort.Tensor(input.type, input.data as never, input.dims);
    const results = await session.run(feeds, job.outputs, RUN_OPTIONS);
    const outputs: WireTensor[] = [];
    for (const name of job.outputs) {
      const tensor = results[name];
      let data = tensor.data as WireTensor['data'];
      // Where the runtime has Float16Array (Node 24), onnxruntime gives float16 outputs as one; the
      // server takes FP16 as raw bits in a Uint16Array (types.ts): the same bytes, another view.
      if (tensor.type === 'float16' && !(data instanceof Uint16Array)) {
        const view = data as unknown as ArrayBufferView;
        data = new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
      }
      outputs.push({ name, type: tensor.type, dims: [...tensor.dims], data });
    }
    const described = job.slot === -1 ? null : writeShared(sharedBytes, job.slot, outputs, false);
    if (described) {
      post(['d', job.id, outputs.length, ...described]);
      return;
    }
    const transfer: ArrayBuffer[] = [];
    for (const { data } of outputs) {
      if (!Array.isArray(data) && exclusiveBuffer(data) && !transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
    }
    post({ t: 'done', id: job.id, outputs }, transfer);
  } catch (error) {
    post({ t: 'failed', id: job.id, error: messageOf(error) });
  }
}

/** A typed array that is its whole ArrayBuffer can be handed over; a view into a larger one is copied. */
function exclusiveBuffer(data: ArrayBufferView): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer);
}

port.on('message', (message: ToWorker) => {
  if (Array.isArray(message) || message.t === 'run') void run(message);
});

void load();
