// What most commands share: opening a model with its preprocessing and loading an input.
import type { ActivationLimitOptions } from '../core/activationMemory';
import { ModelContext } from '../core/context';
import type { DecodeOptions } from '../core/image/decode';

export const MODEL_OPTIONS = {
  json: { type: 'boolean' },
  provider: { type: 'string' },
  'max-megapixels': { type: 'string' },
  'max-activation-mb': { type: 'string' },
} as const;

export function openModel(modelPath: string, values: Record<string, string | boolean | undefined>): ModelContext {
  return ModelContext.open(modelPath, {
    provider: providerOption(values.provider),
    activationMemory: activationMemoryOption(values['max-activation-mb']),
    decode: megapixelsOption(values['max-megapixels']),
  });
}

/** --max-megapixels N: the limit on image sizes and every size from outside (default 50). */
export function megapixelsOption(value: string | boolean | undefined): DecodeOptions {
  const limitHint = 'raise it with --max-megapixels';
  if (value === undefined) return { limitHint };
  const megapixels = Number(value);
  if (!(megapixels > 0) || !Number.isFinite(megapixels)) throw new Error(`--max-megapixels takes a positive number of megapixels, got '${value}'`);
  return { maxPixels: Math.max(1, Math.round(megapixels * 1e6)), limitHint };
}

/** --provider auto|cuda|cpu: where the model runs (default auto). */
export function providerOption(value: string | boolean | undefined): 'auto' | 'cuda' | 'cpu' {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'cuda' || value === 'cpu') return value;
  throw new Error(`--provider takes auto, cuda or cpu, got '${value}'`);
}

/** --max-activation-mb N: the limit on layer activations held at once (default 1024 MiB). */
export function activationMemoryOption(value: string | boolean | undefined): ActivationLimitOptions {
  const limitHint = 'raise it with --max-activation-mb';
  if (value === undefined) return { limitHint };
  const megabytes = Number(value);
  if (!(megabytes > 0)) throw new Error(`--max-activation-mb takes a positive number of megabytes, got '${value}'`);
  return { maxMegabytes: megabytes, limitHint };
}

export async function withModel<T>(modelPath: string, values: Record<string, string | boolean | undefined>, body: (ctx: ModelContext) => Promise<T>): Promise<T> {
  const ctx = openModel(modelPath, values);
  try {
    return await body(ctx);
  } finally {
    await ctx.dispose();
  }
}

/** 'top' or a class index within the model's output. */
export function parseTarget(value: string | boolean | undefined): number | 'top' {
  if (value === undefined || value === 'top') return 'top';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--target takes a class index or 'top', got '${value}'`);
  return n;
}
