// Dataset-level explanations on the command line: features and predictions of a folder of
// images, distilled decision rules, a 2-D feature map, nearest neighbours. Features are cached in
// .convlens-cache/ (reused while the model and images are unchanged, resumable after a cancel).
import * as path from 'path';
import { ModelContext } from '../../core/context';
import {
  DatasetFeatures,
  FeatureOptions,
  channelExemplars,
  distillRules,
  embedDataset,
  extractFeatures,
  markResponse,
  MARK_EFFECT,
  markChannels,
  neighborsOf,
  readMarkBoxes,
  rulesToJson,
  rulesToText,
  summarizeDataset,
  type Shard,
} from '../../core/dataset';
import { layerTensor } from '../../core/explain/layer';
import { intOption, parse } from '../args';
import { MODEL_OPTIONS, withModel } from '../common';
import { fixed, printJson, printTable, writeFile } from '../output';
import { SHARD_OPTIONS, datasetMerge, mergeUsage, shardDoneMessage, shardOption } from './shard';

const DATASET_OPTIONS = { ...MODEL_OPTIONS, ...SHARD_OPTIONS, layer: { type: 'string' }, cache: { type: 'string' }, batch: { type: 'string' } } as const;

function cacheDirOf(values: Record<string, string | boolean | undefined>): string {
  return path.resolve(typeof values.cache === 'string' ? values.cache : '.convlens-cache');
}

/**
 * The folder's features; with a shard (--shard or the scheduler's variables), only that shard's,
 * written to the cache and reported, and undefined: results over the dataset wait for the merge.
 */
async function features(ctx: ModelContext, folder: string, values: Record<string, string | boolean | undefined>, layer?: string): Promise<DatasetFeatures | undefined> {
  const shard = shardOption(values);
  const f = await allFeatures(ctx, folder, values, layer, shard);
  if (!shard) return f;
  console.log(shardDoneMessage(shard, f.images.length, f.stats.computed, cacheDirOf(values)));
  skippedNote(f);
  return undefined;
}

async function allFeatures(
  ctx: ModelContext,
  folder: string,
  values: Record<string, string | boolean | undefined>,
  layer: string | undefined,
  shard?: Shard,
): Promise<DatasetFeatures> {
  const options: FeatureOptions = {
    // 'auto' and node names resolve as in `explain --layer`.
    layer: layer === undefined ? undefined : await layerTensor(ctx.model, layer),
    shard,
    cacheDir: cacheDirOf(values),
    batchSize: values.batch !== undefined ? intOption(values.batch, 'batch', 32) : undefined,
    classNames: ctx.labels,
    progress: process.stderr.isTTY ? (f, m) => process.stderr.write(`\r${(f * 100).toFixed(0).padStart(3)}% ${m}`.padEnd(70).slice(0, 70) + (f >= 1 ? '\n' : '')) : undefined,
  };
  return extractFeatures(ctx.model, folder, options);
}

function skippedNote(f: DatasetFeatures): void {
  if (f.skipped.length > 0) console.log(`${f.skipped.length} files skipped (e.g. ${f.skipped[0].relPath}: ${f.skipped[0].reason})`);
}

export const datasetUsage = `convlens dataset MODEL FOLDER --layer TENSOR|auto [--json] [--cache DIR] [--shard I/N | --shard-count N]\n       ${mergeUsage}`;

export async function dataset(argv: string[]): Promise<void> {
  if (argv[0] === 'merge') return datasetMerge(argv.slice(1));
  const { positionals, values } = parse(argv, DATASET_OPTIONS, ['MODEL', 'FOLDER']);
  if (typeof values.layer !== 'string') throw new Error('--layer TENSOR is required (see `convlens inspect MODEL`)');
  const layer = values.layer;
  await withModel(positionals[0], values, async (ctx) => {
    const shard = shardOption(values);
    const f = await allFeatures(ctx, positionals[1], values, layer, shard);
    const s = summarizeDataset(f);
    if (shard) {
      if (values.json) printJson({ shard, cacheDir: cacheDirOf(values), images: s.images, cache: s.cache, skipped: f.skipped });
      else console.log(shardDoneMessage(shard, s.images, s.cache.computed, cacheDirOf(values)));
      return;
    }
    if (values.json) {
      printJson({ ...s, layerShape: f.layerShape, skipped: f.skipped });
      return;
    }
    console.log(`${s.images} images in ${s.classNames.length} classes; features of ${s.layer} ${JSON.stringify(f.layerShape)} and ${s.penultimate}`);
    console.log(`cache: ${s.cache.computed} computed, ${s.cache.cached} reused`);
    if (s.accuracy !== undefined) console.log(`network accuracy against folder labels: ${(s.accuracy * 100).toFixed(1)}%`);
    printTable([['', ...s.classNames.map((c) => `→${c}`)], ...s.classNames.map((c, i) => [c, ...s.confusion[i]])]);
    for (const m of s.misclassified.slice(0, 5)) console.log(`  misclassified: ${JSON.stringify(m)}`);
    skippedNote(f);
  });
}

export const rulesUsage =
  'convlens rules MODEL FOLDER --layer TENSOR|auto [--depth D] [--min-leaf N] [--pooling mean|max] [--marks boxes.json] [--out FILE.json|FILE.txt] [--json] [--shard I/N]';

export async function rules(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    {
      ...DATASET_OPTIONS,
      depth: { type: 'string' },
      'min-leaf': { type: 'string' },
      pooling: { type: 'string' },
      marks: { type: 'string' },
      out: { type: 'string' },
    },
    ['MODEL', 'FOLDER'],
  );
  if (typeof values.layer !== 'string') throw new Error('--layer TENSOR is required (see `convlens inspect MODEL`)');
  const layer = values.layer;
  const pooling = (values.pooling ?? 'mean') as 'mean' | 'max';
  if (pooling !== 'mean' && pooling !== 'max') throw new Error("--pooling takes 'mean' or 'max'");
  await withModel(positionals[0], values, async (ctx) => {
    const f = await features(ctx, positionals[1], values, layer);
    if (!f) return;
    const set = distillRules(f, { depth: intOption(values.depth, 'depth', 3), minLeaf: intOption(values['min-leaf'], 'min-leaf', 5), pooling });
    const exemplars = await channelExemplars(ctx.model, f, set.channels, 6);
    const marks = typeof values.marks === 'string' ? await markResponse(ctx.model, f, readMarkBoxes(values.marks), { pooling }) : undefined;
    const json = {
      ...(JSON.parse(rulesToJson(set)) as object),
      exemplars: exemplars.map((e) => ({ channel: e.channel, patches: e.patches, fieldProblem: e.fieldProblem })),
      marks,
    };
    const text = rulesToText(set);
    const written =
      typeof values.out === 'string' ? writeFile(values.out, new TextEncoder().encode(values.out.endsWith('.txt') ? text : JSON.stringify(json, null, 2))) : undefined;
    if (values.json) {
      printJson(json);
      return;
    }
    console.log(text);
    for (const e of exemplars)
      console.log(
        `  channel ${e.channel} fires most on: ${e.patches
          .slice(0, 4)
          .map((p) => `${p.relPath} (${fixed(p.activation, 2)} at x ${p.box[0]}–${p.box[2]}, y ${p.box[1]}–${p.box[3]})`)
          .join(', ')}`,
      );
    if (marks) {
      // Mark channels as the panel's mark check counts them: a drop of at least MARK_EFFECT σ without the mark.
      const markSet = markChannels(marks);
      const used = set.channels.filter((c) => markSet.includes(c));
      const top = marks.channels.slice(0, 5).map((c) => `${c.channel} (${fixed(c.effect, 2)} σ)`);
      console.log(
        `planted mark: ${marks.predictionChanges.length} of ${marks.images} marked images change prediction without it; channels whose ${pooling} drops most without it: ${top.join(', ')}`,
      );
      console.log(
        used.length
          ? `the rules test mark channel${used.length > 1 ? 's' : ''} ${used.join(', ')} (≥ ${MARK_EFFECT} σ): the network relies on the mark`
          : `the rules test none of the mark channels (≥ ${MARK_EFFECT} σ: ${markSet.join(', ') || 'none'})`,
      );
    }
    if (written) console.log(`rules written to ${written}`);
    skippedNote(f);
  });
}

export const embedUsage = 'convlens embed MODEL FOLDER [--method pca|umap] --out FILE.json [--seed S]';

export async function embed(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { ...DATASET_OPTIONS, method: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } }, ['MODEL', 'FOLDER']);
  const method = (values.method ?? 'pca') as 'pca' | 'umap';
  if (method !== 'pca' && method !== 'umap') throw new Error("--method takes 'pca' or 'umap'");
  if (typeof values.out !== 'string') throw new Error('--out FILE.json is required');
  const out = values.out;
  await withModel(positionals[0], values, async (ctx) => {
    const f = await features(ctx, positionals[1], values);
    if (!f) return;
    const e = await embedDataset(f, { method, seed: intOption(values.seed, 'seed', 42) });
    const file = writeFile(out, new TextEncoder().encode(JSON.stringify(e, null, 2)));
    console.log(`${e.points.length} images embedded by ${method} of ${e.space}; ${e.misclassified} misclassified → ${file}`);
    if (e.note) console.log(`  · ${e.note}`);
  });
}

export const neighborsUsage = 'convlens neighbors MODEL FOLDER INPUT [--k K] [--metric cosine|euclidean] [--json]';

export async function neighbors(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { ...DATASET_OPTIONS, k: { type: 'string' }, metric: { type: 'string' } }, ['MODEL', 'FOLDER', 'INPUT']);
  const metric = (values.metric ?? 'cosine') as 'cosine' | 'euclidean';
  await withModel(positionals[0], values, async (ctx) => {
    const f = await features(ctx, positionals[1], values);
    if (!f) return;
    const result = await neighborsOf(ctx.model, f, ctx.loadInput(positionals[2]).tensor, { k: intOption(values.k, 'k', 5), metric });
    if (values.json) {
      printJson(result);
      return;
    }
    console.log(`${positionals[2]} is seen as ${result.query.predictionName}; nearest in ${result.space}:`);
    printTable(result.neighbors.map((n) => [n.relPath, n.labelName ?? '', `predicted ${n.predictionName}`, `distance ${fixed(n.distance, 4)}`]));
  });
}
