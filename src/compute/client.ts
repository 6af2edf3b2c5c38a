// Runs jobs in a child process so the caller (the extension host) never blocks and survives a
// native crash: a segfault in onnxruntime on a hostile model kills only the child. Progress comes
// back as events, cancellation is a message, and a child that dies fails its pending jobs with a
// WorkerCrashedError naming its exit code or signal; the next call starts a fresh one. A job that
// does not stop within a grace period of being cancelled (stuck in one native call, which cannot
// be interrupted) has its child killed, so a cancel always ends the work.
// Messages use Node's 'advanced' serialization (structured clone), so typed arrays and
// Uint8Array results (exported PNG/.npy bytes) cross unchanged.
import { ChildProcess, fork } from 'child_process';
import { FromWorker, JobArgs, JobName, JobResult, ToWorker } from './jobs';
import { CancelledError } from '../core/cancel';
import { withHugePages } from '../core/onnx/huge-pages';

export interface CallOptions {
  onProgress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: CallOptions['onProgress'];
}

export class WorkerCrashedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerCrashedError';
  }
}

export interface ClientOptions {
  /** How long a cancelled job may take to stop before its worker is killed; default 10 s. */
  cancelGraceMs?: number;
}

/** How long an idle worker let go by dispose() may take to exit (it finishes its disk-cache writes, worker.ts) before it is killed. */
const EXIT_GRACE_MS = 5000;

export class ComputeClient {
  private worker?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Why the current worker was killed on purpose, for the calls it fails. */
  private killedBecause?: string;
  private readonly exitListeners = new Set<(reason: string) => void>();
  private readonly cancelGraceMs: number;

  constructor(
    private readonly workerScript: string,
    options: ClientOptions = {},
  ) {
    this.cancelGraceMs = options.cancelGraceMs ?? 10_000;
  }

  call<J extends JobName>(job: J, args: JobArgs<J>, options: CallOptions = {}): Promise<JobResult<J>> {
    if (options.signal?.aborted) return Promise.reject(new CancelledError());
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<JobResult<J>>((resolve, reject) => {
      let grace: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        this.post(worker, { kind: 'cancel', id });
        grace = setTimeout(() => {
          if (this.pending.has(id)) this.kill(worker, `a cancelled ${job} job did not stop within ${this.cancelGraceMs / 1000} s, so the compute worker was stopped`);
        }, this.cancelGraceMs);
      };
      const settle = () => {
        options.signal?.removeEventListener('abort', onAbort);
        clearTimeout(grace);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          settle();
          resolve(v as JobResult<J>);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
        onProgress: options.onProgress,
      });
      this.holdOpen(worker);
      this.post(worker, { kind: 'call', id, job, args });
    });
  }

  /**
   * Calls `listener` when a worker ends other than by dispose() or stopIfIdle(): a crash (also
   * while idle, e.g. killed for memory) or a kill after a cancel. Its state (open models) is gone.
   * Returns a function that removes the listener.
   */
  onUnexpectedExit(listener: (reason: string) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Number of jobs still running: tests use it to check nothing leaks after cancellation. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** The child's process id, while one runs (tests use it to check a crash was contained). */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  /** Stops the child when no job is running (freeing its memory); the next call starts a fresh one. Resolves to whether it stopped. */
  async stopIfIdle(): Promise<boolean> {
    if (!this.worker || this.pending.size > 0) return false;
    await this.dispose();
    return true;
  }

  /** Kills a worker that will not stop by itself; its calls fail with `reason`. */
  private kill(worker: ChildProcess, reason: string): void {
    if (this.worker !== worker) return;
    this.killedBecause = reason;
    worker.kill('SIGKILL');
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    const idle = this.pending.size === 0;
    this.worker = undefined;
    this.failAll(new CancelledError('the compute worker was stopped'));
    if (!worker || worker.exitCode !== null || worker.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // An idle worker is unref'd: held again, so a caller awaiting dispose() sees it end rather
    // than its process exiting in between with the rest of its work undone.
    worker.ref();
    if (idle && worker.connected) {
      // Let go by closing its channel: it finishes writing what it built to the disk cache and
      // exits (worker.ts); one that has not within the grace period is killed.
      const grace = setTimeout(() => worker.kill('SIGKILL'), EXIT_GRACE_MS);
      worker.disconnect();
      await exited;
      clearTimeout(grace);
    } else {
      worker.kill();
      await exited;
    }
  }

  private post(worker: ChildProcess, message: ToWorker): void {
    if (!worker.connected) return; // it died: its 'exit' handler fails the pending jobs
    try {
      worker.send(message);
    } catch (err) {
      // Arguments that cannot be cloned fail only their own call.
      if (message.kind !== 'call') return;
      const p = this.pending.get(message.id);
      this.pending.delete(message.id);
      p?.reject(new Error(`cannot send the ${message.job} request to the compute worker: ${(err as Error).message}`));
    }
  }

  private ensureWorker(): ChildProcess {
    if (this.worker) return this.worker;
    // execArgv [] so a debugger flag of the host (--inspect=port) is not inherited; huge pages for
    // the sessions' weights (core/onnx/huge-pages.ts).
    const worker = fork(this.workerScript, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], env: withHugePages(process.env) });
    worker.on('message', (m: FromWorker) => this.onMessage(worker, m));
    worker.on('error', (err) => this.onExit(worker, `the compute worker failed: ${err.message}`));
    worker.on('exit', (code, signal) => {
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      this.onExit(worker, `the compute worker stopped unexpectedly (${how})`);
    });
    this.worker = worker;
    this.letGo(worker);
    return worker;
  }

  /** While jobs run, the child keeps the host's event loop alive so their results arrive. */
  private holdOpen(worker: ChildProcess): void {
    worker.ref();
    (worker.channel as { ref?(): void } | undefined)?.ref?.();
  }

  /** An idle child never keeps the host alive. */
  private letGo(worker: ChildProcess): void {
    worker.unref();
    (worker.channel as { unref?(): void } | undefined)?.unref?.();
  }

  private onMessage(worker: ChildProcess, m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') {
      p.onProgress?.(m.fraction, m.message);
      return;
    }
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.letGo(worker);
    if (m.kind === 'result') p.resolve(m.result);
    else p.reject(m.name === 'CancelledError' ? new CancelledError(m.message) : Object.assign(new Error(m.message), { name: m.name }));
  }

  private onExit(worker: ChildProcess, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const why = this.killedBecause ?? reason;
    this.killedBecause = undefined;
    this.failAll(new WorkerCrashedError(`${why}; it will be restarted for the next request`));
    for (const listener of this.exitListeners) listener(why);
  }

  private failAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }
}
