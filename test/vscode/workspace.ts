// The workspace the end-to-end suite opens, made fresh in a temporary folder: the sample models
// with their sidecars, labels and training script, a few sample images, the 1-D sample with its
// .npy and WAV inputs, the 3-D test model with a .npy clip, the code fixtures for the
// lenses, a corrupt .onnx and an image whose header claims 30000×30000 pixels.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

export const WORKSPACE_FILES = {
  model: 'sample/shapes.onnx',
  /** A second model, for choosing among open models. */
  secondModel: 'sample/shapes-shortcut.onnx',
  train: 'sample/train.py',
  images: ['sample/images/circle.png', 'sample/images/square.png', 'sample/images/star.png', 'sample/images/triangle.png'],
  pythonCode: 'code/inference.py',
  typescriptCode: 'code/inference.ts',
  /** The 1-D sample (sample/train_signal.py) with its example inputs, and the 3-D test model with a clip. */
  signalModel: 'sample/signal1d.onnx',
  signalInputs: ['sample/signals/tone-0.npy', 'sample/signals/chirp-0.npy', 'sample/signals/noise-0.npy', 'sample/signals/chirp-1.wav'],
  videoModel: 'video/video3d.onnx',
  videoClip: 'video/clip.npy',
  corruptModel: 'broken/corrupt.onnx',
  hugeImage: 'broken/huge.png',
  /** A segmentation and a detection sample, each with a scene of its own (issue 13). */
  segModel: 'sample/shapes-seg.onnx',
  detModel: 'sample/shapes-det.onnx',
  segImage: 'sample/scenes-demo/seg-0.png',
  detImage: 'sample/scenes-demo/det-1.png',
};

export function makeWorkspace(dir: string, repo: string): string {
  const copy = (from: string, to: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, to)), { recursive: true });
    fs.copyFileSync(path.join(repo, from), path.join(dir, to));
  };
  for (const name of ['shapes.onnx', 'shapes.convlens.json', 'shapes.labels.txt', 'train.py', 'shapes-shortcut.onnx', 'shapes-shortcut.convlens.json'])
    copy(`sample/${name}`, `sample/${name}`);
  for (const task of ['shapes-seg', 'shapes-det']) for (const ext of ['.onnx', '.convlens.json', '.classes.txt']) copy(`sample/${task}${ext}`, `sample/${task}${ext}`);
  for (const image of [WORKSPACE_FILES.segImage, WORKSPACE_FILES.detImage]) copy(image, image);
  for (const name of ['signal1d.onnx', 'signal1d.labels.txt']) copy(`sample/${name}`, `sample/${name}`);
  for (const input of WORKSPACE_FILES.signalInputs) copy(input, input);
  copy('test/models/video3d.onnx', WORKSPACE_FILES.videoModel);
  copy('test/models/video3d.input.npy', WORKSPACE_FILES.videoClip);
  for (const image of WORKSPACE_FILES.images) {
    const shape = path.basename(image, '.png');
    copy(`sample/dataset/test/${shape}/0.png`, image);
  }
  for (const name of fs.readdirSync(path.join(repo, 'test/vscode/fixtures/code'))) copy(`test/vscode/fixtures/code/${name}`, `code/${name}`);
  fs.mkdirSync(path.join(dir, 'broken'), { recursive: true });
  // Bytes that are no protobuf: a truncated varint-length field.
  fs.writeFileSync(path.join(dir, WORKSPACE_FILES.corruptModel), Buffer.from('0a ff ff ff ff 0f 01 02 this is not an ONNX model'.replace(/ /g, ''), 'latin1'));
  fs.writeFileSync(path.join(dir, WORKSPACE_FILES.hugeImage), pngHeaderOnly(30000, 30000));
  return dir;
}

/** A PNG whose IHDR declares the given size, with one tiny (wrong-sized) IDAT: enough for size checks. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(4))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
