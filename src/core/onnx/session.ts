// onnxruntime sessions: the execution provider is chosen by a setting, 'auto' tries CUDA and
// falls back to the CPU with the reason recorded, and sessions are cached per model variant.
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import * as os from 'os';
import * as path from 'path';
import { Tensor, TypedArray } from '../tensor';
import { SOURCE_WEIGHTS } from './proto';

export type ProviderSetting = 'auto' | 'cuda' | 'cpu';
export type Provider = 'cuda' | 'cpu';

export interface RuntimeSession {
  session: ort.InferenceSession;
  provider: Provider;
  /** Why this provider runs: the setting, or the error that made CUDA fall back. */
  reason: string;
  /** Threads onnxruntime runs each op with (intraOpNumThreads). */
  threads: number;
  /** The bytes the session may read its weights from (an optimised model's, or the source model's for a variant pointing into it): kept as long as the session. */
  weights?: Uint8Array;
  /** Made with basic optimisations and unpacked weights for a run or two (SessionBuild.runOnce). */
  forOneRun?: boolean;
}

/**
 * How a session is made: `saveOptimizedTo` writes onnxruntime's optimised model to that file, in
 * onnxruntime's own (ORT) format; `optimized`: the bytes are such a model.
 */
export interface SessionBuild {
  saveOptimizedTo?: string;
  optimized?: boolean;
  /**
   * A session run once or twice (a shape probe, a first explanation): basic optimisations only and
   * no packed weights, since the layout ones (blocked NCHWc convolutions and their reordered
   * weights, MLAS's packed MatMul weights) cost more to make than they save on a run or two.
   */
  runOnce?: boolean;
  /** Threads per op; undefined or 0: every core (defaultThreads). */
  threads?: number;
  /** The bytes a variant's external initializers point into (encodeModelReferencing): the source model's. */
  sourceWeights?: Uint8Array;
}

/**
 * Every core the process may use. onnxruntime-node's own default took one thread on the 2-core
 * machine the benchmarks run on, and so ran resnet18 at half the speed the cores allow (21 ms per
 * image against 10-11 with two), while the peers it is compared with use both.
 */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism());
}

/** The threads a session built with `requested` (0 or undefined: every core) runs with. */
export function threadsFor(requested: number | undefined): number {
  return requested !== undefined && requested > 0 ? Math.floor(requested) : defaultThreads();
}

function options(provider: Provider, build: SessionBuild): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threadsFor(build.threads),
    // An optimised model saved by onnxruntime is loaded as it is: optimising it again costs as much
    // as the first time and changes nothing (its outputs are bit-identical).
    graphOptimizationLevel: build.optimized ? 'disabled' : build.runOnce ? 'basic' : 'all',
    ...(build.saveOptimizedTo ? { optimizedModelFilePath: build.saveOptimizedTo } : {}),
    ...(build.sourceWeights ? { externalData: [{ path: SOURCE_WEIGHTS, data: build.sourceWeights }] } : {}),
    extra: {
      session: {
        // A session's threads sleep when its run ends rather than spin waiting for more work: a
        // model's sessions take turns (forward, gradient, sub-models) and JavaScript runs between
        // them, and spinning threads took the cores from both (resnet18's forward pass right after
        // another session's run: 42 ms spinning, 20 without; alone: 19 either way).
        'intra_op.allow_spinning': '0',
        // The ORT format is read in place: onnxruntime uses the weights in the bytes it was given
        // rather than parsing a protobuf and copying every initializer (resnet18's session: 70 ms
        // to create instead of 500). The bytes must then outlive the session (RuntimeSession.weights).
        ...(build.saveOptimizedTo ? { save_model_format: 'ORT' } : {}),
        ...(build.optimized ? { use_ort_model_bytes_directly: '1', use_ort_model_bytes_for_initializers: '1' } : {}),
        // A session run once does not pack its MatMul and Gemm weights into MLAS's layout first: the
        // packing is a copy of every such weight that one run never earns back (vgg11's gradient
        // session: 1.55 s to create with it, 0.67-0.80 without; its run took 117-131 ms either way).
        ...(build.runOnce ? { disable_prepacking: '1' } : {}),
      },
    },
    // Errors reach the user as exceptions; onnxruntime's own (coloured) log lines stay off the terminal.
    logSeverityLevel: 4,
  };
}

// The CUDA attempt fails loudly in onnxruntime's native log when its libraries are missing;
// the failure is reported to the user as the fallback reason instead.
ort.env.logLevel = 'fatal';

/**
 * A session for a model's bytes. Never a path: onnxruntime would then open external data files
 * itself, following links the core refuses; the core reads and inlines them (readModelFile). The
 * only external data a session reads is SOURCE_WEIGHTS, which it is given in memory
 * (`sourceWeights`), never from disk.
 */
export async function createSession(model: Uint8Array, setting: ProviderSetting, build: SessionBuild = {}): Promise<RuntimeSession> {
  const made = { threads: threadsFor(build.threads), weights: build.optimized ? model : build.sourceWeights, ...(build.runOnce ? { forOneRun: true } : {}) };
  const create = (p: Provider) => ort.InferenceSession.create(model, options(p, build));
  if (setting === 'cpu') return { session: await create('cpu'), provider: 'cpu', reason: 'the CPU was chosen in settings', ...made };
  if (setting === 'auto' && cudaProblem) return { session: await create('cpu'), provider: 'cpu', reason: cudaProblem, ...made };
  try {
    return { session: await create('cuda'), provider: 'cuda', reason: 'CUDA execution provider loaded', ...made };
  } catch (err) {
    const why = cudaFailureReason((err as Error).message);
    if (setting === 'cuda') throw new Error(`the CUDA execution provider could not be loaded: ${why}`);
    const reason = `CUDA unavailable, using the CPU: ${why}`;
    if (librariesMissing((err as Error).message)) cudaProblem = reason;
    return { session: await create('cpu'), provider: 'cpu', reason, ...made };
  }
}

const NOT_INSTALLED = 'the CUDA provider libraries of onnxruntime-node are not installed';

/**
 * The CUDA provider's library, where onnxruntime-node's install script puts it (beside the native
 * binding), or undefined when that folder is not where this onnxruntime-node has it.
 */
export function cudaLibraryPath(): string | undefined {
  try {
    const binding = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
    if (!fs.existsSync(path.join(binding, 'onnxruntime_binding.node'))) return undefined;
    return path.join(binding, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
  } catch {
    return undefined;
  }
}

// Why CUDA cannot run in this process: its library is absent (known before any session, so 'auto'
// goes to the CPU at once and the first session can come from the disk cache of optimised CPU
// models), or it failed to load once; 'auto' then goes to the CPU directly rather than failing
// again for every session.
const cudaLibrary = cudaLibraryPath();
let cudaProblem: string | undefined = cudaLibrary && !fs.existsSync(cudaLibrary) ? `CUDA unavailable, using the CPU: ${NOT_INSTALLED}` : undefined;

/** The provider an 'auto' session will get, once this process has tried CUDA and it failed; else undefined. */
export function knownProvider(setting: ProviderSetting): Provider | undefined {
  return setting === 'cpu' || (setting === 'auto' && cudaProblem) ? 'cpu' : undefined;
}

// onnxruntime-node's npm package ships the CPU provider only; the CUDA provider's libraries
// come from its install script (ONNXRUNTIME_NODE_INSTALL_CUDA) and need CUDA and cuDNN.
function librariesMissing(message: string): boolean {
  return /Failed to load shared library/i.test(message);
}

function cudaFailureReason(message: string): string {
  const first =
    message
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? message;
  return librariesMissing(first) ? `${NOT_INSTALLED} (or CUDA/cuDNN is missing)` : first;
}

/** Sessions keyed by a string that names the model file, its variant and the provider setting. */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<RuntimeSession>>();

  /** Whether a session is built or being built under `key`. */
  has(key: string): boolean {
    return this.sessions.has(key);
  }

  get(key: string, build: () => Promise<RuntimeSession>): Promise<RuntimeSession> {
    let entry = this.sessions.get(key);
    if (!entry) {
      entry = build();
      this.sessions.set(key, entry);
      const built = entry;
      // Only this entry: a failed replacement does not remove the session it was to replace.
      entry.catch(() => this.sessions.get(key) === built && this.sessions.delete(key));
    }
    return entry;
  }

  /**
   * Builds a session to take the place of the one under `key`: until it is made, `key` still gives
   * the old one, which is released once its runs end. Resolves when done; a failed build leaves the
   * old one in place, and a session made after its key was disposed is released at once.
   */
  async upgrade(key: string, build: () => Promise<RuntimeSession>): Promise<void> {
    const old = this.sessions.get(key);
    const next = build();
    try {
      await next;
    } catch {
      return;
    }
    if (!old || this.sessions.get(key) !== old) return release(next);
    this.sessions.set(key, next);
    await release(old);
  }

  async dispose(prefix = ''): Promise<void> {
    const keys = [...this.sessions.keys()].filter((k) => k.startsWith(prefix));
    for (const key of keys) {
      const entry = this.sessions.get(key);
      this.sessions.delete(key);
      if (entry) await release(entry);
    }
  }
}

/** Resolves when the runs of a session started so far have ended (run adds to it); holds none of their outputs. */
const runsInFlight = new WeakMap<RuntimeSession, Promise<void>>();

async function release(entry: Promise<RuntimeSession>): Promise<void> {
  try {
    const rs = await entry;
    // onnxruntime must not free a session a run is still using; a caller that got the session
    // just now starts its run before the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    await runsInFlight.get(rs);
    await rs.session.release();
  } catch {
    // A session that failed to build has nothing to release.
  }
}

export function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, t.dims);
}

export function fromOrt(t: ort.Tensor): Tensor {
  return { dtype: t.type as Tensor['dtype'], dims: [...t.dims], data: t.data as TypedArray };
}

export async function run(rs: RuntimeSession, feeds: Record<string, Tensor>, outputs?: string[]): Promise<Record<string, Tensor>> {
  // Without a prototype, a tensor named '__proto__' is a key like any other.
  const ortFeeds: Record<string, ort.Tensor> = Object.create(null);
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
  const running = outputs ? rs.session.run(ortFeeds, outputs) : rs.session.run(ortFeeds);
  const ended = running.then(
    () => undefined,
    () => undefined,
  );
  const earlier = runsInFlight.get(rs);
  runsInFlight.set(rs, earlier ? Promise.all([earlier, ended]).then(() => undefined) : ended);
  const result = await running;
  const out: Record<string, Tensor> = Object.create(null);
  for (const [name, t] of Object.entries(result)) out[name] = fromOrt(t);
  return out;
}
