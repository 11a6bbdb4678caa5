/**
 * Which device the server runs on, and `opsbook gpu setup`.
 *
 * onnxruntime-node's CPU binary (libonnxruntime.so.1) loads the CUDA execution provider from its own
 * folder (libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so) when a session
 * asks for 'cuda'. onnxruntime-node's own CUDA install downloads those from NuGet; gpu setup takes
 * them instead from the onnxruntime-gpu wheel of the same version on PyPI (built for CUDA 13), with
 * the CUDA 13 runtime libraries from NVIDIA's wheels (cuBLAS, the CUDA runtime, cuRAND, cuDNN), all
 * in a cache folder; the provider libraries are linked beside libonnxruntime.so.1, and the runtime
 * libraries' folder must be on LD_LIBRARY_PATH of the process that serves. The driver's
 * libcuda.so.1 comes with the machine's NVIDIA driver.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { onnx } from 'onnx-proto';
import type { Device, Log } from './types';

const execFileAsync = promisify(execFile);

/** Raised when `device: cuda` was asked for and CUDA cannot be used: the server exits 3. */
export class CudaUnavailable extends Error {
  readonly code = 'cuda_unavailable';
}

export interface DeviceChoice {
  device: Device;
  /** Why this device: for auto on the CPU, what CUDA lacked. */
  reason: string;
}

export interface GpuSetupResult {
  cuda: boolean;
  /** Why CUDA does or does not load. */
  reason: string;
  /** onnxruntime-node's binary folder, where the provider libraries go. */
  provider_dir: string;
  /** What LD_LIBRARY_PATH must hold for CUDA to load (the runtime libraries' folder), or null. */
  library_path: string | null;
}

const PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
/** NVIDIA's CUDA 13 runtime wheels the provider needs (cuDNN is loaded when a model uses it). */
const CUDA_WHEELS = ['nvidia-cublas>=13,<14', 'nvidia-cuda-runtime>=13,<14', 'nvidia-curand>=10,<11', 'nvidia-cudnn-cu13>=9,<10'];

/** onnxruntime-node's package folder and version. */
export function onnxruntimeNode(): { dir: string; version: string; binDir: string } {
  // createRequire, not require.resolve: the bundle must resolve the real package beside it at run time.
  const manifest = createRequire(__filename).resolve('onnxruntime-node/package.json');
  const dir = dirname(manifest);
  const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  return { dir, version, binDir: join(dir, 'bin', 'napi-v6', process.platform, process.arch) };
}

/** Where gpu setup keeps the wheels and what it unpacks from them. */
export function gpuCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'opsbook', 'gpu');
}

/** The folders the dynamic loader searches for libcuda.so.1, besides LD_LIBRARY_PATH. */
const DRIVER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64', '/usr/local/nvidia/lib', '/usr/lib/wsl/lib', '/run/opengl-driver/lib'];

/** Whether the NVIDIA driver's libcuda.so.1 can be found by the loader. */
export function findDriver(env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean), ...DRIVER_DIRS];
  for (const dir of dirs) if (existsSync(join(dir, 'libcuda.so.1'))) return join(dir, 'libcuda.so.1');
  const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const line = (cache.stdout ?? '').split('\n').find((entry) => /\blibcuda\.so\.1\b/.test(entry));
  return line ? line.split('=>').pop()!.trim() : null;
}

/**
 * What stops CUDA before onnxruntime is even asked: not Linux x64, no provider libraries beside
 * onnxruntime-node's binary, or no driver. Null when nothing does.
 */
export function cudaPrecheck(env: NodeJS.ProcessEnv = process.env, binDir = onnxruntimeNode().binDir): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `CUDA serving is set up for Linux x64 only (this is ${process.platform} ${process.arch})`;
  const missing = PROVIDER_LIBRARIES.filter((name) => !existsSync(join(binDir, name)));
  if (missing.length > 0) return `onnxruntime-node has no CUDA provider (${missing.join(', ')} not beside libonnxruntime.so.1; run \`opsbook gpu setup\`)`;
  if (!findDriver(env)) return 'no CUDA driver (libcuda.so.1 not found)';
  return null;
}

/** A one-node model (Identity on a float vector) to see whether a CUDA session opens. */
function probeModel(): Uint8Array {
  const value = (name: string): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
  });
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'probe', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [value('x')], output: [value('y')] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** The first line of an onnxruntime error, without its terminal colours. */
function firstLine(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
  return text.split('\n')[0].trim();
}

/** Opens a CUDA session in this process. Null when it opens, else why not. */
export async function tryCuda(): Promise<string | null> {
  const pre = cudaPrecheck();
  if (pre) return pre;
  try {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(probeModel(), { executionProviders: ['cuda'] });
    await session.release();
    return null;
  } catch (error) {
    return `onnxruntime could not start its CUDA provider: ${firstLine(error)}`;
  }
}

/**
 * The device to serve on: `cpu` as asked; `cuda` or CUDA unavailable (CudaUnavailable); `auto` CUDA
 * when it loads, else the CPU with the reason. Logs one `device` event either way.
 * @throws CudaUnavailable for `cuda` when CUDA cannot be used.
 */
export async function chooseDevice(requested: 'auto' | 'cpu' | 'cuda', log: Log): Promise<DeviceChoice> {
  let choice: DeviceChoice;
  if (requested === 'cpu') choice = { device: 'cpu', reason: 'device cpu was asked for' };
  else {
    const why = await tryCuda();
    if (why === null) choice = { device: 'cuda', reason: `onnxruntime's CUDA provider loaded (device ${requested})` };
    else if (requested === 'cuda') throw new CudaUnavailable(`CUDA is unavailable: ${why}`);
    else choice = { device: 'cpu', reason: `CUDA unavailable, serving on the CPU: ${why}` };
  }
  log({ level: choice.device === 'cpu' && requested === 'auto' ? 'warn' : 'info', msg: `serving on ${choice.device}: ${choice.reason}`, event: 'device', ...choice });
  return choice;
}

/** The NVIDIA runtime libraries' folder gpu setup fills. */
function cudaLibraryDir(cache: string): string {
  return join(cache, 'cuda-13', 'lib');
}

/**
 * The folder a serving process needs on LD_LIBRARY_PATH for CUDA (gpu setup's runtime libraries),
 * or null when gpu setup has not filled it. The loader reads LD_LIBRARY_PATH when a process starts,
 * so whoever starts the server process (the daemon, or `opsbook serve` re-running itself) adds it.
 */
export function cudaLibraryPath(cache = gpuCacheDir()): string | null {
  const dir = cudaLibraryDir(cache);
  return existsSync(dir) && readdirSync(dir).length > 0 ? dir : null;
}

/**
 * Checks whether CUDA would load in a process started with `LD_LIBRARY_PATH` holding library_path:
 * a child Node process opens a CUDA session (this one's loader has already read its search path).
 */
async function checkInChild(libraryPath: string | null, binDir: string): Promise<string | null> {
  const env = { ...process.env };
  if (libraryPath) env.LD_LIBRARY_PATH = [libraryPath, process.env.LD_LIBRARY_PATH].filter(Boolean).join(delimiter);
  const pre = cudaPrecheck(env, binDir);
  if (pre) return pre;
  // The onnxruntime-node package whose binary folder this is (bin/napi-v6/<platform>/<arch>).
  const ort = join(binDir, '..', '..', '..', '..');
  const model = Buffer.from(probeModel()).toString('base64');
  const script = [
    `require(${JSON.stringify(ort)}).InferenceSession.create(Buffer.from(${JSON.stringify(model)}, 'base64'), { executionProviders: ['cuda'] })`,
    `.then(() => process.stdout.write(JSON.stringify({ why: null })), (error) => process.stdout.write(JSON.stringify({ why: String(error.message) })));`,
  ].join('');
  try {
    const { stdout } = await execFileAsync(process.execPath, ['-e', script], { env, timeout: 120_000 });
    const { why } = JSON.parse(stdout) as { why: string | null };
    return why === null ? null : `onnxruntime could not start its CUDA provider: ${firstLine(why)}`;
  } catch (error) {
    return `the CUDA check failed: ${firstLine(error)}`;
  }
}

/** The wheel in `dir` whose file name starts with `prefix` (PyPI's normalised name). */
function wheelIn(dir: string, prefix: string): string | null {
  if (!existsSync(dir)) return null;
  const file = readdirSync(dir).find((name) => name.startsWith(prefix) && name.endsWith('.whl'));
  return file ? join(dir, file) : null;
}

async function pip(args: string[], log: Log): Promise<void> {
  log({ level: 'info', msg: `python3 -m pip ${args.join(' ')}` });
  try {
    await execFileAsync('python3', ['-m', 'pip', ...args], { timeout: 60 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    throw new Error(`pip could not download ${args.filter((arg) => !arg.startsWith('-')).slice(1).join(' ')}: ${firstLine((error as { stderr?: string }).stderr || error)}`);
  }
}

/** Unpacks members of a wheel (a zip) whose paths match `pattern` into `dir`, flattened. */
async function unpack(wheel: string, pattern: string, dir: string): Promise<string[]> {
  const script = [
    'import re, sys, zipfile, os, shutil',
    'wheel, pattern, out = sys.argv[1:4]',
    'done = []',
    'with zipfile.ZipFile(wheel) as z:',
    '    for name in z.namelist():',
    '        if re.search(pattern, name):',
    '            target = os.path.join(out, os.path.basename(name))',
    '            with z.open(name) as src, open(target, "wb") as dst: shutil.copyfileobj(src, dst)',
    '            done.append(os.path.basename(name))',
    'print("\\n".join(done))',
  ].join('\n');
  mkdirSync(dir, { recursive: true });
  const { stdout } = await execFileAsync('python3', ['-c', script, wheel, pattern, dir], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean);
}

/** Links `target` as `link`, replacing an older link (never a real file: that is onnxruntime-node's own). */
function linkInto(target: string, link: string): void {
  if (existsSync(link) || isLink(link)) {
    if (!isLink(link)) throw new Error(`${link} exists and is not a link gpu setup made; remove it to let gpu setup link the provider`);
    if (readlinkSync(link) === target) return;
    unlinkSync(link);
  }
  symlinkSync(target, link);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface GpuSetupOptions {
  /** Only say whether CUDA loads now; download and link nothing. */
  check?: boolean;
  /** Default: gpuCacheDir(). */
  cacheDir?: string;
  /** Where the provider libraries are linked; default onnxruntime-node's binary folder (tests link elsewhere). */
  providerDir?: string;
  log?: Log;
}

/**
 * `opsbook gpu setup`: downloads onnxruntime-gpu (onnxruntime-node's version) and the CUDA 13 runtime
 * wheels with pip into the cache (once), unpacks the provider and runtime libraries, links the
 * provider libraries beside onnxruntime-node's libonnxruntime.so.1, and checks in a child process
 * whether a CUDA session then opens. With `check`, only the check (with the cache's runtime folder on
 * LD_LIBRARY_PATH when it is there).
 */
export async function gpuSetup(options: GpuSetupOptions = {}): Promise<GpuSetupResult> {
  const log: Log = options.log ?? (() => undefined);
  const cache = options.cacheDir ?? gpuCacheDir();
  const { version } = onnxruntimeNode();
  const binDir = options.providerDir ?? onnxruntimeNode().binDir;
  const libDir = cudaLibraryDir(cache);
  const hasLibs = existsSync(libDir) && readdirSync(libDir).length > 0;
  if (options.check) {
    const libraryPath = hasLibs ? libDir : null;
    const why = await checkInChild(libraryPath, binDir);
    return { cuda: why === null, reason: why ?? 'onnxruntime-node opens CUDA sessions', provider_dir: binDir, library_path: libraryPath };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { cuda: false, reason: `CUDA serving is set up for Linux x64 only (this is ${process.platform} ${process.arch})`, provider_dir: binDir, library_path: null };
  }
  const wheels = join(cache, 'wheels');
  mkdirSync(wheels, { recursive: true });
  const pipDownload = ['download', '--no-deps', '--only-binary', ':all:', '--dest', wheels];
  if (!wheelIn(wheels, `onnxruntime_gpu-${version}-`)) await pip([...pipDownload, `onnxruntime-gpu==${version}`], log);
  const ortWheel = wheelIn(wheels, `onnxruntime_gpu-${version}-`);
  if (!ortWheel) throw new Error(`pip did not leave onnxruntime_gpu-${version} in ${wheels}`);
  const providerDir = join(cache, `onnxruntime-gpu-${version}`);
  if (!PROVIDER_LIBRARIES.every((name) => existsSync(join(providerDir, name)))) {
    log({ level: 'info', msg: `unpacking the CUDA provider from ${ortWheel}` });
    await unpack(ortWheel, `capi/(${PROVIDER_LIBRARIES.map((name) => name.replace(/\./g, '\\.')).join('|')})$`, providerDir);
  }
  const prefixes = ['nvidia_cublas-', 'nvidia_cuda_runtime-', 'nvidia_curand-', 'nvidia_cudnn_cu13-'];
  const missing = CUDA_WHEELS.filter((_, i) => !wheelIn(wheels, prefixes[i]));
  if (missing.length > 0) await pip([...pipDownload, ...missing], log);
  for (const prefix of prefixes) {
    const wheel = wheelIn(wheels, prefix);
    if (!wheel) throw new Error(`pip did not leave a ${prefix.slice(0, -1)} wheel in ${wheels}`);
    if (!hasLibs) await unpack(wheel, '^nvidia/.*/lib/[^/]+\\.so(\\.[0-9]+)*$', libDir);
  }
  for (const name of PROVIDER_LIBRARIES) linkInto(join(providerDir, name), join(binDir, name));
  log({ level: 'info', msg: `linked the CUDA provider into ${binDir}` });
  const why = await checkInChild(libDir, binDir);
  return {
    cuda: why === null,
    reason: why ?? `onnxruntime-node opens CUDA sessions with LD_LIBRARY_PATH=${libDir}`,
    provider_dir: binDir,
    library_path: libDir,
  };
}
