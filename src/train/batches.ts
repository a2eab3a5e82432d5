/*
 * Training data in memory at model resolution, and the batches made from it.
 *
 * Frames are read one row at a time from the prepared .npy arrays and resized once (area average; masks
 * area-averaged then thresholded at 0.5), so the full-resolution set is never in memory: 5,635 frames at
 * 64x80 are 29 MB of images + 29 MB of masks. The arrays live in SharedArrayBuffers so the batch worker
 * (batch-worker.ts, fed by batch-source.ts) reads them without a copy.
 *
 * Randomness is derived, not carried: the order of epoch e comes from seedFor(seed, e) and the
 * augmentation of batch b of epoch e from seedFor(seed, e, b + 1). A batch can therefore be built ahead of
 * time on another thread, and a resumed run only needs (epoch, batch) to replay the exact same stream.
 */
import path from "node:path";
// The pure-JS Rng only: this module also runs in the batch worker, which must not load the native addon.
import { Rng } from "../core/random.js";
import { NpyRowReader } from "../io/npy.js";
import { cropRect, fitFrame, type Fit } from "../data/resize.js";
import { trimFrame } from "../data/trim.js";
import { augmentBatch, type AugmentOptions } from "./augment.js";
import { frameSignature } from "../data/dedupe.js";
import type { Manifest } from "../data/manifest.js";
import type { TrainConfig } from "../model/config.js";
import type { Normalization } from "../model/unet.js";

/** Frames and masks at model resolution, row-major, back to back. */
export interface FrameSet {
  width: number;
  height: number;
  /** Manifest row of each frame. */
  rows: number[];
  ids: string[];
  groups: string[];
  images: Uint8Array;
  /** 0/1. */
  masks: Uint8Array;
}

function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(Math.max(1, n))).subarray(0, n);
}

export interface LoadedFrames {
  set: FrameSet;
  /** Full-resolution dedupe signatures of the frames (when asked for). */
  signatures: Float64Array[] | null;
}

/**
 * Reads the manifest rows `rows` of a prepared folder, their bars cut when `trim` says so, brought to
 * width x height as `fit` says (stretched, or letterboxed to each frame's own aspect). With `signatures`,
 * also computes each frame's dedupe signature from the full-resolution image while it is at hand.
 */
export function loadFrames(
  dir: string,
  manifest: Manifest,
  rows: readonly number[],
  width: number,
  height: number,
  opts: { signatures?: boolean; onProgress?: (done: number) => void; fit?: Fit; trim?: boolean } = {},
): LoadedFrames {
  const images = new NpyRowReader(path.join(dir, manifest.train.images));
  const masks = new NpyRowReader(path.join(dir, manifest.train.masks));
  try {
    const W = manifest.width;
    const H = manifest.height;
    const px = width * height;
    const set: FrameSet = {
      width,
      height,
      rows: [...rows],
      ids: rows.map((r) => manifest.train.ids[r]),
      groups: rows.map((r) => manifest.train.groups[r]),
      images: sharedBytes(rows.length * px),
      masks: sharedBytes(rows.length * px),
    };
    const signatures: Float64Array[] | null = opts.signatures ? [] : null;
    const img = new Uint8Array(W * H);
    const msk = new Uint8Array(W * H);
    const fit = opts.fit ?? "stretch";
    rows.forEach((r, i) => {
      images.read(r, img);
      masks.read(r, msk);
      const [ow, oh] = manifest.train.sizes[r];
      // The mask is cut to the image's box: the bars hold no anatomy.
      const t = trimFrame(img, W, H, { width: ow, height: oh }, opts.trim ?? false);
      const place = (src: Uint8Array, kind: "image" | "mask", dst: Uint8Array) =>
        fitFrame(src, t.width, t.height, t.own, width, height, fit, kind, dst.subarray(i * px, (i + 1) * px));
      place(t.data, "image", set.images);
      place(cropRect(msk, W, H, t.pixels), "mask", set.masks);
      signatures?.push(frameSignature(img, W, H));
      opts.onProgress?.(i + 1);
    });
    return { set, signatures };
  } finally {
    images.close();
    masks.close();
  }
}

/** A 32-bit seed from a base seed and a path of integers (splitmix-style mixing). */
export function seedFor(seed: number, ...path: number[]): number {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (const p of [...path, path.length]) {
    h = (h + Math.imul((p >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** The frame order of one epoch (a seeded shuffle of 0..n-1). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new Rng(seedFor(seed, epoch)).shuffle(Array.from({ length: n }, (_, i) => i));
}

/**
 * Splits an order into batches of exactly `batch` frames: a short last batch is topped up with the
 * first frames of the order (so every frame is still seen each epoch). Constant shapes let the engine
 * reuse its buffers; a second set of odd-sized activations would almost double the memory held.
 * Fewer frames than `batch` make one batch of all of them.
 */
export function batchesOf(order: readonly number[], batch: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batch) out.push(order.slice(i, i + batch));
  const last = out[out.length - 1];
  if (out.length > 1 && last.length < batch) last.push(...order.slice(0, batch - last.length));
  return out;
}

/** The augmentation of a train config, in augment.ts's terms. */
export function augmentOptions(t: TrainConfig): AugmentOptions {
  return {
    flipH: t.augment.flipX ? 0.5 : 0,
    flipV: t.augment.flipY ? 0.5 : 0,
    rotateDeg: t.augment.rotate,
    translatePx: t.augment.translate,
    scale: t.augment.scale,
    elastic: t.augment.elastic,
    border: "reflect",
    intensity: t.augment.intensity,
  };
}

/** One batch, ready for the network. */
export interface Batch {
  count: number;
  /** [count, H, W, 1] normalised images. */
  x: Float32Array;
  /** [count, H, W, 1] 0/1 masks. */
  y: Float32Array;
  /** [count, 1] 1 when the (augmented) mask is not empty. */
  has: Float32Array;
}

export interface BatchSpec {
  /** Frame indices into the FrameSet. */
  indices: number[];
  /** Augmentation seed; null = no augmentation (validation). */
  seed: number | null;
}

/** The data a batch is built from (plain, structured-clone friendly: the worker gets the same object). */
export interface BatchContext {
  width: number;
  height: number;
  images: Uint8Array;
  masks: Uint8Array;
  normalization: Normalization;
  augment: AugmentOptions;
}

/** Gathers, augments (identically for image and mask) and normalises one batch. */
export function buildBatch(ctx: BatchContext, spec: BatchSpec): Batch {
  const px = ctx.width * ctx.height;
  const n = spec.indices.length;
  const img = new Float32Array(n * px);
  const msk = new Float32Array(n * px);
  spec.indices.forEach((f, i) => {
    const src = ctx.images.subarray(f * px, (f + 1) * px);
    const m = ctx.masks.subarray(f * px, (f + 1) * px);
    for (let k = 0; k < px; k++) {
      img[i * px + k] = src[k];
      msk[i * px + k] = m[k];
    }
  });
  let x = img;
  let y = msk;
  if (spec.seed !== null) {
    x = new Float32Array(n * px);
    y = new Float32Array(n * px);
    const rng = new Rng(spec.seed);
    augmentBatch(() => rng.uniform(), ctx.augment, n, ctx.width, ctx.height, img, msk, x, y);
  }
  const { mean, std } = ctx.normalization;
  const k = 1 / std;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) * k;
  const has = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = y.subarray(i * px, (i + 1) * px);
    has[i] = m.some((v) => v !== 0) ? 1 : 0;
  }
  return { count: n, x, y, has };
}
