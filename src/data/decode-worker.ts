// Decodes one Kaggle frame (and its mask) per message, off the main thread, so prepare uses every core.
import { parentPort } from "node:worker_threads";
import { readTiff } from "../io/tiff.js";
import type { DecodeJob, DecodeResult } from "./decode-pool.js";

function meanStd(data: Uint8Array): [number, number] {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    s += v;
    s2 += v * v;
  }
  const mean = s / data.length;
  return [mean, Math.sqrt(Math.max(0, s2 / data.length - mean * mean))];
}

parentPort!.on("message", (job: DecodeJob) => {
  try {
    const img = readTiff(job.image);
    if (img.width !== job.width || img.height !== job.height)
      throw new Error(`${job.image}: size ${img.width}x${img.height}, expected ${job.width}x${job.height}`);
    const [mean, std] = meanStd(img.data);
    let mask: Uint8Array | null = null;
    let area = 0;
    if (job.mask !== null) {
      const m = readTiff(job.mask);
      if (m.width !== job.width || m.height !== job.height)
        throw new Error(`${job.mask}: size ${m.width}x${m.height}, expected ${job.width}x${job.height}`);
      mask = new Uint8Array(m.data.length);
      for (let i = 0; i < mask.length; i++)
        if (m.data[i] !== 0) {
          mask[i] = 1;
          area++;
        }
    }
    const result: DecodeResult = { index: job.index, ok: true, image: img.data, mask, area, mean, std };
    const transfer = [img.data.buffer as ArrayBuffer];
    if (mask) transfer.push(mask.buffer as ArrayBuffer);
    parentPort!.postMessage(result, transfer);
  } catch (e) {
    const message = (e as Error).message;
    parentPort!.postMessage({ index: job.index, ok: false, error: message } satisfies DecodeResult);
  }
});
