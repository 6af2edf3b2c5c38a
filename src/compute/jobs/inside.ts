// The "inside the network" jobs of the compute worker: receptive fields (src/core/inside/
// receptiveField.ts), first-layer kernels (kernels.ts), feature visualisation by activation
// maximisation (activationMaximization.ts), attention maps and rollout (attention.ts) and the
// model-randomisation sanity check of an explanation method (sanityCheck.ts). The methods and
// their references are in those files; this one turns their results into the protocol's views.
//
// Feature visualisation optimises an RGB image x in [0, 1]; the model is fed what its
// preprocessing would make of it, (x·255·scale − mean) / std, i.e. (x − mean') / std' with
// mean' = mean / (255·scale) and std' = std / (255·scale).
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionLayerView, AttentionView, MapData } from '../../protocol';
import { ModelContext } from '../../core/context';
import { methodByName } from '../../core/explain';
import { cacheKey, channelGallery, Objective } from '../../core/inside/activation-maximization';
import { attentionLayers, attentionMaps, attentionRollout, fuseHeads, noAttentionReason, queryMap, tokenGrid } from '../../core/inside/attention';
import { firstLayerKernels, kernelMontage } from '../../core/inside/kernels';
import { effectiveReceptiveField, receptiveFieldOf, receptiveFields } from '../../core/inside/receptive-field';
import { cascadingRandomization, explanationMaps } from '../../core/inside/sanity-check';
import { FloatTensor, float32 } from '../../core/tensor';
import { JobHandlers } from '../jobs';
import { WorkerState, chwDataUrl, layerTensor, mapData, scaled01 } from './state';

/** Kernels are drawn about this many pixels wide in the montage. */
const KERNEL_PIXELS = 24;

export function insideJobs(state: WorkerState): JobHandlers<'receptiveFields' | 'effectiveField' | 'kernels' | 'featureGallery' | 'attention' | 'sanityCheck'> {
  return {
    async receptiveFields({ modelPath }) {
      const report = await receptiveFields(state.contextFor(modelPath).model);
      return { inputSize: report.inputSize, fields: report.fields, unresolved: report.unresolved };
    },

    async effectiveField({ modelPath, layer, samples }, job) {
      const { model } = state.contextFor(modelPath);
      const tensor = await layerTensor(model, layer);
      job.progress(0.1, `gradients of the centre unit of ${tensor}`);
      const e = await effectiveReceptiveField(model, tensor, { samples: samples ?? 4, signal: job.signal });
      const [height, width] = e.map.dims;
      let theoretical: [number, number] | undefined;
      try {
        theoretical = receptiveFieldOf(await receptiveFields(model), tensor).size;
      } catch {
        // The recurrence does not describe this layer: the effective field stands alone.
      }
      return { layer: tensor, unit: e.unit, map: mapData(scaled01(e.map.data), width, height), area: e.area, side: e.side, massFraction: e.massFraction, box: e.box, theoretical };
    },

    async kernels({ modelPath }) {
      const k = firstLayerKernels(state.contextFor(modelPath).model);
      const [inChannels, kh, kw] = k.kernels[0].dims;
      // Kernels over other than 1 or 3 input channels are drawn from their first input channel.
      const drawable = inChannels === 1 || inChannels === 3 ? k.kernels : k.kernels.map((t) => float32([1, kh, kw], t.data.slice(0, kh * kw)));
      const montage = kernelMontage(drawable, { zoom: Math.max(1, Math.ceil(KERNEL_PIXELS / Math.max(kh, kw))), gap: 2 });
      const [, h, w] = montage.dims;
      return { node: k.node, weight: k.weight, count: k.kernels.length, inChannels, kernelSize: [kh, kw], rgb: k.rgb, montage: chwDataUrl(montage), montageSize: [w, h] };
    },

    async featureGallery({ modelPath, layer, count, steps, channels: chosen, cacheDir }, job) {
      const ctx = state.contextFor(modelPath);
      const tensor = await layerTensor(ctx.model, layer);
      const options = { count, steps, cacheDir, normalize: visualizationNormalize(ctx), signal: job.signal, progress: job.progress };
      const dims = (await ctx.model.probeShapes()).get(tensor) ?? [];
      const available = dims[1] ?? 0;
      const outside = chosen?.filter((c) => c >= available) ?? [];
      if (outside.length > 0) throw new Error(`${layer} has ${available} channels (0–${available - 1}); there is no channel ${outside.join(', ')}`);
      const channels = chosen ? [...new Set(chosen)] : Array.from({ length: Math.min(available, count) }, (_, i) => i);
      const cached = cacheDir ? channels.filter((channel) => isCached(cacheDir, cacheKey(ctx.model, { kind: 'channel', tensor, channel } as Objective, options))).length : 0;
      const results = await channelGallery(ctx.model, tensor, { ...options, channels });
      return {
        layer: tensor,
        steps,
        cached,
        items: results.map((r) => ({ channel: (r.objective as Extract<Objective, { kind: 'channel' }>).channel, activation: r.activation, image: chwDataUrl(r.image) })),
      };
    },

    async attention({ modelPath, imageId }) {
      const ctx = state.contextFor(modelPath);
      const found = await attentionLayers(ctx.model);
      if (found.length === 0) return { imageId, layers: [], message: `${noAttentionReason(ctx.model.graph, ctx.name)}.` };
      const input = state.imageFor(imageId).tensor;
      const maps = await attentionMaps(ctx.model, input);
      const [height, width] = input.dims.slice(-2);
      const grid = tokenGrid(maps[0].layer.tokens, [height, width]);
      // The CLS token's row when there is one (what ViT classifies from), else the mean over queries.
      const query = grid.prefix > 0 ? 0 : 'mean';
      const asMap = (t: FloatTensor, head?: number): MapData => mapData(scaled01(queryMap(t, grid, { head, query }).data), grid.cols, grid.rows);
      const layers: AttentionLayerView[] = maps.map((m) => {
        const [heads, tokens] = m.probabilities.dims;
        const mean = float32([tokens, tokens], Float32Array.from(fuseHeads(m.probabilities, 'mean')));
        return {
          tensor: m.layer.tensor,
          node: m.layer.node,
          heads,
          tokens,
          headMaps: Array.from({ length: heads }, (_, h) => asMap(m.probabilities, h)),
          mean: asMap(mean),
        };
      });
      const sameTokens = maps.every((m) => m.layer.tokens === maps[0].layer.tokens);
      const view: AttentionView = { imageId, layers, grid, query: query === 0 ? 'cls' : 'mean' };
      if (sameTokens) view.rollout = asMap(attentionRollout(maps.map((m) => m.probabilities)));
      return view;
    },

    async sanityCheck({ modelPath, imageId, method, layer }, job) {
      const { model } = state.contextFor(modelPath);
      const image = state.imageFor(imageId);
      const camLayer = methodByName(method).kind === 'cam' && layer && layer !== 'auto' ? await layerTensor(model, layer) : undefined;
      job.progress(0, `${method} on the trained model`);
      const result = await cascadingRandomization(model, explanationMaps(method, [image.tensor], { layer: camLayer, signal: job.signal }), {
        signal: job.signal,
        progress: job.progress,
      });
      const view = (t: FloatTensor): MapData => {
        const [h, w] = t.dims.slice(-2);
        return mapData(t.data, w, h);
      };
      return {
        method,
        imageId,
        steps: result.steps.map((s) => ({ layer: s.layer, spearman: s.spearman, signedSpearman: s.signedSpearman, ssim: s.ssim })),
        threshold: result.threshold,
        finalSpearman: result.finalSpearman,
        passed: result.passed,
        verdict: result.verdict,
        notes: result.notes,
        original: view(result.original[0]),
        randomized: view(result.steps[result.steps.length - 1].maps[0]),
      };
    },
  };
}

function visualizationNormalize(ctx: ModelContext): { mean: number[]; std: number[] } | undefined {
  const spec = ctx.preprocessing?.spec;
  if (!spec) return undefined;
  const unit = 255 * spec.scale;
  const perChannel = (values: number[]) => (values.length === 1 ? [values[0], values[0], values[0]] : values).map((v) => v / unit);
  return { mean: perChannel(spec.mean), std: perChannel(spec.std) };
}

/** Whether channelGallery will read this objective from its cache (the file layout of activationMaximization.ts). */
function isCached(cacheDir: string, key: string): boolean {
  return fs.existsSync(path.join(cacheDir, 'feature-visualization', `${key}.json`));
}
