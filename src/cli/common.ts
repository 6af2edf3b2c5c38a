// What most commands share: opening a model with its preprocessing and loading an input.
import type { ActivationLimitOptions } from '../core/activation-memory';
import { defaultModelCacheDir } from '../core/autodiff/cache';
import { ModelContext } from '../core/context';
import type { DecodeOptions } from '../core/image/decode';
import { ResolvedTarget, Target } from '../core/explain';
import { TARGET_SYNTAX, parseTarget as parseTargetText, readMaskFile } from '../core/explain/target';
import { numberOption } from './args';

export const MODEL_OPTIONS = {
  json: { type: 'boolean' },
  provider: { type: 'string' },
  threads: { type: 'string' },
  'max-megapixels': { type: 'string' },
  'max-activation-mb': { type: 'string' },
  'no-cache': { type: 'boolean' },
} as const;

/**
 * The model opened as the flags say. Built sessions (gradient models, sub-models, probed shapes)
 * are kept in the model cache folder the compute worker uses (autodiff/cache.ts: validated
 * entries, $CONVLENS_CACHE_DIR moves it, 'off' turns it off), so a second run does not build
 * them again; --no-cache neither reads nor writes it.
 */
export function openModel(modelPath: string, values: Record<string, string | boolean | undefined>): ModelContext {
  return ModelContext.open(modelPath, {
    provider: providerOption(values.provider),
    threads: threadsOption(values.threads),
    activationMemory: activationMemoryOption(values['max-activation-mb']),
    decode: megapixelsOption(values['max-megapixels']),
    cacheDir: values['no-cache'] === true ? undefined : defaultModelCacheDir(),
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

/** --threads N: threads per onnxruntime op; 0 (the default) means every core. */
export function threadsOption(value: string | boolean | undefined): number {
  if (value === undefined) return 0;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 0 || threads > 1024) throw new Error(`--threads takes a whole number of threads from 0 (every core) to 1024, got '${value}'`);
  return threads;
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

/** The flags that say what to explain: --target (every kind), --versus, --output and the detection thresholds. */
export const TARGET_OPTIONS = {
  target: { type: 'string' },
  versus: { type: 'string' },
  output: { type: 'string' },
  boxes: { type: 'string' },
  iou: { type: 'string' },
  'min-score': { type: 'string' },
  sigmoid: { type: 'boolean' },
} as const;

export const TARGET_USAGE = `[--target ${TARGET_SYNTAX}] [--versus CLASS] [--output NAME] [--boxes OUTPUT] [--iou X] [--min-score X] [--sigmoid]`;

/** The target the flags name; mask files and reference images are read here, reference embeddings computed with the model. */
export async function targetOf(ctx: ModelContext, values: Record<string, string | boolean | undefined>): Promise<Target> {
  const output = typeof values.output === 'string' ? values.output : undefined;
  const target = await parseTargetText(
    typeof values.target === 'string' ? values.target : undefined,
    {
      mask: (file) => readMaskFile(file, ctx.limits),
      embedding: async (file, name) => {
        const reference = ctx.loadInput(file).tensor;
        const outputs = await ctx.model.run({ [ctx.model.input.name]: reference });
        return Float32Array.from(outputs[name ?? ctx.model.summary().outputs[0].name].data as Float32Array);
      },
    },
    { versus: typeof values.versus === 'string' ? values.versus : undefined, output },
  );
  const detectionFlags = (['boxes', 'iou', 'min-score', 'sigmoid'] as const).filter((flag) => values[flag] !== undefined);
  if (target.kind !== 'box') {
    if (detectionFlags.length > 0) throw new Error(`--${detectionFlags[0]} applies to box targets (--target box:I)`);
    return target;
  }
  const boxes = typeof values.boxes === 'string' ? values.boxes : undefined;
  return { ...target, detection: { boxes, iou: numberOption(values.iou, 'iou'), minScore: numberOption(values['min-score'], 'min-score'), sigmoid: values.sigmoid === true } };
}

/** A resolved target for --json: masks as their size and weight, not their values. */
export function targetJson(target: ResolvedTarget): Record<string, unknown> {
  if (target.kind === 'region') return { ...target, mask: { dims: target.mask.dims, weight: (target.mask.data as Float32Array).reduce((s, v) => s + v, 0) } };
  if (target.kind === 'similarity') return { ...target, reference: { length: target.reference.length } };
  return { ...target };
}
