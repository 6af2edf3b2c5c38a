// RISE (Petsiuk et al., 2018, arXiv:1806.07421): the target's score on randomly masked inputs,
// averaged per pixel over the masks that kept it.
//   S(p) = (1 / (N · P)) Σ_i y(x ⊙ M_i) · M_i(p)
// Masks as the authors' code (eclique/RISE generate_masks): an s × s grid of cells kept with
// probability P, upsampled bilinearly to (s + 1) × cell size (cell = ⌈H/s⌉) and cropped at a random
// shift in [0, cell) — smooth masks not aligned to the grid. Signals and videos get the same along
// their one or three axes (an s or s × s × s grid, linear / trilinear upsampling). Masked elements become 0 (the
// normalised input's mean); the score is the class probability, as in the paper. Seeded.
import { resizeBilinear, resizeLinear } from '../image/resize';
import { Tensor, float32, mapToFloat32, sizeOf } from '../tensor';
import { SEED_OPTION } from './attribution-common';
import { scoreVariants } from './forward';
import { spatialToMap } from './postprocess';
import { Random } from '../random';
import { scoreOption } from './surrogate';
import { ScoreKind, checkInput, describeTarget, planTarget, resolvePlan } from './target';
import { ExplanationMethod } from './types';

export type RiseOptions = { masks: number; cells: number; probability: number; seed: number; batch: number; score: ScoreKind };

interface MaskRecipe {
  grid: Uint8Array;
  /** The crop's offset along each spatial axis. */
  shifts: number[];
}

/** The mask of one recipe at the input's spatial size. */
export function riseMask(recipe: MaskRecipe, cells: number, spatial: number[]): Float32Array {
  const grid = spatial.map(() => cells);
  const upDims = spatial.map((size) => (cells + 1) * Math.ceil(size / cells));
  const up = spatial.length === 2 ? resizeBilinear(recipe.grid, cells, cells, upDims[0], upDims[1]) : resizeLinear(recipe.grid, grid, upDims);
  const mask = new Float32Array(sizeOf(spatial));
  const index = new Array<number>(spatial.length).fill(0);
  for (let o = 0; o < mask.length; o++) {
    let s = 0;
    for (let a = 0; a < spatial.length; a++) s = s * upDims[a] + index[a] + recipe.shifts[a];
    mask[o] = up[s];
    for (let a = spatial.length - 1; a >= 0 && ++index[a] === spatial[a]; a--) index[a] = 0;
  }
  return mask;
}

export function riseRecipes(count: number, cells: number, probability: number, spatial: number[], random: Random): MaskRecipe[] {
  return Array.from({ length: count }, () => ({
    grid: Uint8Array.from({ length: cells ** spatial.length }, () => (random.next() < probability ? 1 : 0)),
    shifts: spatial.map((size) => random.int(Math.ceil(size / cells))),
  }));
}

export const rise: ExplanationMethod<RiseOptions> = {
  name: 'rise',
  title: 'RISE',
  kind: 'perturbation',
  needsGradients: false,
  usesLayer: false,
  formula: 'S(p) = (1 / (N·P)) Σ_i y(x ⊙ M_i) M_i(p)',
  reference: 'Petsiuk et al. 2018 (arXiv:1806.07421); eclique/RISE',
  options: [
    { name: 'masks', type: 'int', default: 1000, min: 1, description: 'random masks N (the paper uses 4000–8000)' },
    { name: 'cells', type: 'int', default: 7, min: 1, description: 'grid size s: masks are s × s cells, upsampled' },
    { name: 'probability', type: 'number', default: 0.5, min: 0.01, max: 1, description: 'probability P that a cell is kept' },
    SEED_OPTION,
    { name: 'batch', type: 'int', default: 8, min: 1, description: 'masked inputs per forward pass' },
    scoreOption('probability'),
  ],
  async explain(ctx, options) {
    checkInput(ctx.input);
    const target = await resolvePlan(ctx.model, ctx.input, await planTarget(ctx.model, ctx.input, ctx.target), ctx.inputOutputs);
    const [, channels, ...spatial] = ctx.input.dims;
    const plane = sizeOf(spatial);
    const recipes = riseRecipes(options.masks, options.cells, options.probability, spatial, new Random(options.seed));
    const x = ctx.input.data as Float32Array;
    const scores = await scoreVariants(
      ctx,
      target,
      recipes.length,
      (i, dst) => {
        const mask = riseMask(recipes[i], options.cells, spatial);
        for (let c = 0; c < channels; c++) for (let p = 0; p < plane; p++) dst[c * plane + p] = x[c * plane + p] * mask[p];
      },
      { batchSize: options.batch, score: options.score, label: 'rise: masked inputs' },
    );
    const saliency = new Float64Array(plane);
    recipes.forEach((recipe, i) => {
      const mask = riseMask(recipe, options.cells, spatial);
      for (let p = 0; p < plane; p++) saliency[p] += scores[i] * mask[p];
    });
    const norm = options.masks * options.probability;
    const raw: Tensor = float32(
      [1, ...spatial],
      mapToFloat32(saliency, (v) => v / norm),
    );
    const { map, note } = spatialToMap(raw.data as Float32Array, spatial);
    return {
      method: 'rise',
      raw,
      map,
      target,
      notes: [
        `target: ${describeTarget(target)} of output '${target.output}'`,
        `${options.masks} masks of ${spatial.map(() => options.cells).join('×')} cells kept with probability ${options.probability}, bilinear upsampling with random shifts (seed ${options.seed}); masked elements set to 0; score: ${options.score}`,
        note,
      ],
    };
  },
};
