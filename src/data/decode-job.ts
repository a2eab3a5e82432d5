// One image file (and its masks) decoded into frames at the job's size: any format src/io/image-read.ts
// reads, masks merged by union. The work of a decode worker (decode-worker.ts), kept apart from its message
// loop so that the pool (decode-pool.ts) shares the job types without importing the worker.
import { maskFromDecoded, readImageFile } from "../io/image-read.js";
import { maskValues } from "../io/mask-read.js";
import { resizeArea, resizeMask } from "./resize.js";

/** One image file (and its masks) to decode on a worker. */
export interface DecodeJob {
  index: number;
  image: string;
  /** Mask files of the image, merged by union; empty = no target (an all-zero mask); null = no mask wanted. */
  masks: string[] | null;
  /** Bring every frame to this size (area resize; masks by covered fraction >= 0.5); null = keep its own. */
  width: number | null;
  height: number | null;
  /** A frame of another size than width x height is an error instead (the Kaggle layout: all 580x420). */
  exact?: boolean;
  /** Pick one value of a label-map mask as the foreground. */
  maskLabel?: number;
  /** Frames of a multi-frame file (DICOM cine, multi-page TIFF): all, the first, or an error. */
  frames: "all" | "first" | "refuse-multi";
}

/** One decoded frame: 8-bit grey at the job's size, its own size, and its mask's statistics. */
export interface DecodedFrameOut {
  /** The file's base name, or `name#k` for frame k of a multi-frame file. */
  name: string;
  width: number;
  height: number;
  image: Uint8Array;
  /** The frame's size in the file. */
  ownWidth: number;
  ownHeight: number;
  /** 0/1 at width x height (null when the job asked for none). */
  mask: Uint8Array | null;
  /** Foreground pixels of `mask`. */
  area: number;
  /** The label values its masks hold (see maskValues in src/io/mask-read.ts), ascending; [] for none. */
  maskValues: number[];
  mean: number;
  std: number;
}

export type DecodeResult =
  { index: number; ok: true; frames: DecodedFrameOut[] } | { index: number; ok: false; error: string };

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

/** The union of a training image's masks (each checked against the image's size) and the labels they hold. */
async function readMasks(
  job: DecodeJob,
  width: number,
  height: number,
): Promise<{ union: Uint8Array; values: number[] }> {
  const union = new Uint8Array(width * height);
  const values = new Set<number>();
  for (const file of job.masks ?? []) {
    const d = await readImageFile(file, { frames: "refuse-multi" });
    const f = d.frames[0];
    if (f.image.width !== width || f.image.height !== height)
      throw new Error(
        `${file}: mask is ${f.image.width}x${f.image.height}, its image ${job.image} is ${width}x${height}`,
      );
    const m = maskFromDecoded(d, f, { label: job.maskLabel });
    for (let i = 0; i < union.length; i++) union[i] |= m[i];
    // A picked label is a label map for sure: every value counts, and the label wherever it is (even on a
    // palette entry the binary reading calls background), so that "no mask holds it" is exact.
    const picked = job.maskLabel !== undefined;
    for (const v of maskValues(d, f, picked ? Infinity : undefined)) values.add(v);
    if (picked && m.includes(1)) values.add(job.maskLabel!);
  }
  return { union, values: [...values].sort((a, b) => a - b) };
}

export async function decode(job: DecodeJob): Promise<DecodedFrameOut[]> {
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
    let values: number[] = [];
    if (job.masks !== null) {
      const { union: own, values: held } = await readMasks(job, ow, oh);
      values = held;
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
      maskValues: values,
      mean,
      std,
    });
  }
  return out;
}
