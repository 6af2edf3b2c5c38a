// Class names for model outputs, and the top-k predictions of a row of scores.
//
// - Labels: a labels file (one name per line, a JSON array, or a JSON object {"0": name, ...}
//   like Hugging Face's id2label) beside the model or named by the sidecar, metadata or settings,
//   or the same list or object given inline there. A named file is read only from inside the
//   model's folder (the workspace, for settings), symlinks resolved, so a hostile model cannot
//   show another file's lines as class names. Else torchvision's
//   ImageNet-1k names for 1000 outputs (and 1001 outputs with 'background' first, TensorFlow-slim's
//   convention); else none, and callers show "class 17".
// - topK: softmax p_i = exp(z_i − max z) / Σ_j exp(z_j − max z) (torch.softmax); a row already
//   made of probabilities (all in [0, 1], summing to 1 within 1e-3) is taken as it is, so a
//   model ending in Softmax is not normalised twice. Ties keep the lower index first.
import * as fs from 'fs';
import * as path from 'path';
import { FileReadError, readFileChecked } from '../files';
import { IMAGENET_CLASSES } from './imagenet-classes';

export class LabelsError extends Error {}

/** 16 MiB holds about a million class names; a larger "labels file" is not one. */
export const MAX_LABELS_BYTES = 16 * 2 ** 20;

/**
 * Where class names come from: a file, named as `file` (relative to `base`) by `origin` and read
 * only from inside `inside`; or names given inline by `origin`.
 */
export type LabelsSource = { file: string; base: string; inside: { folder: string; name: string }; origin?: string } | { names: string[]; origin: string };

export interface Prediction {
  index: number;
  label: string;
  /** The model's raw output for this class (a logit, or a probability for softmax outputs). */
  logit: number;
  probability: number;
}

function parseLabels(text: string, name: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch (err) {
      throw new LabelsError(`${name} looks like JSON but does not parse: ${(err as Error).message}`);
    }
    if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw;
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) return labelsFromObject(raw as Record<string, unknown>, name);
    throw new LabelsError(`${name} must be a JSON list of names or an object {"0": "name", ...}`);
  }
  return text
    .replace(/\r\n/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .map((line) => line.trim());
}

/** Names from an inline {index: name} object, checked as a labels file's would be. */
export function labelsFromObject(raw: Record<string, unknown>, name: string): string[] {
  const entries = Object.entries(raw);
  const labels: string[] = new Array(entries.length);
  for (const [key, value] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || typeof value !== 'string') {
      throw new LabelsError(`${name}: keys must be the class indices 0..${entries.length - 1} and values names (found "${key}")`);
    }
    labels[index] = value;
  }
  return labels;
}

/** Reads the names a source gives: a labels file (checked as LabelsSource says) or the inline list. */
export function readLabels(source: LabelsSource): string[] {
  if ('names' in source) return source.names;
  let text: string;
  try {
    text = readFileChecked(
      path.resolve(source.base, source.file),
      {
        what: 'labels file',
        namedBy: source.origin,
        maxBytes: MAX_LABELS_BYTES,
        limitHint: 'a labels file holds one class name per line',
        inside: source.inside,
      },
      source.file,
    ).toString('utf8');
  } catch (err) {
    if (err instanceof FileReadError) throw new LabelsError(err.message);
    throw err;
  }
  return parseLabels(text, path.basename(source.file));
}

/** `<model>.labels.txt` or `<model>.labels.json` beside the model, if present. */
export function findLabelsFile(modelPath: string): LabelsSource | undefined {
  const folder = path.dirname(path.resolve(modelPath));
  const base = path.basename(modelPath).replace(/\.onnx$/i, '');
  const file = [`${base}.labels.txt`, `${base}.labels.json`].find((f) => fs.existsSync(path.join(folder, f)));
  return file ? { file, base: folder, inside: { folder, name: "the model's folder" } } : undefined;
}

/**
 * Names for an output of `outputSize` classes: from `source` when given (its count must match),
 * ImageNet-1k for 1000 (or 1001 with background) outputs, else undefined.
 */
export function labelsFor(outputSize: number, source?: LabelsSource): string[] | undefined {
  if (source) {
    const labels = readLabels(source);
    if (labels.length !== outputSize) {
      const what = 'names' in source ? `'labels' in ${source.origin}` : path.basename(source.file);
      throw new LabelsError(`${what} has ${labels.length} names but the model has ${outputSize} outputs`);
    }
    return labels;
  }
  if (outputSize === IMAGENET_CLASSES.length) return [...IMAGENET_CLASSES];
  if (outputSize === IMAGENET_CLASSES.length + 1) return ['background', ...IMAGENET_CLASSES];
  return undefined;
}

/** Whether a row is already a probability distribution: all values in [0, 1], sum 1 ± 1e-3. */
export function isProbabilityRow(row: ArrayLike<number>): boolean {
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    if (!(row[i] >= 0 && row[i] <= 1)) return false;
    sum += row[i];
  }
  return row.length > 0 && Math.abs(sum - 1) <= 1e-3;
}

/** Numerically stable softmax in double precision. */
export function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** The k highest-scoring classes, best first, with names ("class i" where unnamed). */
export function topK(row: ArrayLike<number>, k: number, labels?: readonly string[]): Prediction[] {
  const probabilities = isProbabilityRow(row) ? Float64Array.from(row as ArrayLike<number>) : softmax(row);
  const order = Array.from({ length: row.length }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  return order.slice(0, Math.max(0, k)).map((index) => ({
    index,
    label: labels?.[index] ?? `class ${index}`,
    logit: row[index],
    probability: probabilities[index],
  }));
}
