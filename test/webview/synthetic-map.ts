// A synthetic dataset of many images for the canvas feature map (the webview test and the bench):
// CLASSES blobs of points (uniform in discs, far apart) on a ring, every 20th point of a blob
// predicted as the next class, and one lone point at the ring's centre. Deterministic. And the
// panel's steps to show it.
import type { DatasetMapView, DatasetView } from '../../src/protocol';
import { WebviewPage } from './harness';

export const CLASSES = 10;
const BLOB_RADIUS = 1;
const RING_RADIUS = 10;

export interface SyntheticMap {
  dataset: DatasetView;
  map: DatasetMapView;
  xy: Float32Array;
  /** The image at the ring's centre, alone. */
  lone: number;
  /** Blob k holds images [k·perBlob, (k+1)·perBlob). */
  perBlob: number;
  blobCentre(k: number): [number, number];
}

export function syntheticMap(count: number): SyntheticMap {
  const perBlob = Math.floor((count - 1) / CLASSES);
  const n = perBlob * CLASSES + 1;
  const lone = n - 1;
  const blobCentre = (k: number): [number, number] => [RING_RADIUS * Math.cos((2 * Math.PI * k) / CLASSES), RING_RADIUS * Math.sin((2 * Math.PI * k) / CLASSES)];
  const xy = new Float32Array(2 * n);
  const labels = new Uint16Array(n);
  const predictions = new Uint16Array(n);
  const confidence = new Uint8Array(n);
  let seed = 1;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < n - 1; i++) {
    const k = Math.floor(i / perBlob);
    const [cx, cy] = blobCentre(k);
    const r = BLOB_RADIUS * Math.sqrt(random());
    const t = 2 * Math.PI * random();
    xy[2 * i] = cx + r * Math.cos(t);
    xy[2 * i + 1] = cy + r * Math.sin(t);
    labels[i] = k;
    predictions[i] = i % 20 === 0 ? (k + 1) % CLASSES : k;
    confidence[i] = 128 + (i % 128);
  }
  labels[lone] = 0;
  predictions[lone] = 0;
  confidence[lone] = 255;
  const classNames = Array.from({ length: CLASSES }, (_, k) => `class${k}`);
  const images = Array.from({ length: n }, (_, i) => ({
    relPath: `${classNames[labels[i]]}/${String(i).padStart(6, '0')}.png`,
    labelName: classNames[labels[i]],
    label: labels[i],
    prediction: predictions[i],
    confidence: confidence[i] / 255,
  }));
  const confusion = classNames.map(() => new Array<number>(CLASSES).fill(0));
  for (let i = 0; i < n; i++) confusion[labels[i]][predictions[i]]++;
  const misclassified = images.filter((im) => im.label !== im.prediction).length;
  const dataset: DatasetView = {
    folder: '/synthetic',
    layer: '/block4/relu/Relu_output_0',
    layerShape: [64, 8, 8],
    penultimate: 'pool',
    inputSize: [64, 64],
    classNames,
    images,
    classes: classNames.map((name, k) => ({
      name,
      labelled: images.filter((im) => im.label === k).length,
      predicted: images.filter((im) => im.prediction === k).length,
      correct: confusion[k][k],
    })),
    accuracy: 1 - misclassified / n,
    confusion,
    unlabelled: 0,
    cache: { computed: n, cached: 0, modelRuns: n, stored: false },
    skipped: [],
  };
  const b64 = (a: Float32Array | Uint16Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const map: DatasetMapView = {
    method: 'pca',
    space: 'synthetic features',
    count: n,
    xy: b64(xy),
    labels: b64(labels),
    predictions: b64(predictions),
    confidence: b64(confidence),
    explainedVarianceRatio: [0.5, 0.3],
    misclassified,
  };
  return { dataset, map, xy, lone, perBlob, blobCentre };
}

/** The panel's Dataset tab with a synthetic dataset extracted and its map shown. */
export async function showSyntheticMap(wp: WebviewPage, s: SyntheticMap, folder: { path: string; label: string }, model: Parameters<WebviewPage['send']>[0]): Promise<void> {
  await wp.send(model);
  await wp.send({ type: 'datasetFolders', folders: [folder] });
  await wp.page.click('vscode-tab-header[data-tab=dataset]');
  const answer = async (button: string, kind: 'datasetFeatures' | 'datasetMap', result: unknown) => {
    const count = await wp.countPosts(kind);
    await wp.page.click(button);
    const posted = await wp.waitForPost(kind, count + 1);
    await wp.send({ type: 'response', requestId: posted.requestId as string, kind, result } as Parameters<WebviewPage['send']>[0]);
  };
  await answer('#dataset-run', 'datasetFeatures', s.dataset);
  await wp.page.waitForSelector('.dataset-summary:not([hidden])');
  await answer('#map-run', 'datasetMap', s.map);
  await wp.page.waitForFunction(() => Number((document.querySelector('#feature-map') as HTMLElement | null)?.dataset.frames ?? 0) > 0);
}
