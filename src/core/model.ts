// A loaded ONNX model: its summary, its layers with shapes, and runs of it (and of variants of it
// with extra outputs) on cached onnxruntime sessions.
import * as path from 'path';
import * as crypto from 'crypto';
import * as fs from 'fs';
import { ActivationLimit, ActivationLimitOptions, activationBytes } from './activation-memory';
import { BuiltModelCache, buildEnvironment } from './autodiff/cache';
import { probeShapeSets } from './autodiff/shapes';
import { dimsOf, indexGraph, nodeLabel, onnxOpset, subgraphs, topologicalOrder } from './onnx/graph';
import { FileReadError, readFileChecked } from './files';
import { MAX_MODEL_BYTES, dtypeName, elementCount, inlineExternalData } from './onnx/initializers';
import { SizeLimits, checkValues, isValidDim } from './limits';
import { EncodedModel, GraphProto, ModelProto, NodeProto, OnnxFormatError, decodeModel, encodeModel, encodeModelReferencing, encodeModelReusing } from './onnx/proto';
import { assertTensorExists, exposeOutputs, modelUpTo, realInputs, withBatchFreedReshapes, withDynamicBatch } from './onnx/surgery';
import { ProviderSetting, RuntimeSession, SessionCache, createSession, knownProvider, run, threadsFor } from './onnx/session';
import { Random } from './random';
import { Tensor, formatShape, sameDims, sizeOf } from './tensor';

export interface TensorInfo {
  name: string;
  dtype: string;
  /** Numbers for fixed dimensions, strings for symbolic ones. */
  shape: (number | string)[];
}

export interface LayerInfo {
  /** Node name, e.g. '/layer4/layer4.1/conv2/Conv'. */
  name: string;
  opType: string;
  /** `probeable: false`: inside an If/Loop/Scan subgraph, so it cannot be exposed as a graph output. */
  outputs: { name: string; shape?: number[]; probeable?: false }[];
  /** For a node inside an If/Loop/Scan subgraph: the label of the node holding it. */
  parent?: string;
  /** PyTorch module scope parsed from the node name, e.g. 'layer4.1.conv2'. */
  scope?: string;
  /** Source stack trace from node metadata, where the exporter wrote one. */
  sourceTrace?: string;
}

export interface ModelSummary {
  path?: string;
  producer: string;
  irVersion: number;
  opset: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  parameterCount: number;
  opHistogram: Record<string, number>;
  nodeCount: number;
}

export class ModelLoadError extends Error {}

/**
 * Reads and decodes a model file, with one clear sentence for each way it can fail. Weights kept
 * in external data files (inside the model's folder only) are read into the model, and `bytes`
 * is then the model with them inlined (`external`): every session and variant is built from memory.
 */
export function readModelFile(file: string): { proto: ModelProto; bytes: Uint8Array; external: boolean } {
  let bytes: Uint8Array;
  try {
    bytes = readFileChecked(file, {
      what: 'model file',
      maxBytes: MAX_MODEL_BYTES,
      limitHint: 'protobuf, the format of ONNX, holds at most 2 GiB in one file; larger models keep their weights in external data files',
    });
  } catch (err) {
    if (err instanceof FileReadError) throw new ModelLoadError(err.message);
    throw err;
  }
  if (bytes.length === 0) throw new ModelLoadError(`${path.basename(file)} is empty, not an ONNX model`);
  try {
    const proto = decodeModel(bytes);
    const inlined = inlineExternalData(proto, path.dirname(path.resolve(file)));
    return inlined === proto ? { proto, bytes, external: false } : { proto: inlined, bytes: encodeModel(inlined), external: true };
  } catch (err) {
    if (err instanceof OnnxFormatError) throw new ModelLoadError(`${path.basename(file)}: ${err.message}`);
    throw err;
  }
}

/** 'layer4/layer4.1/conv2' from '/layer4/layer4.1/conv2/Conv' (PyTorch's exporter names nodes by module scope). */
export function moduleScope(nodeName: string | undefined): string | undefined {
  if (!nodeName || !nodeName.startsWith('/')) return undefined;
  const parts = nodeName.split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  // Each scope part is the dotted module path so far: /layer4/layer4.1/conv2/Conv is layer4.1.conv2.
  let scope = '';
  for (const part of parts.slice(0, -1)) scope = scope && !part.startsWith(scope + '.') ? `${scope}.${part}` : part;
  return scope;
}

function sourceTrace(node: NodeProto): string | undefined {
  const entry = node.metadata_props?.find((p) => p.key === 'pkg.torch.onnx.stack_trace' || p.key?.includes('stack_trace'));
  return entry?.value;
}

function tensorInfo(graph: GraphProto, names: { name: string; type?: { tensor_type?: { elem_type?: number } } }[]): TensorInfo[] {
  return names.map((v) => ({
    name: v.name,
    dtype: dtypeName(v.type?.tensor_type?.elem_type),
    shape: dimsOf(v as never) ?? [],
  }));
}

export function summarize(proto: ModelProto, file?: string): ModelSummary {
  const graph = proto.graph as GraphProto;
  // Counted in a Map: an op type named '__proto__' or 'constructor' is a name like any other.
  const opCounts = new Map<string, number>();
  for (const node of graph.node) opCounts.set(node.op_type, (opCounts.get(node.op_type) ?? 0) + 1);
  const opHistogram = Object.fromEntries(opCounts);
  const parameterCount = (graph.initializer ?? []).reduce((sum, t) => sum + elementCount(t), 0);
  return {
    path: file,
    producer: [proto.producer_name, proto.producer_version].filter(Boolean).join(' ') || 'unknown',
    irVersion: Number(proto.ir_version ?? 0),
    opset: onnxOpset(proto),
    inputs: tensorInfo(graph, realInputs(graph)),
    outputs: tensorInfo(graph, graph.output ?? []),
    parameterCount,
    opHistogram,
    nodeCount: graph.node.length,
  };
}

// Ops that compute shapes or constants rather than features: not layers a user looks at.
const SHAPE_OPS = new Set(['Shape', 'Gather', 'Cast', 'Constant', 'ConstantOfShape', 'Range', 'Unsqueeze', 'Concat', 'Slice', 'Size', 'Squeeze', 'Equal', 'Where', 'Expand']);

/**
 * Graphs with more nodes than this are not probed: onnxruntime builds a session in time that grows
 * faster than the graph (a 100,000-node chain with every tensor exposed takes minutes), and no CNN
 * comes near it (ResNet-152 has about 500 nodes, large vision transformers a few thousand).
 */
export const MAX_PROBED_NODES = 20_000;

/** The largest model (its bytes as onnxruntime gets them) whose optimised sessions the disk cache keeps (see builtSession). */
export const MAX_PERSISTED_MODEL_BYTES = 128 * 2 ** 20;

/** probeShapes on a graph over MAX_PROBED_NODES: layers are listed without shapes. */
export class ShapeProbeLimitError extends Error {}

export interface ModelOptions {
  provider?: ProviderSetting;
  /** Threads onnxruntime runs each op with; 0 or undefined: every core. */
  threads?: number;
  /** The limit on activations copied out of a run (layers exposed, shapes probed). */
  activationMemory?: ActivationLimitOptions;
  /** Limits on the sizes the model declares: its input, fed as zeros to probe shapes. */
  sizeLimits?: SizeLimits;
  /**
   * Folder of the on-disk cache of built models (autodiff/cache.ts): optimised sessions and probed
   * shapes kept across processes, keyed by the model's content. None: nothing is written.
   */
  cacheDir?: string;
  /** Size limit of that folder; the least recently used entries go first. */
  cacheBytes?: number;
}

/** How ConvModel.builtSession keeps a session: `persist` on disk (with `validMeta` checking a hit's meta), `once` for one run. */
export interface BuildOptions {
  persist: boolean;
  validMeta?: (meta: unknown) => boolean;
  once?: boolean;
}

/** A session with what was recorded about its model when it was built (names of a gradient model's inputs and outputs). */
export interface BuiltSession<M> {
  session: RuntimeSession;
  meta: M;
}

export class ConvModel {
  private readonly sessions = new SessionCache();
  private readonly sessionMeta = new Map<string, unknown>();
  /** What was built for a session made for one run (builtSession's `once`), by its memory key: its replacement needs no building. */
  private readonly builtForOneRun = new Map<string, { proto: ModelProto; meta: unknown }>();
  /** Set by explainsManyInputs: `once` is not taken at its word. */
  private manyInputs = false;
  private readonly diskCache?: BuiltModelCache;
  private readonly pendingWrites: Promise<void>[] = [];
  private hash?: string;
  /** The file's identity when it was read (fileIdentity), where the model is that one file. */
  private fileIdentity?: string;
  private baseExposed: string[] = [];
  private batchSupport?: Promise<boolean>;
  private probed?: Promise<ModelProbe>;
  private freedRows?: Promise<boolean>;
  /** Whether sessions take the model with its batch-pinning Reshapes freed (probe; batchedSessions). */
  private batchFreed = false;
  private cachedSummary?: ModelSummary;

  private constructor(
    readonly proto: ModelProto,
    readonly bytes: Uint8Array,
    readonly file: string | undefined,
    readonly provider: ProviderSetting,
    /** Threads per op of every session of this model (threadsFor: 0 means every core). */
    readonly threads: number,
    readonly activationLimit: ActivationLimit,
    readonly sizeLimits: SizeLimits,
    cache: { dir?: string; bytes?: number },
  ) {
    if (cache.dir) this.diskCache = new BuiltModelCache(cache.dir, cache.bytes);
  }

  static load(file: string, options: ModelOptions = {}): ConvModel {
    const limit = new ActivationLimit(options.activationMemory);
    const before = fileIdentity(file);
    const { proto, bytes, external } = readModelFile(file);
    const model = new ConvModel(proto, bytes, path.resolve(file), options.provider ?? 'auto', threadsFor(options.threads), limit, options.sizeLimits ?? {}, {
      dir: options.cacheDir,
      bytes: options.cacheBytes,
    });
    // Unchanged while it was read: these bytes are the content of the file with this identity.
    if (!external && before !== undefined && before === fileIdentity(file)) model.fileIdentity = before;
    return model;
  }

  static fromBytes(bytes: Uint8Array, options: ModelOptions = {}): ConvModel {
    const limit = new ActivationLimit(options.activationMemory);
    try {
      return new ConvModel(decodeModel(bytes), bytes, undefined, options.provider ?? 'auto', threadsFor(options.threads), limit, options.sizeLimits ?? {}, {
        dir: options.cacheDir,
        bytes: options.cacheBytes,
      });
    } catch (err) {
      if (err instanceof OnnxFormatError) throw new ModelLoadError(err.message);
      throw err;
    }
  }

  get graph(): GraphProto {
    return this.proto.graph as GraphProto;
  }

  get dir(): string | undefined {
    return this.file ? path.dirname(this.file) : undefined;
  }

  /** Computed once: callers ask for it on every run, and it walks the whole graph. */
  summary(): ModelSummary {
    this.cachedSummary ??= summarize(this.proto, this.file);
    return this.cachedSummary;
  }

  /** Why layer shapes are not probed on this model, or undefined when they are. */
  get shapeProbeLimit(): string | undefined {
    const nodes = this.graph.node.length;
    if (nodes <= MAX_PROBED_NODES) return undefined;
    return `layer shapes not probed: the graph has ${nodes.toLocaleString('en-US')} nodes, more than the ${MAX_PROBED_NODES.toLocaleString('en-US')} ConvLens runs to find shapes`;
  }

  get input(): TensorInfo {
    return this.summary().inputs[0];
  }

  /** The first input's dims with symbolic ones made concrete, refused when over the size limits. */
  inputDims(): number[] {
    return concreteInputDims(this.input.shape, this.sizeLimits);
  }

  /**
   * A session for a variant of the model, cached under `key`, built from memory: the bytes that
   * were read and checked (external data inlined), never the file again. `once`: see builtSession.
   */
  async session(key: string, variant: () => ModelProto, once = false): Promise<RuntimeSession> {
    return (await this.builtSession(key, async () => ({ proto: variant(), meta: undefined }), { persist: true, once })).session;
  }

  /**
   * What names the model's content in its disk-cache keys: the file's identity where the model is
   * that one file, unchanged while it was read (fileIdentity: equal identities, equal bytes), so a
   * first call hashes nothing (26 ms for resnet18's 45 MB, 0.3 s for vgg11's 507 MB); else the
   * sha256 of its bytes (external data inlined), computed once.
   */
  get contentKey(): string {
    if (this.fileIdentity) return `file ${this.fileIdentity}`;
    this.hash ??= `sha256 ${crypto.createHash('sha256').update(this.bytes).digest('hex')}`;
    return this.hash;
  }

  /**
   * A session for the variant `build` makes, cached under `key` in memory and, where the model has
   * a cache folder and `persist` holds (the key names the variant across processes), on disk as
   * onnxruntime's optimised model, with `meta`: a later process loads it without building,
   * encoding or optimising anything. The disk cache serves CPU sessions only (an optimised model
   * is specific to its execution provider), once the provider is known to be the CPU.
   *
   * `once`: the caller runs the session once (one explanation of one input). Where the variant is
   * neither in memory nor on disk, its session is made for that run (SessionBuild.runOnce: no
   * blocked-layout rewrite, whose reordered weights cost resnet18 about 60 ms to make and save 7 ms
   * a run) and is not stored. The variant's next request starts the full session (stored as usual)
   * without waiting for it, since a variant asked for twice is likely to be asked for again (a
   * second click at a layer); requests get the first session until it is made. A model told it
   * explains many inputs (explainsManyInputs: a folder of images) builds the full one at once.
   */
  builtSession<M>(key: string, build: () => Promise<{ proto: ModelProto; meta: M }>, options: BuildOptions = { persist: true }): Promise<BuiltSession<M>> {
    if (options.once && this.manyInputs) options = { ...options, once: false };
    const memoryKey = `${key}|${this.provider}`;
    const forOneRun = this.builtForOneRun.get(memoryKey);
    if (forOneRun) {
      this.builtForOneRun.delete(memoryKey);
      // Waited for with the cache writes (writesFinished), the one it starts among them.
      this.pendingWrites.push(
        this.sessions.upgrade(memoryKey, () => this.buildSession(key, memoryKey, async () => forOneRun as { proto: ModelProto; meta: M }, { ...options, once: false })),
      );
    }
    const session = this.sessions.get(memoryKey, () => this.buildSession(key, memoryKey, build, options));
    return session.then((s) => ({ session: s, meta: this.sessionMeta.get(memoryKey) as M }));
  }

  private async buildSession<M>(key: string, memoryKey: string, build: () => Promise<{ proto: ModelProto; meta: M }>, options: BuildOptions): Promise<RuntimeSession> {
    const cache = options.persist && this.diskCache && knownProvider(this.provider) === 'cpu' ? this.diskCache : undefined;
    const diskKey = cache ? this.diskKey({ variant: key }) : undefined;
    const hit = cache && diskKey ? cache.read(diskKey) : undefined;
    if (cache && diskKey && hit && (options.validMeta?.(hit.meta) ?? true)) {
      try {
        const loaded = await createSession(hit.body, this.provider, { optimized: true, threads: this.threads });
        this.sessionMeta.set(memoryKey, hit.meta);
        return loaded;
      } catch {
        // An entry this onnxruntime cannot load is built again (and replaced) like a missing one.
        cache.remove(diskKey);
      }
    }
    const built = await build();
    const { proto, meta } = built;
    this.sessionMeta.set(memoryKey, meta);
    // A variant's weights shared with the model point into the model's bytes rather than being
    // copied (encodeModelReferencing; encodeModelReusing where the bytes cannot be walked).
    const referencing = proto === this.proto ? undefined : encodeModelReferencing(proto, this);
    const bytes = proto === this.proto ? this.bytes : (referencing?.bytes ?? encodeModelReusing(proto, this));
    const sourceWeights = referencing && this.bytes;
    const threads = this.threads;
    if (options.once) {
      const session = await createSession(bytes, this.provider, { threads, sourceWeights, runOnce: true });
      this.builtForOneRun.set(memoryKey, built);
      return session;
    }
    // A large model's session is not kept: onnxruntime's writing of its optimised form grows
    // faster than the model (+36 ms for resnet18's 45 MB, +0.32 s for convnext_tiny's 109 MB,
    // +2.1-2.6 s for vgg11's 507 MB) and reloading it later saves less than that.
    const size = bytes.length + (referencing?.referencedBytes ?? 0);
    const optimizedFile = cache && diskKey && size <= MAX_PERSISTED_MODEL_BYTES ? cache.temporaryPath() : undefined;
    if (!cache || !diskKey || !optimizedFile) return createSession(bytes, this.provider, { threads, sourceWeights });
    const created = await createSession(bytes, this.provider, { saveOptimizedTo: optimizedFile, threads, sourceWeights }).catch(() =>
      createSession(bytes, this.provider, { threads, sourceWeights }),
    );
    // Stored while the caller runs its session: read and written off the main thread, so the
    // first run does not wait for a large model's bytes for the sake of later processes.
    this.pendingWrites.push(
      (async () => {
        try {
          if (created.provider === 'cpu') await cache.writeFromFile(diskKey, optimizedFile, meta ?? null);
        } finally {
          await fs.promises.rm(optimizedFile, { force: true }).catch(() => undefined);
        }
      })(),
    );
    return created;
  }

  /** The disk cache's key for something derived from this model at its declared input size. */
  private diskKey(what: Record<string, string>): string | undefined {
    let input: string;
    try {
      input = this.inputDims().join('x');
    } catch {
      // A model whose declared input is refused has nothing built at it worth keeping.
      return undefined;
    }
    return JSON.stringify({ model: this.contentKey, input, ...what, ...buildEnvironment() });
  }

  /**
   * The model is about to explain many inputs one after another (a folder of images): from now on a
   * session asked for one run (builtSession's `once`) is built in full at once, rather than for
   * that run and again in full at the next.
   */
  explainsManyInputs(): void {
    this.manyInputs = true;
  }

  /**
   * Makes the base session also compute `tensors` as outputs (the panel's default CAM layer), so
   * that a run asking for them (Score-CAM, Ablation-CAM or the Activations view at that layer)
   * needs no session of its own: each costs onnxruntime as much to create as the model's. Called
   * before the base session is first made.
   */
  exposeInBaseSession(tensors: string[]): void {
    for (const name of tensors) assertTensorExists(this.graph, name);
    this.baseExposed = [...new Set(tensors)].sort();
  }

  /** The base session's variant: the dynamic batch where it runs, the exposed tensors. */
  private baseVariant(dynamic: boolean): { key: string; build: () => ModelProto } {
    const proto = () => (dynamic ? this.batchedProto() : this.proto);
    const variant = dynamic ? this.batchVariantKey() : 'original';
    if (this.baseExposed.length === 0) return { key: variant, build: proto };
    return { key: exposeKey(variant, this.baseExposed), build: () => exposeOutputs(proto(), this.baseExposed) };
  }

  /** Whether the base session is built or being built (the panel's is, once it opened the model): a forward pass then makes no session. */
  async baseSessionOpen(): Promise<boolean> {
    return this.sessions.has(`${this.baseVariant(await this.batchedSessions()).key}|${this.provider}`);
  }

  /** The model with a dynamic batch dimension when the graph allows it, else as it is (with the tensors of exposeInBaseSession as outputs). */
  async baseSession(): Promise<RuntimeSession> {
    const { key, build } = this.baseVariant(await this.batchedSessions());
    return this.session(key, build);
  }

  /**
   * Whether the model runs on a batch of two. A batch dimension the model leaves symbolic is taken
   * at its word; a pinned one is tried: by the shape probe where it runs (it probes batch 2 too),
   * else on the base session's own variant at batch 2 (which it then is), remembered in the disk
   * cache, so that a reopened model's first gradient method does not start a session only to
   * learn it again.
   */
  supportsBatch(): Promise<boolean> {
    this.batchSupport ??= (async () => {
      const input = this.input;
      const dims = this.inputDims();
      if (typeof input.shape[0] === 'string') return true;
      const probe = await this.probe().catch(() => undefined);
      if (probe?.batchTried) return probe.batchShapes !== undefined && (!probe.batchFreed || (await this.freedRowsIndependent()));
      const diskKey = this.diskCache && this.diskKey({ probe: 'batch' });
      const cached = diskKey ? this.diskCache?.read(diskKey)?.meta : undefined;
      if (typeof cached === 'boolean') return cached;
      let supported: boolean;
      const { key, build } = this.baseVariant(true);
      try {
        const s = await this.session(key, build);
        const probe = { dtype: 'float32' as const, dims: [2, ...dims.slice(1)], data: new Float32Array(2 * sizeOf(dims.slice(1))) };
        await run(s, { [input.name]: probe }, this.graphOutputs());
        supported = true;
      } catch {
        await this.sessions.dispose(`${key}|`);
        supported = false;
      }
      if (diskKey) this.diskCache?.write(diskKey, new Uint8Array(0), supported);
      return supported;
    })();
    return this.batchSupport;
  }

  /**
   * Whether the model's sessions are made of batchedProto (its batch symbolic, its batch-pinning
   * Reshapes freed where the probe freed them), as supportsBatch, except that a freed model is
   * used before its rows are checked (freedRowsIndependent): at batch 1 it computes what the
   * declared model does, so a run of one input needs no check, and a first explanation does not
   * wait for one (shufflenet_v2_x1_0's: a session and three runs, about 80 ms of 0.2 s). Runs of
   * several inputs ask supportsBatch.
   */
  async batchedSessions(): Promise<boolean> {
    if (typeof this.input.shape[0] === 'string') return true;
    const probe = await this.probe().catch(() => undefined);
    if (probe?.batchTried) return probe.batchShapes !== undefined;
    return this.supportsBatch();
  }

  /**
   * Whether each row of a batch of two distinct inputs is what that input alone gives, in the
   * model with its batch-pinning Reshapes freed (batchRowsIndependent), kept in the disk cache.
   * Asked only where the probe freed them.
   */
  private freedRowsIndependent(): Promise<boolean> {
    this.freedRows ??= (async () => {
      const diskKey = this.diskCache && this.diskKey({ probe: 'freed rows' });
      const cached = diskKey ? this.diskCache?.read(diskKey)?.meta : undefined;
      if (typeof cached === 'boolean') return cached;
      const independent = await batchRowsIndependent(this.batchedProto(), this, this.input.name, this.inputDims());
      if (diskKey) this.diskCache?.write(diskKey, new Uint8Array(0), independent);
      return independent;
    })();
    return this.freedRows;
  }

  /**
   * Runs the model with the named tensors exposed as extra outputs; refused before it starts
   * (ActivationMemoryError) when their estimated size is over the activation limit. `once`: the
   * caller runs the model with these tensors exposed once (builtSession's `once`).
   */
  async run(feeds: Record<string, Tensor>, extraOutputs: string[] = [], options: { once?: boolean } = {}): Promise<Record<string, Tensor>> {
    this.checkFeeds(feeds);
    const dynamic = await this.batchedSessions();
    const graphOutputs = this.graphOutputs();
    const outputs = [...graphOutputs, ...extraOutputs.filter((n) => !graphOutputs.includes(n))];
    const extra = [...new Set(extraOutputs)].sort();
    if (extra.length === 0 || extra.every((n) => this.baseExposed.includes(n))) {
      if (extra.length > 0) await this.checkActivationMemory(extra, feeds);
      return run(await this.baseSession(), feeds, outputs);
    }
    await this.checkActivationMemory(extra, feeds);
    const s = await this.session(
      exposeKey(dynamic ? this.batchVariantKey() : 'original', extra),
      () => exposeOutputs(dynamic ? this.batchedProto() : this.proto, extra),
      options.once,
    );
    return run(s, feeds, outputs);
  }

  /**
   * The named tensors for these feeds, computed by the part of the model they depend on
   * (modelUpTo): for a layer before a large head (vgg11's 400 MB classifier), that part's session
   * costs a fraction of the whole model's. Where the base session already computes them (the
   * panel's, with its CAM layer exposed), it runs instead of making another session. `once`: as
   * for run.
   */
  async runUpTo(feeds: Record<string, Tensor>, tensors: string[], options: { once?: boolean } = {}): Promise<Record<string, Tensor>> {
    const names = [...new Set(tensors)].sort();
    const dynamic = await this.batchedSessions();
    if (names.every((n) => this.baseExposed.includes(n)) && (await this.baseSessionOpen())) return this.run(feeds, names);
    this.checkFeeds(feeds);
    await this.checkActivationMemory(names, feeds);
    const proto = () => modelUpTo(dynamic ? this.batchedProto() : this.proto, names);
    const s = await this.session(`upto:${dynamic ? this.batchVariantKey() : 'original'}:${names.join(',')}`, proto, options.once);
    const inputs = new Set(s.session.inputNames);
    return run(s, Object.fromEntries(Object.entries(feeds).filter(([name]) => inputs.has(name))), names);
  }

  private graphOutputs(): string[] {
    return (this.graph.output ?? []).map((o) => o.name);
  }

  /**
   * Estimated bytes of the named tensors (copies = 2 counts each twice, e.g. a layer and its
   * gradient) for these feeds: their probed sizes scaled by the input's size over the probe's,
   * exact for the batch and for layers whose size follows the image's.
   */
  async activationBytes(tensors: string[], feeds: Record<string, Tensor>, copies = 1): Promise<number> {
    // A model that cannot run at its declared size has no probed shapes: only the feeds count.
    const shapes = await this.probeShapes().catch(() => new Map<string, number[]>());
    const input = this.input;
    const fed = feeds[input.name];
    const scale = fed ? sizeOf(fed.dims) / sizeOf(concreteInputDims(input.shape, this.sizeLimits)) : 1;
    let bytes = 0;
    for (const name of new Set(tensors)) {
      const probed = shapes.get(name);
      // Object.hasOwn: a layer named 'constructor' is not a feed.
      bytes += probed ? activationBytes(probed) * scale : Object.hasOwn(feeds, name) ? activationBytes(feeds[name].dims) : 0;
    }
    return bytes * copies;
  }

  /** Throws ActivationMemoryError, naming the limit and how to raise it, when the tensors would not fit. */
  async checkActivationMemory(tensors: string[], feeds: Record<string, Tensor>, copies = 1): Promise<void> {
    const named = tensors.length === 1 ? `the activations of '${tensors[0]}'` : `the activations of ${tensors.length} layers`;
    const fed = feeds[this.input.name];
    const what = fed ? `${named} for an input of ${formatShape(fed.dims)}` : named;
    this.activationLimit.check(copies > 1 ? `${what} and their gradients` : what, await this.activationBytes(tensors, feeds, copies));
  }

  /**
   * The largest batch, up to `requested`, whose activations of `tensors` fit the limit, for inputs
   * of `itemDims` (batch 1), with `copies` as in activationBytes; throws ActivationMemoryError
   * when even one input's do not fit.
   */
  async batchThatFits(tensors: string[], itemDims: number[], requested: number, copies = 1): Promise<number> {
    const item = { [this.input.name]: { dtype: 'float32' as const, dims: itemDims, data: new Float32Array(0) } };
    const fits = this.activationLimit.itemsThatFit(await this.activationBytes(tensors, item, copies));
    if (fits < 1) await this.checkActivationMemory(tensors, item, copies);
    return Math.max(1, Math.min(requested, fits));
  }

  /** Throws a clear error when a feed's shape cannot fit the model's declared input. */
  checkFeeds(feeds: Record<string, Tensor>): void {
    for (const info of this.summary().inputs) {
      const t = feeds[info.name];
      if (!t) throw new InputShapeError(`the model needs an input named '${info.name}' ${formatShape(info.shape)}`);
      const fits = t.dims.length === info.shape.length && info.shape.every((d, i) => typeof d === 'string' || d === t.dims[i] || i === 0);
      if (!fits) {
        throw new InputShapeError(`input '${info.name}' has shape ${formatShape(t.dims)} but the model expects ${formatShape(info.shape)}`);
      }
    }
  }

  /**
   * Shapes of every node output, found by running a zero input of the declared size (in groups
   * that keep within the activation limit, for a large model on a large input).
   */
  async probeShapes(): Promise<Map<string, number[]>> {
    return (await this.probe()).shapes;
  }

  /**
   * Shapes of every tensor (inputs included) at batch 2, of the model with its batch dimension
   * made symbolic (withDynamicBatch), where the shape probe ran it there; else undefined.
   */
  async probedBatchShapes(): Promise<Map<string, number[]> | undefined> {
    return (await this.probe()).batchShapes;
  }

  /**
   * The shape probe. A model with one float32 input declared at batch 1 is probed with its batch
   * dimension made symbolic, at batch 1 and at batch 2 (probeShapeSets: the ops' shape rules,
   * which check what the kernels would refuse, with no session; where they do not cover the graph,
   * one session whose dims onnxruntime infers, and a run at batch 2): that answers supportsBatch
   * and gives the gradient builder its batch-2 shapes, where separate sessions for each cost
   * onnxruntime as much to create as the model's (resnet18: about 0.3 s of a first Grad-CAM).
   * Where the model has Reshapes to a constant shape that pin the batch at 1, they are freed
   * first (withBatchFreedReshapes) and the freed model is probed in the same way; its sessions
   * take it where it is the declared model at batch 1 (each freed Reshape's input has first
   * dimension 1 there), and it runs batches once each row of a batch of two distinct inputs is
   * found to be what that input alone gives (freedRowsIndependent, asked by supportsBatch, not
   * here). Otherwise the declared model is tried at batch 2, and where that fails too it is probed
   * at batch 1 and does not take a batch.
   */
  private probe(): Promise<ModelProbe> {
    this.probed ??= (async () => {
      const limit = this.shapeProbeLimit;
      if (limit) throw new ShapeProbeLimitError(limit);
      const inputs = this.summary().inputs;
      const feeds: Record<string, Tensor> = {};
      for (const info of inputs) {
        const dims = concreteInputDims(info.shape, this.sizeLimits, info.name);
        feeds[info.name] = { dtype: 'float32', dims, data: new Float32Array(sizeOf(dims)) };
      }
      const diskKey = this.diskCache && this.diskKey({ probe: 'shapes+batch+freed/2' });
      const cached = diskKey ? probeFrom(this.diskCache?.read(diskKey)?.meta) : undefined;
      if (cached) {
        this.batchFreed = cached.batchFreed;
        return cached;
      }
      const only = inputs.length === 1 ? feeds[inputs[0].name] : undefined;
      const batchTried = only !== undefined && inputs[0].dtype === 'float32' && only.dims[0] === 1;
      let probe: ModelProbe | undefined;
      if (only && batchTried) {
        const atTwo = { [inputs[0].name]: { dtype: 'float32' as const, dims: [2, ...only.dims.slice(1)], data: new Float32Array(2 * only.data.length) } };
        // Batch 2 (or the symbolic batch) fails: undefined.
        const atBatches = (proto: ModelProto) => probeShapeSets(withDynamicBatch(proto), [feeds, atTwo], this.activationLimit.bytes, this).catch(() => undefined);
        // A model with Reshapes that pin the batch is tried freed first: as declared, such a
        // Reshape fails at batch 2 (or would mix its rows), so that attempt would cost a session
        // for nothing.
        const freed = withBatchFreedReshapes(this.proto);
        const tried = freed && (await atBatches(freed.model));
        // At batch 1 each freed Reshape copies a first dimension of 1, as its constant said: the
        // freed model is the declared one there, shapes included.
        const same = tried && freed.inputs.every((name) => tried[0].get(name)?.[0] === 1);
        if (tried && same) probe = { shapes: tried[0], batchShapes: tried[1], batchTried, batchFreed: true };
        const plain = probe ? undefined : await atBatches(this.proto);
        if (plain) probe = { shapes: plain[0], batchShapes: plain[1], batchTried, batchFreed: false };
      }
      probe ??= { shapes: (await probeShapeSets(this.proto, [feeds], this.activationLimit.bytes, this))[0], batchTried, batchFreed: false };
      for (const name of Object.keys(feeds)) probe.shapes.delete(name);
      if (diskKey)
        this.diskCache?.write(diskKey, new Uint8Array(0), {
          shapes: [...probe.shapes],
          batchShapes: probe.batchShapes && [...probe.batchShapes],
          batchTried,
          batchFreed: probe.batchFreed,
        });
      this.batchFreed = probe.batchFreed;
      return probe;
    })();
    return this.probed;
  }

  /**
   * The model as batched runs take it: its batch dimension symbolic, and its Reshapes freed where
   * the probe found that they pinned the batch (withBatchFreedReshapes). For sessions of a model
   * that supportsBatch.
   */
  batchedProto(): ModelProto {
    return withDynamicBatch((this.batchFreed && withBatchFreedReshapes(this.proto)?.model) || this.proto);
  }

  /** What names batchedProto's variants in session keys (in memory and on disk): the freed model is another model. */
  batchVariantKey(): string {
    return this.batchFreed ? 'dynamic+freed' : 'dynamic';
  }

  /**
   * The layers a user looks at (shape computations left out), in execution order, with shapes;
   * each If/Loop/Scan is followed by the nodes of its subgraphs, named under it.
   */
  async layers(): Promise<LayerInfo[]> {
    const shapes = await this.probeShapes().catch((err) => {
      if (err instanceof ShapeProbeLimitError) return new Map<string, number[]>();
      throw err;
    });
    const { initializers } = indexGraph(this.graph);
    const dependsOnInput = (n: NodeProto) => n.input.some((i) => i && !initializers.has(i)) || subgraphs(n).length > 0;
    return topologicalOrder(this.graph)
      .filter((n) => dependsOnInput(n) && (!SHAPE_OPS.has(n.op_type) || n.input.some((i) => !initializers.has(i) && (shapes.get(i)?.length ?? 0) >= 3)))
      .flatMap((node) => [layerInfo(node, nodeLabel(node), shapes), ...subgraphLayers(node, nodeLabel(node), shapes)]);
  }

  /** Resolves once the built models this model is writing to its disk cache are written (or given up: a write never fails). */
  async writesFinished(): Promise<void> {
    // A session's upgrade adds its write when its session is made.
    for (let waited = -1; waited !== this.pendingWrites.length;) {
      waited = this.pendingWrites.length;
      await Promise.all(this.pendingWrites);
    }
  }

  async dispose(): Promise<void> {
    await this.writesFinished();
    await this.sessions.dispose();
  }
}

/** The session key of the model (as batchVariantKey, or 'original') with `sorted` tensors as extra outputs. */
function exposeKey(variant: string, sorted: string[]): string {
  return `expose:${variant}:${sorted.join(',')}`;
}

/**
 * What identifies a file's content without reading it: its path, device, inode, size, and
 * modification and status-change times in nanoseconds. Any write to the file changes its ctime,
 * which no user tool can set back, so an equal identity means the bytes are the same. Undefined
 * when the file cannot be examined.
 */
function fileIdentity(file: string): string | undefined {
  try {
    const stat = fs.statSync(file, { bigint: true });
    return [path.resolve(file), stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs].join('|');
  } catch {
    return undefined;
  }
}

/** What the shape probe found (ConvModel.probe). */
interface ModelProbe {
  /** Dims of every node output at the declared input size. */
  shapes: Map<string, number[]>;
  /** Dims of every tensor at batch 2, where the model ran there with its batch made symbolic. */
  batchShapes?: Map<string, number[]>;
  /** Whether the probe tried batch 2 (a model with one float32 input declared at batch 1). */
  batchTried: boolean;
  /**
   * Whether batch 2 runs only with the model's batch-pinning Reshapes freed (withBatchFreedReshapes),
   * which is the declared model at batch 1; whether its rows are independent is asked apart.
   */
  batchFreed: boolean;
}

/**
 * Whether each row of a batch of two distinct inputs gives the outputs that input gives alone, on
 * `proto` (a symbolic batch): what makes a model with freed Reshapes fit for batches. The inputs
 * are seeded uniform noise in [-1, 1] of `dims` (batch 1); float outputs must agree within
 * 1e-4 of each row's largest magnitude (a batched kernel may sum in another order), others exactly.
 * False when any run fails.
 */
async function batchRowsIndependent(proto: ModelProto, source: EncodedModel, name: string, dims: number[]): Promise<boolean> {
  const random = new Random(7);
  const size = sizeOf(dims);
  const rows = [0, 1].map(() => Float32Array.from({ length: size }, () => 2 * random.next() - 1));
  const both = new Float32Array(2 * size);
  rows.forEach((row, i) => both.set(row, i * row.length));
  let session: RuntimeSession | undefined;
  try {
    session = await createSession(encodeModelReusing(proto, source), 'cpu', { runOnce: true });
    const batched = await run(session, { [name]: { dtype: 'float32', dims: [2, ...dims.slice(1)], data: both } });
    for (const [i, row] of rows.entries()) {
      const alone = await run(session, { [name]: { dtype: 'float32', dims, data: row } });
      for (const [output, t] of Object.entries(alone)) {
        const b = batched[output];
        const n = t.data.length;
        if (!b || b.dims[0] !== 2 || !sameDims(b.dims.slice(1), t.dims.slice(1)) || b.data.length !== 2 * n) return false;
        const part = b.data.subarray(i * n, (i + 1) * n);
        const values = Array.from(t.data as ArrayLike<number | bigint>);
        const other = Array.from(part as ArrayLike<number | bigint>);
        if (t.dtype === 'float32' || t.dtype === 'float64') {
          const scale = values.reduce<number>((m, v) => Math.max(m, Math.abs(Number(v))), 0);
          if (!values.every((v, k) => Math.abs(Number(v) - Number(other[k])) <= 1e-4 * scale)) return false;
        } else if (!values.every((v, k) => v === other[k])) return false;
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    await session?.session.release();
  }
}

/** A probe read back from the disk cache; undefined when anything in it is not as written. */
function probeFrom(meta: unknown): ModelProbe | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  const m = meta as { shapes?: unknown; batchShapes?: unknown; batchTried?: unknown; batchFreed?: unknown };
  const shapes = shapesFrom(m.shapes);
  const batchShapes = m.batchShapes === undefined ? undefined : shapesFrom(m.batchShapes);
  if (!shapes || (m.batchShapes !== undefined && !batchShapes) || typeof m.batchTried !== 'boolean' || typeof m.batchFreed !== 'boolean') return undefined;
  return { shapes, batchShapes, batchTried: m.batchTried, batchFreed: m.batchFreed };
}

/** Probed shapes as the disk cache holds them ([name, dims] pairs), or undefined when they are anything else. */
function shapesFrom(meta: unknown): Map<string, number[]> | undefined {
  if (!Array.isArray(meta)) return undefined;
  const valid = meta.every(
    (e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && Array.isArray(e[1]) && e[1].every((d: unknown) => typeof d === 'number' && isValidDim(d)),
  );
  return valid ? new Map(meta as [string, number[]][]) : undefined;
}

function layerInfo(node: NodeProto, name: string, shapes: Map<string, number[]>, parent?: string): LayerInfo {
  return {
    name,
    opType: node.op_type,
    outputs: node.output.filter(Boolean).map((o) => ({ name: o, shape: shapes.get(o), ...(parent ? { probeable: false as const } : {}) })),
    ...(parent ? { parent } : {}),
    scope: moduleScope(node.name),
    sourceTrace: sourceTrace(node),
  };
}

/** The feature nodes inside a node's subgraphs (any depth), named '<parent>/<attribute>/<node>' (one slash between). */
function subgraphLayers(node: NodeProto, parent: string, shapes: Map<string, number[]>): LayerInfo[] {
  return subgraphs(node).flatMap(({ attribute, graph }) =>
    topologicalOrder(graph)
      .filter((inner) => !SHAPE_OPS.has(inner.op_type) && inner.op_type !== 'Identity')
      .flatMap((inner) => {
        const label = nodeLabel(inner);
        const name = `${parent}/${attribute}${label.startsWith('/') ? '' : '/'}${label}`;
        return [layerInfo(inner, name, shapes, parent), ...subgraphLayers(inner, name, shapes)];
      }),
  );
}

export class InputShapeError extends Error {}

/**
 * Declared input dims with symbolic ones replaced: batch 1, spatial 224 (ImageNet-style). A model
 * file is untrusted: a negative or unrepresentable dim, or more values than the size limits allow,
 * is refused before a tensor of that size is made.
 */
export function concreteInputDims(shape: (number | string)[], limits: SizeLimits = {}, inputName?: string): number[] {
  const input = inputName ? `the model input '${inputName}'` : `the model input ${formatShape(shape)}`;
  const bad = shape.find((d): d is number => typeof d === 'number' && !isValidDim(d));
  if (bad !== undefined) {
    throw new InputShapeError(
      `${input} declares dimension ${Math.abs(bad) < 1e15 ? bad : bad.toPrecision(3)}, which is not a size (a whole number from 0 to 2^53); the model file is corrupt`,
    );
  }
  const dims = shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : shape.length === 4 && i === 1 ? 3 : 224));
  checkValues(`${input} declares`, dims, limits);
  return dims;
}
