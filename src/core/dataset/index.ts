// Dataset-level explanations: the public entry points (see each module's header for its method).
export { DatasetError } from './errors';
export { parseShard, shardFromEnvironment, shardOfPath, describeShard, type Shard } from './shard';
export { mergeShardedCache } from './cache';
export { listDataset, type DatasetImage, type DatasetListing } from './folder';
export { explainImages, type ExplainImagesRequest, type ExplainImagesControl, type ExplainedImage } from './explain-images';
export { inputPipelineFor, type InputPipeline } from './input';
export { findClassifierHead, type ClassifierHead } from './head';
export { extractFeatures, imageFeatures, modelHash, rowOf, type DatasetFeatures, type FeatureOptions, type FeatureStats, type ImageFeatures } from './features';
export { summarizeDataset, type DatasetSummary } from './summary';
export { trainTree, predictTree, leafPaths, giniImpurity, type DecisionTree, type TreeOptions } from './cart';
export { distillRules, rulesToText, rulesToJson, type Rule, type RuleOptions, type RuleSet, type Pooling } from './rules';
export { channelExemplars, channelMaps, topPatches, layerField, receptiveBox, type ChannelExemplars, type ChannelPatch, type ActivationMap } from './exemplars';
export { embedDataset, umap2d, type Embedding, type EmbeddingMethod, type EmbeddingOptions, type EmbeddedPoint } from './embedding';
export { pca, type PcaResult } from './pca';
export { nearestNeighbors, neighborsOf, type Metric, type Neighbor, type NeighborOptions, type NeighborResult } from './neighbors';
export { gradientImportance, ablationImportance, selectImages, type ChannelImportance, type ImportanceOptions } from './importance';
export {
  MARK_EFFECT,
  markChannels,
  markResponse,
  readMarkBoxes,
  removeMark,
  type MarkResponse,
  type MarkedImage,
  type ChannelMarkResponse,
  type PredictionChange,
} from './shortcut';
