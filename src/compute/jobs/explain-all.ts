// The "Explain all" job of the compute worker: one page of the images of a folder, each explained
// with one method, layer, target and options and predicted (src/core/dataset/explain-images.ts,
// the loop `convlens explain FOLDER` runs too), returned as small cards: the image as the model
// sees it at most 64 pixels a side, the map downsampled (antialiased, as skimage's resize) to at
// most 32 values a side, the top class and its probability. A page holds at most MAX_GALLERY_PAGE
// images and the worker keeps nothing between pages, so its memory is one page whatever the
// folder's size; the view asks for page after page and resumes at the next after a Cancel.
// The folder must lie inside one of `roots` (real paths, so no symlink leads out).
import * as fs from 'fs';
import * as path from 'path';
import type { GalleryCardView, MapData, TargetSpec } from '../../protocol';
import { MAX_GALLERY_PAGE } from '../../protocol';
import type { ModelContext } from '../../core/context';
import { explainImages, listDataset } from '../../core/dataset';
import { DecodePool } from '../../core/dataset/decode-pool';
import { progressWithEta } from '../../core/dataset/features';
import type { Explanation, Target } from '../../core/explain';
import { resizeSkimage } from '../../core/image/resample';
import { JobHandlers } from '../jobs';
import { imageDataUrl, mapData, WorkerState } from './state';

/** Longest side of a card's image and of its map. */
export const CARD_IMAGE_SIDE = 64;
export const CARD_MAP_SIDE = 32;

/** Whether the real path of `folder` is one of `roots` or lies inside one (false when it does not exist). */
export function folderInside(folder: string, roots: readonly string[]): boolean {
  let real: string;
  try {
    real = fs.realpathSync(folder);
  } catch {
    return false;
  }
  return roots.some((root) => {
    let base: string;
    try {
      base = fs.realpathSync(root);
    } catch {
      return false;
    }
    const relative = path.relative(base, real);
    return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
  });
}

/** The map's first [H, W] plane, downsampled to at most CARD_MAP_SIDE a side. */
function cardMap(e: Explanation): MapData {
  const dims = e.map.dims;
  const [height, width] = dims.length >= 2 ? dims.slice(-2) : [1, dims[0] ?? 1];
  const plane = (e.map.data as Float32Array).subarray(0, height * width);
  const scale = Math.min(1, CARD_MAP_SIDE / Math.max(height, width));
  if (scale === 1) return mapData(plane, width, height);
  const [th, tw] = [Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale))];
  const small = resizeSkimage({ width, height, channels: 1, data: plane }, th, tw);
  return mapData(small.data, tw, th);
}

export function explainAllJobs(state: WorkerState, toTarget: (ctx: ModelContext, spec: TargetSpec) => Promise<Target>): JobHandlers<'explainAll'> {
  // The thread that reads each next image lives as long as the worker, so that it is warm from the
  // second page on; one that died is replaced on the next page.
  let reader: DecodePool | undefined;
  return {
    async explainAll({ modelPath, folder, roots, method, layer, target, options, offset, limit }, job) {
      if (!folderInside(folder, roots)) throw new Error(`${folder} is not a folder inside the workspace; choose one with "Choose folder…"`);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_GALLERY_PAGE) throw new Error(`a page holds 1 to ${MAX_GALLERY_PAGE} images`);
      const ctx = state.contextFor(modelPath);
      const { images } = listDataset(folder);
      const page = images.slice(offset, offset + limit);
      const started = Date.now();
      const request = { method, target: await toTarget(ctx, target), layer: layer || undefined, options: options ?? {}, predict: true };
      const cards: GalleryCardView[] = [];
      let resolvedLayer: string | undefined;
      job.progress(images.length ? offset / images.length : 1, `${method}: ${offset}/${images.length} images`);
      reader = DecodePool.keep(reader, 1);
      for await (const item of explainImages(ctx, page, request, { signal: job.signal, reader })) {
        const { image, input, explanation: e, prediction: p } = item;
        resolvedLayer ??= e?.layer;
        cards.push({
          index: offset + cards.length,
          relPath: image.relPath,
          image: input?.rgb ? imageDataUrl(input.rgb, CARD_IMAGE_SIDE) : '',
          map: e ? cardMap(e) : undefined,
          prediction: p ? { index: p.index, label: p.label, probability: p.probability } : undefined,
          error: item.error,
        });
        const done = offset + cards.length;
        job.progress(done / images.length, `${method}: ${progressWithEta(done, images.length, cards.length, images.length - done, started, Date.now())}`);
      }
      return { folder, method, layer: resolvedLayer, total: images.length, offset, cards, seconds: (Date.now() - started) / 1000 };
    },
  };
}
