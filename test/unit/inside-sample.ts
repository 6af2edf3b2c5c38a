// The sample model and its test images for the "looking inside" tests: sample/shapes.onnx
// (input [N, 3, 64, 64]) and sample/dataset/test/<class>/<n>.png, preprocessed as
// sample/shapes.convlens.json says (x/255, then (x − mean)/std).
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage } from '../../src/core/image/decode';
import { FloatTensor, float32 } from '../../src/core/tensor';

export const SAMPLE_DIR = path.resolve(__dirname, '../../../sample');
export const SAMPLE_MODEL = path.join(SAMPLE_DIR, 'shapes.onnx');

export function sampleAvailable(): boolean {
  return fs.existsSync(SAMPLE_MODEL) && fs.existsSync(path.join(SAMPLE_DIR, 'dataset', 'test'));
}

export function sampleNormalization(): { mean: number[]; std: number[] } {
  const sidecar = JSON.parse(fs.readFileSync(path.join(SAMPLE_DIR, 'shapes.convlens.json'), 'utf8'));
  return { mean: sidecar.mean, std: sidecar.std };
}

/** Every test image (or the first `limit` of each class, in numeric order) as one batch [N, 3, 64, 64]. */
export function sampleImages(limit = Infinity): FloatTensor {
  const root = path.join(SAMPLE_DIR, 'dataset', 'test');
  const { mean, std } = sampleNormalization();
  const files = fs
    .readdirSync(root)
    .sort()
    .flatMap((cls) =>
      fs
        .readdirSync(path.join(root, cls))
        .filter((f) => f.endsWith('.png'))
        .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
        .slice(0, limit)
        .map((f) => path.join(root, cls, f)),
    );
  const batch = float32([files.length, 3, 64, 64]);
  const plane = 64 * 64;
  files.forEach((file, n) => {
    const image = decodeImage(fs.readFileSync(file));
    if (image.width !== 64 || image.height !== 64) throw new Error(`${file} is ${image.width}×${image.height}, the sample model takes 64×64`);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) batch.data[(n * 3 + c) * plane + p] = (image.data[p * 3 + c] / 255 - mean[c]) / std[c];
    }
  });
  return batch;
}

/** Declares a suite on the sample model; when it is absent the suite is one skipped test saying so. */
export function describeSample(title: string, body: () => void): void {
  describe(title, function () {
    if (!sampleAvailable()) {
      it(`SKIPPED: the sample model or its test images are missing under ${SAMPLE_DIR}`, function () {
        this.skip();
      });
      return;
    }
    body();
  });
}
