/**
 * The inference server as a client sees it (issue 9's acceptance): the real CLI, `opsbook serve
 * A.onnx B.onnx C.onnx --foreground --port 0`, as a child process on a real port, serving three real
 * ONNX models made by the venv's scikit-learn, skl2onnx and onnx:
 *  - reg:  GradientBoostingRegressor, input FP32 [-1, 8] → variable FP32 [-1, 1];
 *  - clf:  LogisticRegression (3 classes, zipmap off), input FP32 [-1, 8] → label INT64 [-1],
 *          probabilities FP32 [-1, 3];
 *  - ints: a UINT8 [-1, 2] and b INT32 [-1, 2] → sum INT64 [-1, 2] (a + b), for integer range checks.
 * The expected outputs of reg and clf are Python onnxruntime's on a pool of rows, one row at a time;
 * a request's answer must be those of its own rows, whatever batch the server ran them in.
 *
 * 1,000 concurrent mixed valid and invalid requests (three models, 1 to 8 rows, flat and nested data,
 * output selection, ids) each get their own answer; a malformed-tensor corpus gets a 4xx every time
 * (never a 5xx, never a hang), and afterwards the server still answers correctly with its RSS bounded.
 * No timed assertions: the per-request time limit only turns a hang into a failure.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SchemaValidator } from '@opsbook/schema';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'src', 'dist', 'cli', 'main.js');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
const WIDTH = 8;
const POOL = 256;
/** A request with no answer after this long is a hang. */
const HANG_MS = 30_000;

// Writes the three models and pool.json (rows and each row's outputs, from Python onnxruntime).
const FIXTURES = String.raw`
import json, sys, warnings
from pathlib import Path
import numpy as np
warnings.filterwarnings("ignore")
out = Path(sys.argv[1])
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
import onnx
from onnx import TensorProto, helper
import onnxruntime as ort
W, POOL = ${WIDTH}, ${POOL}
X, y = make_regression(n_samples=1000 + POOL, n_features=W, noise=1.0, random_state=1)
X = X.astype(np.float32)
reg = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=1).fit(X[:1000], y[:1000])
ops = {"": 17, "ai.onnx.ml": 3}
(out / "reg.onnx").write_bytes(to_onnx(reg, initial_types=[("input", FloatTensorType([None, W]))], target_opset=ops).SerializeToString())
Xc, yc = make_classification(n_samples=1000, n_features=W, n_informative=5, n_classes=3, random_state=2)
clf = LogisticRegression(max_iter=500).fit(Xc.astype(np.float32), yc)
(out / "clf.onnx").write_bytes(to_onnx(clf, initial_types=[("input", FloatTensorType([None, W]))], options={"zipmap": False}, target_opset=ops).SerializeToString())
graph = helper.make_graph(
    [helper.make_node("Cast", ["a"], ["a64"], to=TensorProto.INT64), helper.make_node("Cast", ["b"], ["b64"], to=TensorProto.INT64),
     helper.make_node("Add", ["a64", "b64"], ["sum"])],
    "ints",
    [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, 2]), helper.make_tensor_value_info("b", TensorProto.INT32, [None, 2])],
    [helper.make_tensor_value_info("sum", TensorProto.INT64, [None, 2])],
)
ints = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
ints.ir_version = 8
onnx.checker.check_model(ints)
(out / "ints.onnx").write_bytes(ints.SerializeToString())
rows = X[1000:]
as_json = [[float(np.format_float_positional(v, unique=True)) for v in row] for row in rows]
exact = np.asarray(as_json, dtype=np.float32)
s_reg = ort.InferenceSession(str(out / "reg.onnx"), providers=["CPUExecutionProvider"])
s_clf = ort.InferenceSession(str(out / "clf.onnx"), providers=["CPUExecutionProvider"])
reg_out, clf_label, clf_proba = [], [], []
for i in range(POOL):
    one = exact[i : i + 1]
    reg_out.append(float(s_reg.run(None, {"input": one})[0][0, 0]))
    label, proba = s_clf.run(None, {"input": one})
    clf_label.append(int(label[0]))
    clf_proba.append([float(p) for p in proba[0]])
(out / "pool.json").write_text(json.dumps({"rows": as_json, "reg": reg_out, "clf_label": clf_label, "clf_proba": clf_proba}))
`;

interface Pool {
  rows: number[][];
  reg: number[];
  clf_label: number[];
  clf_proba: number[][];
}

interface Answer {
  status: number;
  body: string;
}

interface ExpectedOutput {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

/** One request of the mixed batch and what it must get back. */
interface Case {
  label: string;
  path: string;
  body: string;
  status: number;
  id?: string;
  model?: string;
  outputs?: ExpectedOutput[];
}

/** Seeded PRNG (mulberry32): the same 1,000 requests every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Server {
  child!: ChildProcess;
  url = '';
  lines: string[] = [];
  ready: Record<string, unknown> = {};

  async start(args: string[], cwd: string): Promise<void> {
    this.child = spawn(process.execPath, [CLI, 'serve', ...args, '--foreground', '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    let buffer = '';
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no ready event: ${this.lines.slice(-5).join('\n')} ${stderr}`)), 60_000);
      this.child.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          this.lines.push(line);
          if (this.lines.length > 2000) this.lines.splice(0, 1000);
          let event: Record<string, unknown>;
          try {
            event = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (event.event === 'ready') {
            clearTimeout(timer);
            this.ready = event;
            this.url = String(event.url);
            done();
          }
        }
      });
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`opsbook serve exited ${code}: ${this.lines.slice(-5).join('\n')} ${stderr}`));
      });
    });
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Resident memory of the server process, in MiB (Linux). */
  rssMiB(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    if (!kb) throw new Error('no VmRSS');
    return Number(kb[1]) / 1024;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.child || !this.alive) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** One HTTP request through a keep-alive agent; rejects on a hang. */
function send(agent: Agent, port: number, method: string, path: string, body?: string | Buffer): Promise<Answer> {
  return new Promise((done, fail) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${HANG_MS} ms: ${method} ${path}`)), HANG_MS);
    req.on('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    req.end(body);
  });
}

/**
 * A request written byte for byte on its own connection (for what an HTTP client library will not
 * send: lying lengths, chunked bodies past the limit, broken UTF-8). Resolves with the status line's
 * code once the server has answered and closed, or stopped sending; rejects on a hang. The server may
 * close before the body is all written (that is the point of a limit): write errors are expected.
 */
function raw(port: number, head: string, body: () => AsyncIterable<Buffer> | Buffer[]): Promise<Answer> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!status) {
        fail(new Error(`no HTTP answer (got ${JSON.stringify(text.slice(0, 200))})`));
        return;
      }
      done({ status: Number(status[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fail(new Error(`no answer in ${HANG_MS} ms: ${head.split('\r\n')[0]}`));
    }, HANG_MS);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      // The whole answer is in once its Content-Length worth of body has arrived.
      const text = Buffer.concat(received).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (end >= 0 && length && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1])) finish();
    });
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.once('connect', () => {
      void (async () => {
        try {
          socket.write(head);
          for await (const part of body()) {
            if (settled || socket.destroyed) return;
            if (!socket.write(part)) {
              await new Promise<void>((go) => {
                const resume = () => {
                  socket.off('drain', resume);
                  socket.off('close', resume);
                  go();
                };
                socket.on('drain', resume);
                socket.on('close', resume);
              });
            }
          }
        } catch {
          // the server closed first
        }
      })();
    });
  });
}

const validator = SchemaValidator.shared();

function close(actual: unknown, expected: number[], tolerance: number): boolean {
  if (!Array.isArray(actual) || actual.length !== expected.length) return false;
  return actual.every((v, i) => typeof v === 'number' && Math.abs(v - expected[i]) <= tolerance * Math.max(1, Math.abs(expected[i])));
}

/** Why an answer is not the one a case expects, or null when it is. */
function mismatch(c: Case, answer: Answer): string | null {
  if (answer.status !== c.status) return `status ${answer.status}, expected ${c.status}: ${answer.body.slice(0, 300)}`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return `answer is not JSON: ${answer.body.slice(0, 300)}`;
  }
  if (c.status !== 200) {
    const issue = validator.check('inference.schema.json#/$defs/InferenceError', body);
    return issue ? `error body ${answer.body.slice(0, 300)}: ${issue.field} ${issue.message}` : null;
  }
  const issue = validator.check('inference.schema.json#/$defs/InferenceResponse', body);
  if (issue) return `response ${answer.body.slice(0, 300)}: ${issue.field} ${issue.message}`;
  if (body.id !== c.id) return `id ${String(body.id)}, expected ${c.id}`;
  if (body.model_name !== c.model) return `model_name ${String(body.model_name)}, expected ${c.model}`;
  const outputs = body.outputs as { name: string; datatype: string; shape: number[]; data: unknown[] }[];
  if (outputs.length !== c.outputs!.length) return `outputs ${outputs.map((o) => o.name).join(',')}`;
  for (const [i, want] of c.outputs!.entries()) {
    const got = outputs[i];
    if (got.name !== want.name || got.datatype !== want.datatype || JSON.stringify(got.shape) !== JSON.stringify(want.shape)) {
      return `output ${i}: ${got.name} ${got.datatype} ${JSON.stringify(got.shape)}, expected ${want.name} ${want.datatype} ${JSON.stringify(want.shape)}`;
    }
    const tolerance = want.datatype === 'FP32' ? 1e-5 : 0;
    if (!close(got.data.map(Number), want.data, tolerance)) return `output ${want.name}: ${JSON.stringify(got.data)}, expected ${JSON.stringify(want.data)}`;
  }
  return null;
}

const infer = (model: string, version?: string) => (version ? `/v2/models/${model}/versions/${version}/infer` : `/v2/models/${model}/infer`);
const fp32 = (data: unknown, shape: unknown, name = 'input', datatype = 'FP32') => ({ name, shape, datatype, data });

/** The 1,000 mixed requests: valid ones for each model, and the usual mistakes. */
function mixedCases(pool: Pool): Case[] {
  const random = prng(9);
  const pick = (n: number) => Math.floor(random() * n);
  const cases: Case[] = [];
  for (let i = 0; i < 1000; i++) {
    const id = `req-${i}-${pick(1e9).toString(36)}`;
    const k = 1 + pick(8);
    const picks = Array.from({ length: k }, () => pick(POOL));
    const rows = picks.map((r) => pool.rows[r]);
    const nested = random() < 0.5;
    const data = nested ? rows : rows.flat();
    const kind = pick(20);
    if (kind < 5) {
      const version = random() < 0.3 ? '1' : undefined;
      cases.push({ label: `reg ${k} rows`, path: infer('reg', version), id, model: 'reg', status: 200,
        body: JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH])] }),
        outputs: [{ name: 'variable', datatype: 'FP32', shape: [k, 1], data: picks.map((r) => pool.reg[r]) }] });
    } else if (kind < 9) {
      const only = random() < 0.3 ? 'probabilities' : random() < 0.3 ? 'label' : null;
      const label = { name: 'label', datatype: 'INT64', shape: [k], data: picks.map((r) => pool.clf_label[r]) };
      const proba = { name: 'probabilities', datatype: 'FP32', shape: [k, 3], data: picks.flatMap((r) => pool.clf_proba[r]) };
      const request: Record<string, unknown> = { id, inputs: [fp32(data, [k, WIDTH])] };
      if (only) request.outputs = [{ name: only }];
      cases.push({ label: `clf ${k} rows ${only ?? 'all'}`, path: infer('clf'), id, model: 'clf', status: 200, body: JSON.stringify(request),
        outputs: only === 'probabilities' ? [proba] : only === 'label' ? [label] : [label, proba] });
    } else if (kind < 12) {
      const a = Array.from({ length: k * 2 }, () => (random() < 0.1 ? 255 : pick(256)));
      const b = Array.from({ length: k * 2 }, () => (random() < 0.1 ? (random() < 0.5 ? -2147483648 : 2147483647) : pick(2e6) - 1e6));
      cases.push({ label: `ints ${k} rows`, path: infer('ints'), id, model: 'ints', status: 200,
        body: JSON.stringify({ id, inputs: [{ name: 'b', shape: [k, 2], datatype: 'INT32', data: b }, { name: 'a', shape: [k, 2], datatype: 'UINT8', data: a }] }),
        outputs: [{ name: 'sum', datatype: 'INT64', shape: [k, 2], data: a.map((v, j) => v + b[j]) }] });
    } else {
      // Invalid: each kind of mistake, on a model picked at random among the two FP32 ones.
      const model = random() < 0.5 ? 'reg' : 'clf';
      const mistakes: [string, number, string, string?][] = [
        ['unknown model', 404, JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH])] }), infer('nosuch')],
        ['unknown version', 404, JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH])] }), infer(model, '7')],
        ['FP64 for FP32', 400, JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH], 'input', 'FP64')] })],
        ['one value short', 400, JSON.stringify({ id, inputs: [fp32(rows.flat().slice(1), [k, WIDTH])] })],
        ['wrong width', 400, JSON.stringify({ id, inputs: [fp32(rows.flat().slice(0, k * (WIDTH - 1)), [k, WIDTH - 1])] })],
        ['unknown input', 400, JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH], 'x')] })],
        ['unknown output', 400, JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH])], outputs: [{ name: 'nope' }] })],
        ['invalid JSON', 400, JSON.stringify({ id, inputs: [fp32(data, [k, WIDTH])] }).slice(0, -3)],
        ['NaN input (rejected by default)', 400, JSON.stringify({ id, inputs: [fp32(['NaN', ...rows.flat().slice(1)], [k, WIDTH])] })],
        ['string in data', 400, JSON.stringify({ id, inputs: [fp32(['1.5', ...rows.flat().slice(1)], [k, WIDTH])] })],
        ['no inputs', 400, JSON.stringify({ id, inputs: [] })],
      ];
      const [what, status, body, path] = mistakes[pick(mistakes.length)];
      cases.push({ label: `${model}: ${what}`, path: path ?? infer(model), status, body });
    }
  }
  return cases;
}

/** The malformed-tensor corpus, against reg (FP32 [-1, 8]) and ints (UINT8 a, INT32 b). */
function corpus(pool: Pool): { label: string; path: string; body: string | Buffer }[] {
  const row = pool.rows[0];
  const reg = (...inputs: unknown[]) => JSON.stringify({ inputs });
  const ints = (a: unknown[], b: unknown[]) =>
    JSON.stringify({ inputs: [{ name: 'a', shape: [1, 2], datatype: 'UINT8', data: a }, { name: 'b', shape: [1, 2], datatype: 'INT32', data: b }] });
  const deep = (depth: number, inner: string) => '['.repeat(depth) + inner + ']'.repeat(depth);
  const cases: { label: string; path: string; body: string | Buffer }[] = [
    // wrong datatype
    ['FP64 for FP32', reg(fp32(row, [1, WIDTH], 'input', 'FP64'))],
    ['INT32 for FP32', reg(fp32(row.map(Math.round), [1, WIDTH], 'input', 'INT32'))],
    ['BYTES for FP32', reg(fp32(row.map(String), [1, WIDTH], 'input', 'BYTES'))],
    ['unknown datatype', reg(fp32(row, [1, WIDTH], 'input', 'FLOAT128'))],
    ['datatype not a string', reg(fp32(row, [1, WIDTH], 'input', 32 as unknown as string))],
    // shape and data disagree
    ['7 values for [1,8]', reg(fp32(row.slice(1), [1, WIDTH]))],
    ['9 values for [1,8]', reg(fp32([...row, 0], [1, WIDTH]))],
    ['8 values for [2,8]', reg(fp32(row, [2, WIDTH]))],
    ['ragged nested rows', reg(fp32([row, row.slice(1)], [2, WIDTH]))],
    ['nested deeper than the shape', reg(fp32([row.map((v) => [v])], [1, WIDTH]))],
    ['rank 1 shape', reg(fp32(row, [WIDTH]))],
    ['rank 3 shape', reg(fp32(row, [1, WIDTH, 1]))],
    ['empty shape', reg(fp32(row, []))],
    ['shape not an array', reg(fp32(row, '1,8'))],
    // dims
    ['-1 batch dim', reg(fp32(row, [-1, WIDTH]))],
    ['-1 feature dim', reg(fp32(row, [1, -1]))],
    ['2^40 dim', reg(fp32(row, [2 ** 40, WIDTH]))],
    ['2^40 x 2^40 (product overflows)', reg(fp32(row, [2 ** 40, 2 ** 40]))],
    ['2^53+ dim', `{"inputs":[{"name":"input","shape":[9007199254740993,8],"datatype":"FP32","data":${JSON.stringify(row)}}]}`],
    ['1e300 dim', `{"inputs":[{"name":"input","shape":[1e300,8],"datatype":"FP32","data":${JSON.stringify(row)}}]}`],
    ['fractional dim', reg(fp32(row, [0.5, 16]))],
    ['string dim', reg(fp32(row, ['1', WIDTH]))],
    // invalid JSON
    ['empty body', ''],
    ['not JSON', 'inputs=1'],
    ['truncated JSON', reg(fp32(row, [1, WIDTH])).slice(0, -2)],
    ['trailing garbage', `${reg(fp32(row, [1, WIDTH]))} x`],
    ['JSON null', 'null'],
    ['JSON array', '[]'],
    ['JSON number', '42'],
    ['JSON string', '"inputs"'],
    ['NaN literal', `{"inputs":[{"name":"input","shape":[1,8],"datatype":"FP32","data":[NaN,1,2,3,4,5,6,7]}]}`],
    ['broken UTF-8', Buffer.concat([Buffer.from('{"inputs":[{"name":"inp'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('ut","shape":[1,8],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}')])],
    // deep nesting
    ['data nested 100,000 deep', `{"inputs":[{"name":"input","shape":[1,8],"datatype":"FP32","data":${deep(100_000, '1')}}]}`],
    ['body nested 100,000 deep', deep(100_000, '')],
    ['objects nested 100,000 deep', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)],
    // huge strings
    ['10 MB input name', reg(fp32(row, [1, WIDTH], 'x'.repeat(10 << 20)))],
    ['10 MB datatype', reg(fp32(row, [1, WIDTH], 'input', 'F'.repeat(10 << 20)))],
    ['10 MB string in data', reg(fp32(['9'.repeat(10 << 20), ...row.slice(1)], [1, WIDTH]))],
    // wrong types inside data
    ['nulls in data', reg(fp32(row.map(() => null), [1, WIDTH]))],
    ['booleans in FP32 data', reg(fp32(row.map(() => true), [1, WIDTH]))],
    ['objects in data', reg(fp32(row.map(() => ({})), [1, WIDTH]))],
    ['numeric strings in data', reg(fp32(row.map(String), [1, WIDTH]))],
    ['"Infinity" (rejected by default)', reg(fp32(['Infinity', ...row.slice(1)], [1, WIDTH]))],
    ['data an object', reg(fp32({ 0: 1 }, [1, WIDTH]))],
    ['data a string', reg(fp32('1,2,3,4,5,6,7,8', [1, WIDTH]))],
    ['data a number', reg(fp32(5, [1, 1]))],
    ['1e39 overflows FP32', reg(fp32([1e39, ...row.slice(1)], [1, WIDTH]))],
    // integers out of range or not integers
    ['UINT8 -1', ints([-1, 0], [0, 0])],
    ['UINT8 256', ints([256, 0], [0, 0])],
    ['UINT8 1.5', ints([1.5, 0], [0, 0])],
    ['UINT8 1e20', ints([1e20, 0], [0, 0])],
    ['INT32 2^31', ints([0, 0], [2 ** 31, 0])],
    ['INT32 -2^31-1', ints([0, 0], [-(2 ** 31) - 1, 0])],
    ['INT32 2.5', ints([0, 0], [2.5, 0])],
    ['INT32 "7"', ints([0, 0], ['7', 0])],
    ['INT32 true', ints([0, 0], [true, 0])],
    // missing and misplaced fields
    ['empty object', '{}'],
    ['inputs empty', '{"inputs":[]}'],
    ['inputs an object', `{"inputs":${JSON.stringify(fp32(row, [1, WIDTH]))}}`],
    ['inputs [null]', '{"inputs":[null]}'],
    ['inputs [5]', '{"inputs":[5]}'],
    ['input without name', reg({ shape: [1, WIDTH], datatype: 'FP32', data: row })],
    ['input without shape', reg({ name: 'input', datatype: 'FP32', data: row })],
    ['input without datatype', reg({ name: 'input', shape: [1, WIDTH], data: row })],
    ['input without data', reg({ name: 'input', shape: [1, WIDTH], datatype: 'FP32' })],
    ['the same input twice', reg(fp32(row, [1, WIDTH]), fp32(row, [1, WIDTH]))],
    ['an extra input', reg(fp32(row, [1, WIDTH]), fp32(row, [1, WIDTH], 'extra'))],
    ['ints: input b missing', JSON.stringify({ inputs: [{ name: 'a', shape: [1, 2], datatype: 'UINT8', data: [1, 2] }] })],
    ['unknown output', JSON.stringify({ inputs: [fp32(row, [1, WIDTH])], outputs: [{ name: 'nope' }] })],
    ['outputs not an array', JSON.stringify({ inputs: [fp32(row, [1, WIDTH])], outputs: 'variable' })],
    ['id a number', JSON.stringify({ id: 5, inputs: [fp32(row, [1, WIDTH])] })],
  ].map(([label, body]) => ({ label: label as string, path: (label as string).startsWith('ints') || /^(UINT8|INT32) /.test(label as string) ? infer('ints') : infer('reg'), body: body as string | Buffer }));
  return cases;
}

describe('opsbook serve, as a client sees it', () => {
  const server = new Server();
  let dir = '';
  let pool: Pool;
  let agent: Agent;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsbook-serve-acceptance-'));
    execFileSync(PYTHON, ['-c', FIXTURES, dir], { stdio: ['ignore', 'inherit', 'inherit'] });
    pool = JSON.parse(readFileSync(join(dir, 'pool.json'), 'utf8')) as Pool;
    await server.start([join(dir, 'reg.onnx'), join(dir, 'clf.onnx'), join(dir, 'ints.onnx')], dir);
    agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  }, 180_000);

  afterAll(async () => {
    agent?.destroy();
    await server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A valid request per model, answered with Python onnxruntime's outputs. */
  async function expectServing(): Promise<void> {
    const c = mixedCases(pool).filter((x) => x.status === 200);
    for (const model of ['reg', 'clf', 'ints']) {
      const one = c.find((x) => x.model === model)!;
      expect(mismatch(one, await send(agent, server.port, 'POST', one.path, one.body))).toBeNull();
    }
  }

  test('every model is ready', () => {
    const models = server.ready.models as { name: string; ready: boolean }[];
    expect(models.map((m) => [m.name, m.ready]).sort()).toEqual([['clf', true], ['ints', true], ['reg', true]]);
  });

  test('1,000 concurrent mixed valid and invalid requests each get their own answer', async () => {
    const cases = mixedCases(pool);
    expect(cases.filter((c) => c.status === 200).length).toBeGreaterThan(500);
    expect(cases.filter((c) => c.status !== 200).length).toBeGreaterThan(300);
    const answers = await Promise.all(cases.map((c) => send(agent, server.port, 'POST', c.path, c.body)));
    const wrong = cases.map((c, i) => ({ i, label: c.label, why: mismatch(c, answers[i]) })).filter((w) => w.why !== null);
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(server.alive).toBe(true);
  }, 180_000);

  test('the malformed-tensor corpus gets a 4xx every time, and the server keeps serving with its RSS bounded', async () => {
    await expectServing();
    const before = server.rssMiB();
    const cases = corpus(pool);
    const failures: string[] = [];
    const growth: number[] = [];
    for (let round = 0; round < 4; round++) {
      // Concurrently within a round, so that bad requests also meet each other.
      const answers = await Promise.all(
        cases.map((c) => {
          const body = Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
          const head = `POST ${c.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
          return raw(server.port, head, () => [body]).catch((error: Error) => ({ status: 0, body: error.message }));
        }),
      );
      answers.forEach((answer, i) => {
        const ok = answer.status >= 400 && answer.status < 500;
        let errorBody = false;
        try {
          errorBody = validator.check('inference.schema.json#/$defs/InferenceError', JSON.parse(answer.body)) === null;
        } catch {
          errorBody = false;
        }
        if (!ok || !errorBody) failures.push(`round ${round} ${cases[i].label}: ${answer.status} ${answer.body.slice(0, 200)}`);
      });
      // A 100 MB body announced by Content-Length: 413 before the body is read.
      const announced = await raw(server.port,
        `POST ${infer('reg')} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${100 << 20}\r\n\r\n`,
        () => [Buffer.from('{"inputs":[')]).catch((error: Error) => ({ status: 0, body: error.message }));
      if (announced.status !== 413) failures.push(`round ${round} 100 MB Content-Length: ${announced.status} ${announced.body.slice(0, 200)}`);
      // A chunked body that passes the 64 MiB limit: cut with 413. 1 MiB chunks, 80 of them.
      const chunk = Buffer.alloc(1 << 20, 0x20);
      const chunked = await raw(server.port,
        `POST ${infer('reg')} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        async function* () {
          yield Buffer.from('b\r\n{"inputs":[\r\n');
          for (let i = 0; i < 80; i++) yield Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
          yield Buffer.from('0\r\n\r\n');
        }).catch((error: Error) => ({ status: 0, body: error.message }));
      if (chunked.status !== 413) failures.push(`round ${round} chunked past the limit: ${chunked.status} ${chunked.body.slice(0, 200)}`);
      // Wrong method and unknown path are 4xx too.
      for (const [method, path, status] of [['GET', infer('reg'), 405], ['POST', '/v2/nothing/here', 404], ['PUT', '/v2/models/reg', 405]] as const) {
        const answer = await send(agent, server.port, method, path, method === 'GET' ? undefined : '{}');
        if (answer.status !== status) failures.push(`round ${round} ${method} ${path}: ${answer.status}, expected ${status}`);
      }
      growth.push(server.rssMiB() - before);
    }
    expect(failures).toEqual([]);
    expect(server.alive).toBe(true);
    await expectServing();
    // Bounded, not small: the first round sets the high-water mark (three 10 MB bodies at once, each
    // held as bytes, as parsed text and in the request log's queue, plus the 64 MiB chunked body:
    // 350 to 480 MiB here), and later rounds of the same corpus must not raise it much.
    growth.push(server.rssMiB() - before);
    expect(Math.max(...growth)).toBeLessThan(768);
    expect(Math.max(...growth.slice(1)) - growth[0]).toBeLessThan(200);
  }, 300_000);
});
