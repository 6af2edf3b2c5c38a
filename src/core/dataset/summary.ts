// What the network does on a dataset, from its features: per-class counts, accuracy against the
// folder labels, the confusion matrix (rows: folder label, columns: prediction, as
// sklearn.metrics.confusion_matrix) and the misclassified images with the softmax probability
// of the predicted class, p_k = exp(z_k − max z) / Σ_j exp(z_j − max z).
import { softmax } from '../labels/labels';
import { DatasetFeatures, rowOf } from './features';

export interface ClassSummary {
  name: string;
  /** Images in the class's folder. */
  labelled: number;
  /** Images the network assigns to the class. */
  predicted: number;
  /** Images of the folder predicted as the class. */
  correct: number;
}

export interface MisclassifiedImage {
  relPath: string;
  labelName: string;
  predictionName: string;
  /** Softmax probability of the predicted class. */
  confidence: number;
}

export interface DatasetSummary {
  root: string;
  layer: string;
  penultimate: string;
  images: number;
  classNames: string[];
  classes: ClassSummary[];
  /** Share of labelled images predicted as their label; undefined without labels. */
  accuracy?: number;
  /** confusion[label][prediction] over labelled images. */
  confusion: number[][];
  /** Most confident mistakes first. */
  misclassified: MisclassifiedImage[];
  /** Images outside any class folder, or in a folder that is not a class. */
  unlabelled: number;
  cache: { computed: number; cached: number; modelRuns: number };
}

export function summarizeDataset(features: DatasetFeatures): DatasetSummary {
  const k = features.classNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const classes: ClassSummary[] = features.classNames.map((name) => ({ name, labelled: 0, predicted: 0, correct: 0 }));
  const misclassified: MisclassifiedImage[] = [];
  let labelled = 0;
  let correct = 0;
  features.images.forEach((im, i) => {
    const p = features.predictions[i];
    classes[p].predicted++;
    if (im.label === undefined) return;
    labelled++;
    classes[im.label].labelled++;
    confusion[im.label][p]++;
    if (im.label === p) {
      classes[p].correct++;
      correct++;
    } else {
      const probabilities = softmax(rowOf(features.logits, i, k));
      misclassified.push({ relPath: im.relPath, labelName: im.labelName!, predictionName: features.classNames[p], confidence: probabilities[p] });
    }
  });
  misclassified.sort((a, b) => b.confidence - a.confidence || (a.relPath < b.relPath ? -1 : 1));
  return {
    root: features.root,
    layer: features.layer,
    penultimate: features.penultimate,
    images: features.images.length,
    classNames: features.classNames,
    classes,
    accuracy: labelled > 0 ? correct / labelled : undefined,
    confusion,
    misclassified,
    unlabelled: features.images.length - labelled,
    cache: features.stats,
  };
}
