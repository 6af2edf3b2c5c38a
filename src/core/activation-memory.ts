// The limit on activations copied out of onnxruntime into the process's memory: a layer's output
// or its gradient, shown, pooled or attributed. One huge layer (a full-resolution feature map of a
// large image, a large batch) could exhaust the worker, so a run that exposes layers is refused
// before it starts when their estimated size is over the limit, with a message naming the limit and
// how to raise it; work over many inputs shrinks its batches to fit instead.
import { sizeOf } from './tensor';

export const DEFAULT_ACTIVATION_LIMIT_MB = 1024;
const BYTES_PER_ELEMENT = 4; // CNN activations are float32

export interface ActivationLimitOptions {
  /** Most megabytes (MiB) of activations held at once; default 1024. */
  maxMegabytes?: number;
  /** How the user raises the limit, e.g. "raise it with --max-activation-mb". */
  limitHint?: string;
}

export class ActivationMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActivationMemoryError';
  }
}

export class ActivationLimit {
  readonly bytes: number;
  private readonly hint: string;

  constructor(readonly options: ActivationLimitOptions = {}) {
    const megabytes = options.maxMegabytes ?? DEFAULT_ACTIVATION_LIMIT_MB;
    if (!(megabytes > 0)) throw new RangeError(`the activation memory limit must be a positive number of megabytes, got ${megabytes}`);
    this.bytes = megabytes * 2 ** 20;
    this.hint = options.limitHint ?? 'raise the activation memory limit to allow it';
  }

  /** Throws ActivationMemoryError when `bytes` of activations (described by `what`) are over the limit. */
  check(what: string, bytes: number): void {
    if (bytes <= this.bytes) return;
    throw new ActivationMemoryError(`${what} need about ${formatBytes(bytes)} of memory, over the limit of ${formatBytes(this.bytes)}; ${this.hint}`);
  }

  /** How many items of `bytesPerItem` each fit within the limit (0 when not even one does). */
  itemsThatFit(bytesPerItem: number): number {
    return bytesPerItem > 0 ? Math.floor(this.bytes / bytesPerItem) : Infinity;
  }
}

/** Bytes of a float32 tensor of these dims. */
export function activationBytes(dims: readonly number[]): number {
  return sizeOf(dims) * BYTES_PER_ELEMENT;
}

export function formatBytes(bytes: number): string {
  const mb = bytes / 2 ** 20;
  if (mb >= 1024) return `${(mb / 1024).toFixed(1)} GiB`;
  if (mb >= 1) return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}
