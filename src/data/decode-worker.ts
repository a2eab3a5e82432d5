// Decodes one image file (and its masks) per message, off the main thread, so prepare and predict use
// every core: any format src/io/image-read.ts reads, masks merged by union, frames brought to the job's size.
import { parentPort } from "node:worker_threads";
import { maskFromDecoded, readImageFile } from "../io/image-read.js";
import type { DecodedFrameOut, DecodeJob, DecodeResult } from "./decode-pool.js";
import { resizeArea, resizeMask } from "./resize.js";

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

/** The union of a training image's masks (each checked against the image's size). */
async function readMasks(job: DecodeJob, width: number, height: number): Promise<Uint8Array> {
  const union = new Uint8Array(width * height);
  for (const file of job.masks ?? []) {
    const d = await readImageFile(file, { frames: "refuse-multi" });
    const f = d.frames[0];
    if (f.image.width !== width || f.image.height !== height)
      throw new Error(
        `${file}: mask is ${f.image.width}x${f.image.height}, its image ${job.image} is ${width}x${height}`,
      );
    const m = maskFromDecoded(d, f, { label: job.maskLabel });
    for (let i = 0; i < union.length; i++) union[i] |= m[i];
  }
  return union;
}

async function decode(job: DecodeJob): Promise<DecodedFrameOut[]> {
  const d = await readImageFile(job.image, { frames: job.frames });
  const out: DecodedFrameOut[] = [];
  for (const f of d.frames) {
    const { width: ow, height: oh } = f.image;
    const W = job.width ?? ow;
    const H = job.height ?? oh;
    if (job.exact && (W !== ow || H !== oh))
      throw new Error(`${job.image}: size ${ow}x${oh}, expected ${W}x${H}`);
    const image = W === ow && H === oh ? f.image.data : resizeArea(f.image.data, ow, oh, W, H);
    let mask: Uint8Array | null = null;
    let area = 0;
    if (job.masks !== null) {
      const own = await readMasks(job, ow, oh);
      mask = W === ow && H === oh ? own : resizeMask(own, ow, oh, W, H);
      for (let i = 0; i < mask.length; i++) area += mask[i];
    }
    const [mean, std] = meanStd(image);
    out.push({
      name: f.name,
      width: W,
      height: H,
      image,
      ownWidth: ow,
      ownHeight: oh,
      mask,
      area,
      mean,
      std,
    });
  }
  return out;
}

parentPort!.on("message", (job: DecodeJob) => {
  decode(job).then(
    (frames) => {
      const result: DecodeResult = { index: job.index, ok: true, frames };
      // Copies, so that no frame shares a buffer with another (the decoder may hand out views).
      const owned = frames.map((f) => ({ ...f, image: f.image.slice(), mask: f.mask && f.mask.slice() }));
      const transfer: ArrayBuffer[] = [];
      for (const f of owned) {
        transfer.push(f.image.buffer as ArrayBuffer);
        if (f.mask) transfer.push(f.mask.buffer as ArrayBuffer);
      }
      parentPort!.postMessage({ ...result, frames: owned }, transfer);
    },
    (e: unknown) => {
      parentPort!.postMessage({
        index: job.index,
        ok: false,
        error: (e as Error).message,
      } satisfies DecodeResult);
    },
  );
});
