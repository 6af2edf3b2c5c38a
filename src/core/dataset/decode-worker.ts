// A decoding thread of the dataset's decode pool (decode-pool.ts): reads, decodes and preprocesses
// images with the same functions as the main thread, so its tensors are the same bit for bit.
// Built as its own file (dist/decode-worker.js, out/src/core/dataset/decode-worker.js).
import { parentPort } from 'worker_threads';
import { readImageFile } from '../image/decode';
import { preprocessImage } from '../preprocess/image';
import { LoadedInput, loadInput } from '../preprocess/input';
import type { DecodeRequest, DecodeReply } from './decode-pool';

function load(request: DecodeRequest): LoadedInput {
  if (request.kind === 'input') return loadInput(request.file, request.spec, request.expectedShape, request.limits);
  const tensor = preprocessImage(readImageFile(request.file, request.limits), request.spec, request.limits).tensor;
  return { tensor, kind: 'image', description: '' };
}

parentPort?.on('message', (request: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const input = load(request);
    reply = { id: request.id, input };
    const buffers = [input.tensor.data.buffer, input.rgb?.data.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    parentPort?.postMessage(reply, [...new Set(buffers)]);
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
    parentPort?.postMessage(reply);
  }
});
