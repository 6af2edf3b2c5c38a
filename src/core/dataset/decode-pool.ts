// Image decoding in worker threads for dataset work: onnxruntime runs a session synchronously on
// the main thread, so images decoded there wait for every forward pass and the other way round.
// A pool of threads (decode-worker.ts) reads, decodes and preprocesses the next batch's images
// while the current batch runs; the tensors are computed by the same functions, so they are the
// same bit for bit. Where the worker file is not there (a bundle built without it), or a thread
// cannot start, images are decoded on the calling thread as before.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { DecodeOptions } from '../image/decode';
import type { SizeLimits } from '../limits';
import type { LoadedInput } from '../preprocess/input';
import type { PreprocessSpec } from '../preprocess/spec';
import type { FloatTensor } from '../tensor';

/** 'tensor': an image file, readImageFile then preprocessImage; 'input': any input file, as preprocess/input.ts loadInput. */
export type DecodeRequest =
  | { id: number; kind: 'tensor'; file: string; spec: PreprocessSpec; limits: SizeLimits }
  | { id: number; kind: 'input'; file: string; spec: PreprocessSpec | undefined; expectedShape: (number | string)[]; limits: DecodeOptions };

export type DecodeReply = { id: number; input: LoadedInput } | { id: number; error: string };

/** The pool itself failed (a thread died, or the pool was closed): the image was not decoded, and can be on the calling thread. */
export class DecodePoolError extends Error {}

const WORKER_FILE = path.join(__dirname, 'decode-worker.js');

/** Threads for a pool: one per core beyond the one onnxruntime's caller runs on, at least one, at most 4. */
export function decodeThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (input: LoadedInput) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private isClosed = false;
  private broken?: DecodePoolError;
  private turn = 0;
  private holdsProcessWhenIdle = true;

  private constructor(threads: number) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(WORKER_FILE);
      worker.on('message', (reply: DecodeReply) => this.settle(reply));
      // A thread that fails or stops takes the pool with it: what it held, and every later
      // request, is decoded on the calling thread instead.
      worker.on('error', (err) => this.fail(new DecodePoolError(`a decoding thread failed: ${err.message}`)));
      worker.on('exit', () => this.fail(new DecodePoolError('a decoding thread stopped')));
      this.workers.push(worker);
    }
  }

  /** A pool of `threads` decoding threads, or undefined where the worker file is not there. */
  static start(threads = decodeThreads()): DecodePool | undefined {
    if (!fs.existsSync(WORKER_FILE)) return undefined;
    try {
      return new DecodePool(threads);
    } catch {
      return undefined;
    }
  }

  /**
   * A pool kept from call to call (the gallery's reader, warm from page to page): `kept` itself
   * while its threads work; where one of them failed or stopped, or it was closed, a fresh pool of
   * `threads`, so that later calls are not all decoded on the calling thread. Idle, it lets the
   * process end (unrefWhenIdle).
   */
  static keep(kept: DecodePool | undefined, threads: number): DecodePool | undefined {
    if (kept && !kept.broken && !kept.isClosed) return kept;
    // A failed pool is not closed: a call still using it goes on decoding on its own thread. Only
    // its threads that still run are stopped.
    if (kept?.broken) for (const worker of kept.workers) void worker.terminate();
    return DecodePool.start(threads)?.unrefWhenIdle();
  }

  /**
   * The preprocessed input [1, C, H, W] of an image file, decoded in a thread; rejects with the
   * decoder's message where the image cannot be read, with DecodePoolError where the pool failed.
   */
  async decode(file: string, spec: PreprocessSpec, limits: SizeLimits): Promise<FloatTensor> {
    return (await this.request({ id: this.nextId++, kind: 'tensor', file, spec, limits })).tensor;
  }

  /** preprocess/input.ts loadInput(file, spec, expectedShape, limits) in a thread (rejections as decode's). */
  loadInput(file: string, spec: PreprocessSpec | undefined, expectedShape: (number | string)[], limits: DecodeOptions): Promise<LoadedInput> {
    return this.request({ id: this.nextId++, kind: 'input', file, spec, expectedShape, limits });
  }

  private request(request: DecodeRequest): Promise<LoadedInput> {
    if (this.isClosed) return Promise.reject(new DecodePoolError('the decode pool was closed'));
    if (this.broken) return Promise.reject(this.broken);
    const worker = this.workers[this.turn++ % this.workers.length];
    if (!this.holdsProcessWhenIdle) for (const w of this.workers) w.ref();
    return new Promise<LoadedInput>((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      worker.postMessage(request);
    });
  }

  private settle(reply: DecodeReply): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    if (!this.holdsProcessWhenIdle && this.pending.size === 0) for (const worker of this.workers) worker.unref();
    if ('error' in reply) entry.reject(new Error(reply.error));
    else entry.resolve(reply.input);
  }

  private fail(err: DecodePoolError): void {
    this.broken ??= err;
    this.failAll(err);
  }

  private failAll(err: DecodePoolError): void {
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }

  /**
   * Lets the process exit while the pool has no request pending, for a pool kept as long as the
   * process (a pending request still holds the process, or its caller would never get the answer).
   */
  unrefWhenIdle(): this {
    this.holdsProcessWhenIdle = false;
    if (this.pending.size === 0) for (const worker of this.workers) worker.unref();
    return this;
  }

  /** Whether dispose() was called: a DecodePoolError then says the work is no longer wanted. */
  get closed(): boolean {
    return this.isClosed;
  }

  async dispose(): Promise<void> {
    this.isClosed = true;
    this.failAll(new DecodePoolError('the decode pool was closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
