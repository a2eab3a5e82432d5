/**
 * Uniform border bars (letterbox padding, a scanner's flat margins) found per frame and cropped off before
 * the frame meets the model input, so the input's rows and columns show anatomy. The `nerve-real` frames
 * are 580x420 scans padded to 580x580 with grey 128: 70 of 256 rows are padding, and at 64x80 only 46
 * input rows would be nerve. The model's output covers the box; FrameBox puts it back into the frame.
 *
 * Written by hand: sharp's trim() works on encoded images, asynchronously, one at a time; this runs on the
 * prepared uint8 arrays inside the frame loaders, a few row scans per frame.
 */

import { cropRect, type FitRect } from "./resize.js";

/** A rectangle in pixels of one frame (the shape resize.ts's rect helpers take). */
export type PixelBox = FitRect;

/** Where the model's input came from, as fractions (0..1) of the frame's width and height. */
export interface FrameBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Grey levels a row may span and still be a bar: JPEG ringing around a flat bar stays within a few. */
export const BAR_TOLERANCE = 12;
/** A box below this fraction of the frame in either direction is not trusted (a blank frame, say). */
const MIN_KEPT = 0.25;

/** Whether `count` pixels from `start`, `stride` apart (a row: 1; a column: the width), span <= tol. */
function flat(src: Uint8Array, start: number, stride: number, count: number, tol: number): boolean {
  let lo = 255;
  let hi = 0;
  for (let i = 0, p = start; i < count; i++, p += stride) {
    const v = src[p];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (hi - lo > tol) return false;
  }
  return true;
}

/**
 * The part of a w x h frame inside its uniform border bars: rows from the top and bottom, then columns
 * from the left and right (within the kept rows), are dropped while each spans at most `tol` grey levels.
 * The whole frame when nothing is flat, or when less than a quarter would be left in either direction.
 */
export function barBox(src: Uint8Array, w: number, h: number, tol = BAR_TOLERANCE): PixelBox {
  if (src.length !== w * h) throw new Error(`barBox: ${src.length} pixels for ${w}x${h}`);
  let y0 = 0;
  let y1 = h;
  while (y0 < y1 && flat(src, y0 * w, 1, w, tol)) y0++;
  while (y1 > y0 && flat(src, (y1 - 1) * w, 1, w, tol)) y1--;
  let x0 = 0;
  let x1 = w;
  while (x0 < x1 && flat(src, y0 * w + x0, w, y1 - y0, tol)) x0++;
  while (x1 > x0 && flat(src, y0 * w + x1 - 1, w, y1 - y0, tol)) x1--;
  if (y1 - y0 < MIN_KEPT * h || x1 - x0 < MIN_KEPT * w) return { x: 0, y: 0, width: w, height: h };
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export function frameBoxOf(b: PixelBox, w: number, h: number): FrameBox {
  return { x0: b.x / w, y0: b.y / h, x1: (b.x + b.width) / w, y1: (b.y + b.height) / h };
}

/** A frame box in pixels of a W x H output (rounded; at least one pixel each way). */
export function boxPixels(b: FrameBox, W: number, H: number): PixelBox {
  const x = Math.min(W - 1, Math.max(0, Math.round(b.x0 * W)));
  const y = Math.min(H - 1, Math.max(0, Math.round(b.y0 * H)));
  const x1 = Math.min(W, Math.max(x + 1, Math.round(b.x1 * W)));
  const y1 = Math.min(H, Math.max(y + 1, Math.round(b.y1 * H)));
  return { x, y, width: x1 - x, height: y1 - y };
}

/** A cut frame: its pixels, their own size (scaled from the frame's), and where they lie in the frame. */
export interface TrimmedFrame {
  data: Uint8Array;
  width: number;
  height: number;
  own: { width: number; height: number };
  /** In pixels of the frame given (the whole frame when nothing was cut). */
  pixels: PixelBox;
  /** As fractions of the frame; null when nothing was cut. */
  box: FrameBox | null;
}

/** A frame's own size (before any working-size stretch) cut to a box: letterbox keeps that aspect. */
export function ownInBox(
  own: { width: number; height: number },
  b: FrameBox,
): { width: number; height: number } {
  return {
    width: Math.max(1, Math.round(own.width * (b.x1 - b.x0))),
    height: Math.max(1, Math.round(own.height * (b.y1 - b.y0))),
  };
}

/** A frame (srcW x srcH; its own size `own`) with its bars cut when `trim` says so. */
export function trimFrame(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  own: { width: number; height: number },
  trim: boolean,
): TrimmedFrame {
  const b = trim ? barBox(src, srcW, srcH) : { x: 0, y: 0, width: srcW, height: srcH };
  if (b.width === srcW && b.height === srcH)
    return { data: src, width: srcW, height: srcH, own, pixels: b, box: null };
  const box = frameBoxOf(b, srcW, srcH);
  return {
    data: cropRect(src, srcW, srcH, b),
    width: b.width,
    height: b.height,
    own: ownInBox(own, box),
    pixels: b,
    box,
  };
}
