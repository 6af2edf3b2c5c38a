import * as path from 'path';
import { COLORMAP_NAMES, ColormapName } from '../../core/image/colormap';
import { ModelContext } from '../../core/context';
import { Explanation, explain as runMethod, methodByName, methodNames } from '../../core/explain';
import { boxMask, deletionInsertion, maskOnInput, RegionMask, regionScores } from '../../core/explain/faithfulness';
import { describeTarget } from '../../core/explain/target';
import { decodeImage, readImageHeader, readInputBytes } from '../../core/image/decode';
import { LoadedInput } from '../../core/preprocess';
import { renderPng } from '../../core/render';
import { intOption, listOption, numberOption, parse, Parsed, UsageError } from '../args';
import { TARGET_USAGE, targetJson, targetOf, withModel } from '../common';
import { taskAwareTarget } from '../../core/task-outputs';
import { fixed, printJson, printTable, terminalText, writeFile, writeNpy } from '../output';
import { explainFolder, folderUsage, isFolderInput } from './explain-folder';
import { COMMON, OPTIONS_USAGE, methodOptions, optionsFor } from './explain-flags';

export const usage = `convlens explain MODEL INPUT --method NAME [--layer TENSOR|auto] ${TARGET_USAGE} [--raw] [--out FILE.npy|FILE.png] [--colormap ${COLORMAP_NAMES.join('|')}] [--opacity A] [--json] ${OPTIONS_USAGE}\n       ${folderUsage}`;
export const faithfulnessUsage = `convlens faithfulness MODEL INPUT --method NAME[,NAME...] [--layer TENSOR|auto] ${TARGET_USAGE} [--steps N] [--mask FILE.png [--mask-value V] | --box X0,Y0,X1,Y1] [--tolerance PX] [--json] [method options]`;

function progressLine(label: string): (fraction: number, message: string) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (fraction, message) => process.stderr.write(`\r${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${message}`.padEnd(79).slice(0, 79) + (fraction >= 1 ? '\n' : ''));
}

function describe(ctx: ModelContext, e: Explanation): string {
  const t = e.target;
  if (t.kind === 'class') return `${ctx.labelOf(t.index)} (#${t.index})`;
  if (t.kind === 'difference') return `${ctx.labelOf(t.a)} rather than ${ctx.labelOf(t.b)}`;
  return describeTarget(t);
}

export async function explainCommand(argv: string[]): Promise<void> {
  if (isFolderInput(argv)) return explainFolder(argv);
  const { positionals, values } = parse(
    argv,
    {
      ...COMMON,
      raw: { type: 'boolean' },
      out: { type: 'string' },
      colormap: { type: 'string' },
      opacity: { type: 'string' },
    },
    ['MODEL', 'INPUT'],
  );
  if (typeof values.method !== 'string') throw new Error(`--method NAME is required; the methods are ${methodNames().join(', ')}`);
  const method = values.method;
  const colormap = (values.colormap ?? 'viridis') as ColormapName;
  if (!COLORMAP_NAMES.includes(colormap)) throw new Error(`--colormap takes ${COLORMAP_NAMES.join(', ')}`);
  await withModel(positionals[0], values, async (ctx) => {
    const options = optionsFor(method, methodOptions(values));
    const input = ctx.loadInput(positionals[1]);
    const started = performance.now();
    // 'top' or a class on a segmentation or detection model: its predicted region or its box.
    const chosen = await taskAwareTarget(ctx, input.tensor, await targetOf(ctx, values));
    const e = await runMethod(
      method,
      {
        model: chosen.model,
        input: input.tensor,
        target: chosen.target,
        layer: typeof values.layer === 'string' ? values.layer : undefined,
        progress: progressLine(method),
      },
      options,
    ).finally(() => chosen.copy?.dispose());
    const seconds = (performance.now() - started) / 1000;
    const result = values.raw ? e.raw : e.map;
    let written: string | undefined;
    if (typeof values.out === 'string') {
      if (values.out.toLowerCase().endsWith('.png')) {
        if (values.raw) throw new Error('--raw gives a tensor: write it to a .npy file');
        written = writeFile(values.out, renderPng(e.map, input.rgb, { colormap, opacity: numberOption(values.opacity, 'opacity') }));
      } else {
        written = writeNpy(values.out, result);
      }
    }
    if (values.json) {
      printJson({
        method,
        target: targetJson(e.target),
        targetLabel: describe(ctx, e),
        layer: e.layer,
        shape: result.dims,
        raw: !!values.raw,
        notes: e.notes,
        metrics: e.metrics,
        seconds,
        file: written,
      });
      return;
    }
    console.log(
      `${methodByName(method).title} of ${terminalText(describe(ctx, e))} on ${terminalText(positionals[1])}${e.layer ? ` at ${terminalText(e.layer)}` : ''}: ${values.raw ? 'raw attribution' : 'map'} [${result.dims.join(', ')}] in ${seconds.toFixed(2)} s`,
    );
    for (const note of e.notes) console.log(`  · ${terminalText(note)}`);
    for (const [k, v] of Object.entries(e.metrics ?? {})) console.log(`  ${k} = ${fixed(v)}`);
    console.log(written ? `written to ${written}` : '(give --out FILE.png for the overlay, or FILE.npy for the values)');
  });
}

/** In the faithfulness command --steps counts the deletion and insertion steps, not a method's. */
function withoutCurveSteps(given: ReturnType<typeof methodOptions>): ReturnType<typeof methodOptions> {
  return Object.fromEntries(Object.entries(given).filter(([name]) => name !== 'steps'));
}

/**
 * The known region of --mask or --box on the model's input grid. Both are in the input image's
 * pixels: a mask PNG of the image's size (inside: pixels equal to --mask-value, or any non-zero
 * pixel), or a box with exclusive ends as in the samples' boxes.json; they follow the image through
 * the preprocessing's resize and crop. For a .npy input they are on the tensor's own H×W.
 */
function regionOf(values: Parsed['values'], inputFile: string, input: LoadedInput, ctx: ModelContext): RegionMask | undefined {
  if (values.mask !== undefined && values.box !== undefined) throw new UsageError('give --mask or --box, not both');
  if (values['mask-value'] !== undefined && values.mask === undefined) throw new UsageError('--mask-value needs --mask FILE.png');
  const spec = input.kind === 'image' ? ctx.preprocessing?.spec : undefined;
  const { width, height } = spec
    ? readImageHeader(readInputBytes(inputFile), path.basename(inputFile))
    : { width: input.tensor.dims[input.tensor.dims.length - 1], height: input.tensor.dims[input.tensor.dims.length - 2] };
  let region: RegionMask;
  if (typeof values.mask === 'string') {
    const name = path.basename(values.mask);
    const image = decodeImage(readInputBytes(values.mask), { name });
    if (image.width !== width || image.height !== height) throw new UsageError(`the mask ${name} is ${image.width}×${image.height} but the input is ${width}×${height}`);
    const wanted = values['mask-value'] === undefined ? undefined : intOption(values['mask-value'], 'mask-value', 0);
    const inside = new Uint8Array(width * height);
    for (let p = 0; p < inside.length; p++) {
      const [r, g, b] = image.data.subarray(p * 3, p * 3 + 3);
      inside[p] = (wanted === undefined ? r + g + b > 0 : r === wanted) ? 1 : 0;
    }
    region = { width, height, inside };
  } else if (typeof values.box === 'string') {
    const [x0, y0, x1, y1] = listOption(values.box, 'box', 4)!;
    if (!(x1 > x0 && y1 > y0)) throw new UsageError(`--box takes X0,Y0,X1,Y1 with X1 > X0 and Y1 > Y0 (ends exclusive), got '${values.box}'`);
    region = boxMask({ x0, y0, x1: x1 - 1, y1: y1 - 1 }, width, height);
  } else {
    return undefined;
  }
  return spec ? maskOnInput(region, spec) : region;
}

export async function faithfulnessCommand(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    {
      ...COMMON,
      mask: { type: 'string' },
      'mask-value': { type: 'string' },
      box: { type: 'string' },
      tolerance: { type: 'string' },
    },
    ['MODEL', 'INPUT'],
  );
  if (typeof values.method !== 'string') throw new Error(`--method NAME[,NAME...] is required; the methods are ${methodNames().join(', ')}`);
  const methods = values.method.split(',');
  const steps = values.steps !== undefined ? intOption(values.steps, 'steps', 32) : 32;
  const tolerance = intOption(values.tolerance, 'tolerance', 0);
  await withModel(positionals[0], values, async (ctx) => {
    const input = ctx.loadInput(positionals[1]);
    const region = regionOf(values, positionals[1], input, ctx);
    if (region && region.inside.every((v) => v === 0)) throw new UsageError("the mask or box has no pixels on the model's input (after its resize and crop)");
    const rows = [];
    const { target, model, copy } = await taskAwareTarget(ctx, input.tensor, await targetOf(ctx, values));
    try {
      for (const method of methods) {
        const explainContext = { model, input: input.tensor, target, layer: typeof values.layer === 'string' ? values.layer : undefined, progress: progressLine(method) };
        const e = await runMethod(method, explainContext, optionsFor(method, withoutCurveSteps(methodOptions(values))));
        const f = await deletionInsertion(explainContext, e.map, { steps });
        rows.push({
          method,
          target: describeTarget(e.target),
          deletionAuc: f.deletion.normalizedAuc,
          insertionAuc: f.insertion.normalizedAuc,
          deletion: f.deletion,
          insertion: f.insertion,
          notes: f.notes,
          ...(region ? { region: regionScores(e.map, region, tolerance) } : {}),
        });
      }
    } finally {
      await copy?.dispose();
    }
    const regionNote =
      region &&
      `region: ${values.mask !== undefined ? `mask ${path.basename(String(values.mask))}` : `box ${values.box}`}; pointing game: the map's maximum on the region${tolerance ? ` or within ${tolerance} px` : ''}; IoU: the map's top-k pixels against the region, k = its area; energy: share of the map's positive mass on the region`;
    if (values.json) {
      printJson(rows.map((r) => ({ ...r, notes: regionNote ? [...r.notes, regionNote] : r.notes })));
      return;
    }
    console.log(`faithfulness on ${positionals[1]} (${steps} steps; deletion: lower is better, insertion: higher is better)`);
    const regionHeader = region ? ['pointing game', `IoU (k = ${rows[0]?.region?.area} px)`, 'energy inside'] : [];
    printTable([
      ['method', 'deletion AUC', 'insertion AUC', ...regionHeader],
      ...rows.map((r) => [
        r.method,
        fixed(r.deletionAuc, 3),
        fixed(r.insertionAuc, 3),
        ...(r.region ? [r.region.pointingHit ? 'hit' : 'miss', fixed(r.region.iou, 3), fixed(r.region.energyInside, 3)] : []),
      ]),
    ]);
    for (const note of [...(rows[0]?.notes ?? []), ...(regionNote ? [regionNote] : [])]) console.log(`  · ${terminalText(note)}`);
  });
}
