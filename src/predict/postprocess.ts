import { z } from "zod";
import { readJson, parseWith } from "../io/json.js";
import { resizeBilinear } from "../data/resize.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { boxBlur, close, gaussianBlur, keepLargestComponent, open } from "./filters.js";

const oddSize = z
  .number()
  .int()
  .min(1)
  .refine((n) => n % 2 === 1, "must be odd");

/**
 * How a probability map becomes a mask. Saved with the model (and rewritten by `nerveseg tune`), so every
 * field has a default and unknown fields are rejected (a typo should not silently fall back to a default).
 */
export const PostprocessSchema = z
  .object({
    /** A pixel is nerve when its (upsampled, smoothed) probability is above this. */
    pixelThreshold: z.number().min(0).max(1).default(0.5),
    /** The image is empty when the aux head's presence probability is below this (0 = never). */
    presenceThreshold: z.number().min(0).max(1).default(0.5),
    /** The mask is emptied when it has fewer pixels than this, counted at 580x420. */
    minArea: z.number().int().min(0).default(0),
    /** Smoothing of the upsampled probability map (the reference used a 51x51 kernel). */
    blur: z
      .object({ kind: z.enum(["none", "gaussian", "box"]).default("none"), size: oddSize.default(1) })
      .strict()
      .default({ kind: "none", size: 1 }),
    /** Binary opening (drop specks) or closing (fill holes) of the thresholded mask. */
    morphology: z.enum(["none", "open", "close"]).default("none"),
    /** Square structuring element for `morphology`, in pixels at 580x420. */
    morphologySize: oddSize.default(5),
    /** Keep only the largest 8-connected component (one nerve per frame). */
    largestComponent: z.boolean().default(false),
  })
  .strict();

export type PostprocessParams = z.infer<typeof PostprocessSchema>;

export const DEFAULT_POSTPROCESS: PostprocessParams = PostprocessSchema.parse({});

/** Validates post-processing settings from a config file; `where` names it in the error. */
export function parsePostprocess(raw: unknown, where: string): PostprocessParams {
  return parseWith(PostprocessSchema, raw ?? {}, where, "post-processing ");
}

/** Reads post-processing settings from a JSON file: either the params themselves or `{postprocess: {...}}`. */
export function readPostprocessFile(file: string): PostprocessParams {
  let raw = readJson(file);
  if (raw !== null && typeof raw === "object" && "postprocess" in raw)
    raw = (raw as { postprocess: unknown }).postprocess;
  return parsePostprocess(raw, file);
}

/** A probability map at model resolution: floats in 0..1, or bytes (probability x 255) as stored. */
export interface ProbMap {
  data: Float32Array | Uint8Array;
  width: number;
  height: number;
}

/**
 * The probability map at 580x420: bilinearly upsampled (align-corners=false) and smoothed as `params.blur`
 * says. Thresholding happens after this, so the mask's edge follows the interpolated probability rather
 * than the blocky low-resolution grid.
 */
export function fullResProbability(prob: ProbMap, params: PostprocessParams): Float32Array {
  const { width, height, data } = prob;
  if (data.length !== width * height) {
    throw new Error(`postprocess: map has ${data.length} values for ${width}x${height}`);
  }
  let src: Float32Array;
  if (data instanceof Uint8Array) {
    src = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) src[i] = data[i] / 255;
  } else src = data;
  const full = resizeBilinear(src, width, height, KAGGLE_WIDTH, KAGGLE_HEIGHT);
  if (params.blur.kind === "box") boxBlur(full, KAGGLE_WIDTH, KAGGLE_HEIGHT, params.blur.size);
  else if (params.blur.kind === "gaussian") gaussianBlur(full, KAGGLE_WIDTH, KAGGLE_HEIGHT, params.blur.size);
  return full;
}

/**
 * Pixel threshold, morphology and the largest-component rule on a full-resolution probability map; the
 * presence and minimum-area rules are left to the caller (see postprocess). Returns a 0/1 mask.
 */
export function thresholdMask(full: Float32Array, params: PostprocessParams): Uint8Array {
  const t = params.pixelThreshold;
  let mask: Uint8Array = new Uint8Array(full.length);
  for (let i = 0; i < full.length; i++) mask[i] = full[i] > t ? 1 : 0;
  if (params.morphology === "open") mask = open(mask, KAGGLE_WIDTH, KAGGLE_HEIGHT, params.morphologySize);
  else if (params.morphology === "close")
    mask = close(mask, KAGGLE_WIDTH, KAGGLE_HEIGHT, params.morphologySize);
  if (params.largestComponent) keepLargestComponent(mask, KAGGLE_WIDTH, KAGGLE_HEIGHT);
  return mask;
}

/** Pixels on in a 0/1 (or 0/255) mask. */
export function maskArea(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  return n;
}

/**
 * A model output → the 580x420 mask Kaggle scores (0/1, row-major). Empty when the presence probability is
 * below presenceThreshold (checked first: no upsampling for frames the aux head calls empty) or when fewer
 * than minArea pixels survive.
 */
export function postprocess(prob: ProbMap, presence: number, params: PostprocessParams): Uint8Array {
  const empty = new Uint8Array(KAGGLE_WIDTH * KAGGLE_HEIGHT);
  if (presence < params.presenceThreshold) return empty;
  const mask = thresholdMask(fullResProbability(prob, params), params);
  return maskArea(mask) < params.minArea ? empty : mask;
}
