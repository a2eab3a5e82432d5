/*
 * The mask rule: how a model's probability map and presence probability become a mask. Its one owner, used
 * alike by training's validation score, tuning, prediction, submissions and the viewer:
 *   1. the map is bilinearly upsampled to the output size (580x420 for Kaggle), or into its box of it when
 *      the model saw a crop (trimmed bars; zero outside), and smoothed (`blur`);
 *   2. a pixel is on when its probability is strictly above pixelThreshold (`pixelOn`: `p > t`, so
 *      p = 0.5 at the default threshold is off, and threshold 1 means nothing is on);
 *   3. morphology, then the largest component, then the shape priors (hole filling; convex hull or moment
 *      ellipse);
 *   4. the whole mask is emptied when the presence probability is below presenceThreshold, or when fewer
 *      than minArea pixels are on (`gatedEmpty`).
 */
import { z } from "zod";
import { readJson, parseWith } from "../io/json.js";
import { fitRect, pasteRect, resizeBilinear, unfitMap, type Fit } from "../data/resize.js";
import { boxPixels, ownInBox, type FrameBox } from "../data/trim.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { diceFromCounts } from "../metric/dice.js";
import { boxBlur, close, gaussianBlur, keepLargestComponent, open } from "./filters.js";
import { convexHullFill, fillHoles, momentEllipse } from "./shape.js";

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
    /** Fill the holes of the mask (background not connected to the frame's border). */
    fillHoles: z.boolean().default(false),
    /** Replace the mask by its convex hull, or by an ellipse of its area, centre and second moments. */
    shape: z.enum(["none", "convex-hull", "ellipse"]).default("none"),
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

/** The pixel rule: on when the probability is strictly above the threshold. */
export function pixelOn(p: number, threshold: number): boolean {
  return p > threshold;
}

/**
 * The image rule: the whole mask is empty when the presence head says no (presence < presenceThreshold)
 * or when fewer than minArea pixels are on (an empty mask is empty whatever minArea is).
 */
export function gatedEmpty(
  presence: number,
  area: number,
  params: Pick<PostprocessParams, "presenceThreshold" | "minArea">,
): boolean {
  return presence < params.presenceThreshold || area < params.minArea || area === 0;
}

/** Output size of the mask rule: the Kaggle frame unless the caller names the image's own size. */
export interface MaskSize {
  width: number;
  height: number;
}
export const KAGGLE_SIZE: MaskSize = { width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT };

/** A probability map at model resolution: floats in 0..1, or bytes (probability x 255) as stored. */
export interface ProbMap {
  data: Float32Array | Uint8Array;
  width: number;
  height: number;
  /** The part of the frame the map covers (the model's input was cropped to it); absent: all of it. */
  box?: FrameBox | null;
}

/**
 * A model-resolution map as the mask rule takes it: the letterbox margin dropped (fit), placed into its box
 * of the frame (trimmed bars; null: the whole frame). `own` is the frame's own size (letterbox keeps its
 * aspect; stretch ignores it).
 */
export function placeMap<T extends Float32Array | Uint8Array>(
  data: T,
  W: number,
  H: number,
  fit: Fit,
  box: FrameBox | null,
  own: { width: number; height: number },
): ProbMap {
  const o = box ? ownInBox(own, box) : own;
  const rect = fitRect(o.width, o.height, W, H, fit);
  return { data: unfitMap(data, W, H, rect), width: rect.width, height: rect.height, box };
}

/**
 * The probability map at the output size (580x420 by default): bilinearly upsampled (align-corners=false)
 * and smoothed as `params.blur` says. Thresholding happens after this, so the mask's edge follows the
 * interpolated probability rather than the blocky low-resolution grid.
 */
export function fullResProbability(
  prob: ProbMap,
  params: PostprocessParams,
  size: MaskSize = KAGGLE_SIZE,
): Float32Array {
  const { width, height, data } = prob;
  if (data.length !== width * height) {
    throw new Error(`postprocess: map has ${data.length} values for ${width}x${height}`);
  }
  let src: Float32Array;
  if (data instanceof Uint8Array) {
    src = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) src[i] = data[i] / 255;
  } else src = data;
  const W = size.width;
  const H = size.height;
  let full: Float32Array;
  if (prob.box) {
    const b = boxPixels(prob.box, W, H);
    full = pasteRect(resizeBilinear(src, width, height, b.width, b.height), new Float32Array(W * H), W, b);
  } else full = resizeBilinear(src, width, height, W, H);
  if (params.blur.kind === "box") boxBlur(full, W, H, params.blur.size);
  else if (params.blur.kind === "gaussian") gaussianBlur(full, W, H, params.blur.size);
  return full;
}

/**
 * Pixel threshold, morphology, the largest-component rule and the shape priors on a full-resolution probability map; the
 * presence and minimum-area rules are left to the caller (see postprocess). Returns a 0/1 mask.
 */
export function thresholdMask(
  full: Float32Array,
  params: PostprocessParams,
  size: MaskSize = KAGGLE_SIZE,
): Uint8Array {
  const t = params.pixelThreshold;
  const { width: W, height: H } = size;
  if (full.length !== W * H) throw new Error(`postprocess: map has ${full.length} values for ${W}x${H}`);
  let mask: Uint8Array = new Uint8Array(full.length);
  for (let i = 0; i < full.length; i++) mask[i] = pixelOn(full[i], t) ? 1 : 0;
  if (params.morphology === "open") mask = open(mask, W, H, params.morphologySize);
  else if (params.morphology === "close") mask = close(mask, W, H, params.morphologySize);
  if (params.largestComponent) keepLargestComponent(mask, W, H);
  if (params.fillHoles) mask = fillHoles(mask, W, H);
  if (params.shape === "convex-hull") mask = convexHullFill(mask, W, H);
  else if (params.shape === "ellipse") mask = momentEllipse(mask, W, H);
  return mask;
}

/** Pixels on in a 0/1 (or 0/255) mask. */
export function maskArea(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  return n;
}

/**
 * A model output → the mask at the output size (580x420, what Kaggle scores, by default; 0/1, row-major).
 * Empty when the presence probability is below presenceThreshold (checked first: no upsampling for frames
 * the aux head calls empty) or when fewer than minArea pixels survive.
 */
export function postprocess(
  prob: ProbMap,
  presence: number,
  params: PostprocessParams,
  size: MaskSize = KAGGLE_SIZE,
): Uint8Array {
  const empty = new Uint8Array(size.width * size.height);
  // The presence gate first: no upsampling for frames the aux head calls empty.
  if (presence < params.presenceThreshold) return empty;
  const mask = thresholdMask(fullResProbability(prob, params, size), params, size);
  return gatedEmpty(presence, maskArea(mask), params) ? empty : mask;
}

/**
 * A full-resolution (580x420) area in pixels at a width x height resolution: scaled by the pixel-count
 * ratio, so a mask covering the same fraction of the frame passes at both resolutions.
 */
export function scaleMinArea(fullResArea: number, width: number, height: number): number {
  return (fullResArea * width * height) / (KAGGLE_WIDTH * KAGGLE_HEIGHT);
}

/**
 * The Kaggle Dice of one image under the mask rule, scored at the resolution of the maps given (training's
 * validation score: no upsampling, no blur or morphology; minArea in pixels at that resolution, see
 * scaleMinArea). `presence` is the head's probability (1 = no gating).
 */
export function kaggleImageScore(
  probs: ArrayLike<number>,
  truth: ArrayLike<number>,
  presence: number,
  opts: Pick<PostprocessParams, "pixelThreshold" | "presenceThreshold" | "minArea">,
): number {
  let area = 0;
  let inter = 0;
  let truthArea = 0;
  for (let i = 0; i < probs.length; i++) {
    const on = pixelOn(probs[i], opts.pixelThreshold);
    const t = truth[i] !== 0;
    if (on) area++;
    if (t) truthArea++;
    if (on && t) inter++;
  }
  if (gatedEmpty(presence, area, opts)) return diceFromCounts(0, 0, truthArea);
  return diceFromCounts(inter, area, truthArea);
}
