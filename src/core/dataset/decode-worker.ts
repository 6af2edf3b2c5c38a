// A decoding thread of the dataset's decode pool (decode-pool.ts): reads, decodes and preprocesses
// images with the same functions as the main thread, so its tensors are the same bit for bit.
// Built as its own file (dist/decode-worker.js, out/src/core/dataset/decode-worker.js).
import { parentPort } from 'worker_threads';
import { readImageFile } from '../image/decode';
import { preprocessImage } from '../preprocess/image';
import type { DecodeRequest, DecodeReply } from './decode-pool';

parentPort?.on('message', (request: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const tensor = preprocessImage(readImageFile(request.file, request.limits), request.spec, request.limits).tensor;
    reply = { id: request.id, dims: tensor.dims, data: tensor.data };
    parentPort?.postMessage(reply, [tensor.data.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
    parentPort?.postMessage(reply);
  }
});
