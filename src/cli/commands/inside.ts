// Looking inside the network from the command line: receptive fields, filter visualisation,
// attention maps and the model-randomisation sanity check of an explanation.
import * as fs from 'fs';
import * as path from 'path';
import { colorize } from '../../core/image/colormap';
import { encodePng } from '../../core/image/overlay';
import { visualizeFeature, channelGallery, Objective } from '../../core/inside/activation-maximization';
import { attentionLayers, attentionMaps, attentionRollout, HeadFusion, noAttentionReason, queryMap, tokenGrid } from '../../core/inside/attention';
import { firstLayerKernels, kernelMontage } from '../../core/inside/kernels';
import { effectiveReceptiveField, receptiveFieldOf, receptiveFields } from '../../core/inside/receptive-field';
import { cascadingRandomization, explanationMaps } from '../../core/inside/sanity-check';
import { minMax } from '../../core/explain/postprocess';
import { FloatTensor, Tensor } from '../../core/tensor';
import { intOption, listOption, numberOption, parse } from '../args';
import { MODEL_OPTIONS, parseTarget, withModel } from '../common';
import { fixed, printJson, printTable, terminalText, writeFile } from '../output';

/** A [3, H, W] (or [1, H, W]) image in [0, 1] as PNG bytes. */
function chwToPng(t: FloatTensor): Uint8Array {
  const [c, h, w] = t.dims;
  const rgba = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = Math.round(255 * Math.min(1, Math.max(0, t.data[(c === 3 ? k : 0) * h * w + p])));
    rgba[p * 4 + 3] = 255;
  }
  return encodePng(rgba, w, h);
}

function mapToPng(map: Tensor): Uint8Array {
  const [h, w] = map.dims.slice(-2);
  return encodePng(colorize(minMax(Float32Array.from(map.data as Float32Array)), w, h, 'viridis'), w, h);
}

function outDir(value: string | boolean | undefined, fallback: string): string {
  const dir = path.resolve(typeof value === 'string' ? value : fallback);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export const receptiveFieldUsage = 'convlens receptive-field MODEL [--layer TENSOR] [--effective] [--samples N] [--out MAP.png] [--json]';

export async function receptiveField(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    { ...MODEL_OPTIONS, layer: { type: 'string' }, effective: { type: 'boolean' }, samples: { type: 'string' }, out: { type: 'string' } },
    ['MODEL'],
  );
  await withModel(positionals[0], values, async (ctx) => {
    const report = await receptiveFields(ctx.model);
    const layer = typeof values.layer === 'string' ? values.layer : undefined;
    const fields = layer ? [receptiveFieldOf(report, layer)] : report.fields;
    if (values.effective && !layer) throw new Error('--effective needs --layer TENSOR');
    const effective = values.effective && layer ? await effectiveReceptiveField(ctx.model, layer, { samples: intOption(values.samples, 'samples', 4) }) : undefined;
    const written = effective && typeof values.out === 'string' ? writeFile(values.out, mapToPng(effective.map)) : undefined;
    if (values.json) {
      printJson({ inputSize: report.inputSize, fields, unresolved: report.unresolved, effective: effective && { ...effective, map: undefined, file: written } });
      return;
    }
    console.log(`receptive fields in input pixels (input ${report.inputSize.join('×')})`);
    printTable([
      ['tensor', 'op', 'size', 'jump', 'start'],
      ...fields.map((f) => [f.tensor, f.opType, f.global ? 'whole input' : f.size.join('×'), f.jump.join('×'), f.start.join(', ')]),
    ]);
    if (!layer && report.unresolved.length) console.log(`${report.unresolved.length} tensors not described (e.g. ${report.unresolved[0].opType}: ${report.unresolved[0].reason})`);
    if (effective)
      console.log(
        `effective receptive field of ${terminalText(layer ?? '')} at unit ${effective.unit.join(',')}: ${effective.area} pixels hold ${effective.massFraction * 100}% of the gradient (side ≈ ${fixed(effective.side, 1)})${written ? ` → ${written}` : ''}`,
      );
  });
}

export const visualizeUsage =
  'convlens visualize-filter MODEL --layer TENSOR [--channels 0,3 | --count N] [--class K] [--steps N] [--seed S] [--param fourier|pixel] [--out-dir DIR] [--cache DIR] [--kernels] [--json]';

export async function visualizeFilter(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    {
      ...MODEL_OPTIONS,
      layer: { type: 'string' },
      channels: { type: 'string' },
      count: { type: 'string' },
      class: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      param: { type: 'string' },
      'out-dir': { type: 'string' },
      cache: { type: 'string' },
      kernels: { type: 'boolean' },
    },
    ['MODEL'],
  );
  await withModel(positionals[0], values, async (ctx) => {
    const dir = outDir(values['out-dir'], 'convlens-filters');
    if (values.kernels) {
      const k = firstLayerKernels(ctx.model);
      const file = writeFile(path.join(dir, 'first-layer-kernels.png'), chwToPng(kernelMontage(k.kernels)));
      if (values.json) printJson({ node: k.node, kernels: k.kernels.length, rgb: k.rgb, file });
      else console.log(`${k.kernels.length} kernels of ${terminalText(k.node)} (${k.rgb ? 'RGB' : 'per channel'}) → ${file}`);
      return;
    }
    const spec = ctx.preprocessing?.spec;
    const options = {
      steps: intOption(values.steps, 'steps', 256),
      seed: intOption(values.seed, 'seed', 0),
      parameterization: (values.param ?? 'fourier') as 'fourier' | 'pixel',
      normalize: spec && spec.mean.length === 3 ? { mean: spec.mean, std: spec.std } : undefined,
      progress: process.stderr.isTTY ? (f: number, m: string) => process.stderr.write(`\r${(f * 100).toFixed(0).padStart(3)}% ${m}`.padEnd(60) + (f >= 1 ? '\n' : '')) : undefined,
    };
    let results;
    if (values.class !== undefined) {
      const index = parseTarget(values.class);
      if (index === 'top') throw new Error('--class takes a class index');
      results = [await visualizeFeature(ctx.model, { kind: 'class', index } as Objective, options)];
    } else {
      if (typeof values.layer !== 'string') throw new Error('--layer TENSOR (or --class K, or --kernels) is required');
      results = await channelGallery(ctx.model, values.layer, {
        ...options,
        channels: listOption(values.channels, 'channels'),
        count: values.count !== undefined ? intOption(values.count, 'count', 16) : undefined,
        cacheDir: typeof values.cache === 'string' ? values.cache : path.resolve('.convlens-cache'),
      });
    }
    const rows = results.map((r) => {
      const name = r.objective.kind === 'class' ? `class-${r.objective.index}` : `${r.objective.tensor.replace(/^\/+/, '').replace(/[^\w.-]+/g, '_')}-ch${r.objective.channel}`;
      return { objective: r.objective, activation: r.activation, file: writeFile(path.join(dir, `${name}.png`), chwToPng(r.image)) };
    });
    if (values.json) printJson(rows);
    else for (const r of rows) console.log(`${JSON.stringify(r.objective)}: activation ${fixed(r.activation, 3)} → ${r.file}`);
  });
}

export const attentionUsage = 'convlens attention MODEL INPUT [--layer TENSOR] [--head H] [--fusion mean|max|min] [--out-dir DIR] [--json]';

export async function attention(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    { ...MODEL_OPTIONS, layer: { type: 'string' }, head: { type: 'string' }, fusion: { type: 'string' }, 'out-dir': { type: 'string' } },
    ['MODEL', 'INPUT'],
  );
  await withModel(positionals[0], values, async (ctx) => {
    const found = await attentionLayers(ctx.model);
    if (found.length === 0) throw new Error(noAttentionReason(ctx.model.graph, ctx.name));
    const input = ctx.loadInput(positionals[1]);
    const maps = await attentionMaps(ctx.model, input.tensor, { layers: typeof values.layer === 'string' ? [values.layer] : undefined });
    const fusion = (values.fusion ?? 'mean') as HeadFusion;
    const [H, W] = input.tensor.dims.slice(-2);
    const grid = tokenGrid(maps[0].layer.tokens, [H, W]);
    const head = values.head !== undefined ? intOption(values.head, 'head', 0) : undefined;
    const dir = outDir(values['out-dir'], 'convlens-attention');
    const files = maps.map((m, i) => writeFile(path.join(dir, `layer${i}${head !== undefined ? `-head${head}` : ''}.png`), mapToPng(queryMap(m.probabilities, grid, { head }))));
    const rollout = attentionRollout(
      maps.map((m) => m.probabilities),
      fusion,
    );
    const rolloutFile = writeFile(path.join(dir, 'rollout.png'), mapToPng(queryMap(rollout, grid)));
    if (values.json) {
      printJson({ layers: maps.map((m, i) => ({ tensor: m.layer.tensor, heads: m.layer.heads, tokens: m.layer.tokens, file: files[i] })), grid, rollout: rolloutFile });
      return;
    }
    console.log(`${maps.length} attention layers; tokens: ${grid.prefix} prefix + ${grid.rows}×${grid.cols} patches`);
    maps.forEach((m, i) => console.log(`  ${terminalText(m.layer.tensor)}: ${m.layer.heads} heads → ${files[i]}`));
    console.log(`attention rollout (${fusion} over heads) → ${rolloutFile}`);
  });
}

export const sanityUsage = 'convlens sanity-check MODEL INPUT[,INPUT...] --method NAME [--layer TENSOR] [--seed S] [--threshold T] [--json]';

export async function sanityCheck(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    { ...MODEL_OPTIONS, method: { type: 'string' }, layer: { type: 'string' }, seed: { type: 'string' }, threshold: { type: 'string' } },
    ['MODEL', 'INPUT'],
  );
  if (typeof values.method !== 'string') throw new Error('--method NAME is required');
  const method = values.method;
  await withModel(positionals[0], values, async (ctx) => {
    const inputs = positionals[1].split(',').map((f) => ctx.loadInput(f).tensor);
    const result = await cascadingRandomization(ctx.model, explanationMaps(method, inputs, { layer: typeof values.layer === 'string' ? values.layer : undefined }), {
      seed: intOption(values.seed, 'seed', 0),
      threshold: numberOption(values.threshold, 'threshold'),
    });
    if (values.json) {
      printJson({
        method,
        passed: result.passed,
        verdict: result.verdict,
        finalSpearman: result.finalSpearman,
        steps: result.steps.map((s) => ({ layer: s.layer, spearman: s.spearman, signedSpearman: s.signedSpearman, ssim: s.ssim })),
        notes: result.notes,
      });
      return;
    }
    console.log(`${method}: maps of models randomised from the top layer down, compared with the trained model's`);
    printTable([
      ['randomised down to', 'rank corr |map|', 'signed', 'SSIM'],
      ...result.steps.map((s) => [s.layer, fixed(s.spearman, 3), fixed(s.signedSpearman, 3), fixed(s.ssim, 3)]),
    ]);
    console.log(result.verdict);
    for (const note of result.notes) console.log(`  · ${terminalText(note)}`);
  });
}
