// The dataset jobs for error analysis at scale: the feature map as compact typed arrays (base64),
// a channel's pooled activation per image for colouring it, the confused pairs and clusters of
// errors in the map (src/core/dataset/error-analysis.ts), pages of a slice of the dataset with
// thumbnails, and where the rule channels fire (src/core/dataset/channel-positions.ts). They work on
// a dataset kept by jobs/dataset.ts; what crosses to the webview is sized for display: a few bytes
// a point, thumbnails only for the page shown.
import type { ChannelPositionsView, DatasetMapView, ErrorAnalysisView, SliceView } from '../../protocol';
import { NO_LABEL } from '../../protocol';
import { DatasetFeatures, embedDataset, rowOf, summarizeDataset } from '../../core/dataset';
import { channelPositions, poolingSuggestion, POSITION_GRID, SHORTCUT_SHARE, TOP_SHARE } from '../../core/dataset/channel-positions';
import { DatasetError } from '../../core/dataset/errors';
import { confusedPairs, ERROR_CLUSTER_RADIUS, errorClusters, LabelledPredictions, SliceFilter, sliceImages } from '../../core/dataset/error-analysis';
import { throwIfCancelled } from '../../core/cancel';
import { softmax } from '../../core/labels/labels';
import { resizeForModel } from '../../core/preprocess';
import { JobHandlers } from '../jobs';
import { KeptDataset, THUMBNAIL_SIDE } from './dataset';
import { imageDataUrl } from './state';

/** Confused pairs listed. */
const SHOWN_PAIRS = 10;
/** Error clusters listed. */
const SHOWN_CLUSTERS = 12;

type Method = 'pca' | 'umap';

/** The last map of each method per dataset, interleaved x, y (the error clusters are found in it). */
const maps = new WeakMap<DatasetFeatures, Map<Method, Float32Array>>();
const predictionsOf = new WeakMap<DatasetFeatures, LabelledPredictions>();

function labelledPredictions(features: DatasetFeatures): LabelledPredictions {
  let data = predictionsOf.get(features);
  if (!data) {
    const k = features.classNames.length;
    data = {
      classCount: k,
      labels: Int32Array.from(features.images, (im) => im.label ?? -1),
      predictions: features.predictions,
      confidence: Float32Array.from(features.images, (_, i) => softmax(rowOf(features.logits, i, k))[features.predictions[i]]),
    };
    predictionsOf.set(features, data);
  }
  return data;
}

function base64(array: Float32Array | Uint16Array | Uint8Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

async function mapOf(features: DatasetFeatures, method: Method, job: { signal: AbortSignal; progress(f: number, m: string): void }) {
  const e = await embedDataset(features, { method, signal: job.signal, progress: job.progress });
  const xy = new Float32Array(2 * e.points.length);
  e.points.forEach((p, i) => {
    xy[2 * i] = p.x;
    xy[2 * i + 1] = p.y;
  });
  let byMethod = maps.get(features);
  if (!byMethod) maps.set(features, (byMethod = new Map()));
  byMethod.set(method, xy);
  return { e, xy };
}

function toSliceFilter(kept: KeptDataset, spec: Parameters<JobHandlers<'datasetSlice'>['datasetSlice']>[0]['filter']): SliceFilter {
  let rule: SliceFilter['rule'];
  if (spec.rule !== undefined) {
    const set = kept.rules;
    if (!set) throw new DatasetError('no rules to slice by yet: distil them first');
    const chosen = set.rules[spec.rule];
    if (!chosen) throw new DatasetError(`there is no rule ${spec.rule + 1}: the last rules are ${set.rules.length}`);
    rule = { conditions: chosen.conditions, pooling: set.pooling };
  }
  const confidence: [number, number] | undefined =
    spec.confidenceMin !== undefined || spec.confidenceMax !== undefined ? [spec.confidenceMin ?? 0, spec.confidenceMax ?? 1] : undefined;
  return { label: spec.label, prediction: spec.prediction, confidence, correctness: spec.correctness, rule };
}

/** The jobs, on the datasets `keptDataset` finds by id (it throws DatasetGoneError for one no longer kept). */
export function datasetAnalysisJobs(
  keptDataset: (datasetId: string) => KeptDataset,
): JobHandlers<'datasetMap' | 'datasetChannelValues' | 'datasetErrors' | 'datasetSlice' | 'datasetChannelPositions'> {
  return {
    async datasetMap({ datasetId, method }, job) {
      const { features } = keptDataset(datasetId);
      const { e, xy } = await mapOf(features, method, job);
      const data = labelledPredictions(features);
      const view: DatasetMapView = {
        method: e.method,
        space: e.space,
        count: e.points.length,
        xy: base64(xy),
        labels: base64(Uint16Array.from(data.labels, (l) => (l < 0 ? NO_LABEL : l))),
        predictions: base64(Uint16Array.from(data.predictions)),
        confidence: base64(Uint8Array.from(data.confidence, (p) => Math.round(255 * p))),
        explainedVarianceRatio: e.explainedVarianceRatio,
        misclassified: e.misclassified,
        note: e.note,
      };
      return view;
    },

    async datasetChannelValues({ datasetId, channel, pooling }) {
      const { features } = keptDataset(datasetId);
      const c = features.layerShape[0];
      if (channel >= c) throw new DatasetError(`channel ${channel} does not exist: ${features.layer} has channels 0 to ${c - 1}`);
      const matrix = pooling === 'max' ? features.maxPooled : features.meanPooled;
      const n = features.images.length;
      let max = 0;
      for (let i = 0; i < n; i++) max = Math.max(max, matrix[i * c + channel]);
      const values = Uint8Array.from({ length: n }, (_, i) => (max > 0 ? Math.round((255 * Math.max(0, matrix[i * c + channel])) / max) : 0));
      return { channel, pooling, values: base64(values), max };
    },

    async datasetErrors({ datasetId, method }, job) {
      const { features } = keptDataset(datasetId);
      const xy = maps.get(features)?.get(method) ?? (await mapOf(features, method, job)).xy;
      throwIfCancelled(job.signal);
      const confusion = summarizeDataset(features).confusion;
      const clusters = errorClusters(labelledPredictions(features), xy).slice(0, SHOWN_CLUSTERS);
      const view: ErrorAnalysisView = {
        classNames: features.classNames,
        confusion,
        pairs: confusedPairs(confusion, SHOWN_PAIRS),
        method,
        radiusShare: ERROR_CLUSTER_RADIUS,
        clusters: clusters.map((c) => ({ ...c, centroid: [c.centroid[0], c.centroid[1]] })),
      };
      return view;
    },

    async datasetSlice({ datasetId, filter, offset, pageSize }, job) {
      const kept = keptDataset(datasetId);
      const { features, input } = kept;
      const data = labelledPredictions(features);
      const n = features.images.length;
      if (filter.images?.some((i) => i >= n)) throw new DatasetError(`the dataset has ${n} images; a chosen image index is beyond them`);
      let members = sliceImages(data, toSliceFilter(kept, filter), { channels: features.layerShape[0], mean: features.meanPooled, max: features.maxPooled });
      if (filter.images) {
        const chosen = new Set(filter.images);
        members = members.filter((i) => chosen.has(i));
      }
      const page = members.slice(offset, offset + pageSize);
      const images: SliceView['images'] = [];
      for (const i of page) {
        throwIfCancelled(job.signal);
        const im = features.images[i];
        images.push({
          index: i,
          relPath: im.relPath,
          labelName: im.labelName,
          predictionName: features.classNames[data.predictions[i]] ?? `class ${data.predictions[i]}`,
          confidence: data.confidence[i],
          thumbnail: imageDataUrl(resizeForModel(await input.decode(im.file), input.spec), THUMBNAIL_SIDE),
        });
      }
      return { total: members.length, offset, images };
    },

    async datasetChannelPositions({ datasetId, channels }) {
      const { features, rules } = keptDataset(datasetId);
      const chosen = channels ?? rules?.channels;
      if (!chosen) throw new DatasetError('no channels to place: distil rules first, or name the channels');
      const view: ChannelPositionsView = {
        layer: features.layer,
        grid: POSITION_GRID,
        topShare: TOP_SHARE,
        shortcutShare: SHORTCUT_SHARE,
        channels: channelPositions(features, chosen).map((p) => ({
          channel: p.channel,
          counts: p.counts,
          images: p.images,
          peakShare: p.peakCell.share,
          where: p.where,
          likelyShortcut: p.likelyShortcut,
        })),
        poolingSuggestion: rules ? poolingSuggestion(rules) : undefined,
      };
      return view;
    },
  };
}
