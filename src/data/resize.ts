/**
 * Image resizing on plain typed arrays (row-major, one channel).
 *
 * resizeBilinear uses the half-pixel convention (OpenCV INTER_LINEAR, PyTorch align_corners=False): output
 * pixel x samples the source at (x + 0.5) * srcW / dstW - 0.5, clamped to the edge pixels. resizeArea
 * averages the source pixels each output pixel covers, weighted by the covered fraction (OpenCV
 * INTER_AREA when shrinking), so downscaled ultrasound speckle does not alias.
 * Uint8 results are rounded to nearest and clamped; Float32 results are not rounded.
 */

export type Pixels = Uint8Array | Float32Array;

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float32Array;
}

/** For each output index: the two source indices and the weight of the second one. */
function linearTaps(src: number, dst: number): Taps {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w1 = new Float32Array(dst);
  const scale = src / dst;
  for (let d = 0; d < dst; d++) {
    let s = (d + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    let a = Math.floor(s);
    let f = s - a;
    if (a >= src - 1) {
      a = src - 1;
      f = 0;
    }
    i0[d] = a;
    i1[d] = Math.min(a + 1, src - 1);
    w1[d] = f;
  }
  return { i0, i1, w1 };
}

function check(
  src: Pixels,
  w: number,
  h: number,
  dw: number,
  dh: number,
  out: Pixels | undefined,
  fn: string,
): void {
  if (!(w > 0 && h > 0 && dw > 0 && dh > 0) || ![w, h, dw, dh].every(Number.isInteger)) {
    throw new Error(`${fn}: bad size ${w}x${h} -> ${dw}x${dh}`);
  }
  if (src.length !== w * h) throw new Error(`${fn}: ${src.length} pixels for ${w}x${h}`);
  if (out && out.length !== dw * dh)
    throw new Error(`${fn}: output has ${out.length} pixels for ${dw}x${dh}`);
  if (out && out.constructor !== src.constructor)
    throw new Error(`${fn}: output type differs from input type`);
}

function store(out: Pixels, i: number, v: number): void {
  out[i] = v; // Float32Array stores as is
}

function storeU8(out: Pixels, i: number, v: number): void {
  out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Bilinear resize (half-pixel centres, edge clamp) into `out` (allocated when absent, same type as `src`). */
export function resizeBilinear<T extends Pixels>(
  src: T,
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
  out?: T,
): T {
  check(src, srcW, srcH, dstW, dstH, out, "resizeBilinear");
  const dst = (out ?? new (src.constructor as new (n: number) => T)(dstW * dstH)) as T;
  const put = src instanceof Uint8Array ? storeU8 : store;
  const xs = linearTaps(srcW, dstW);
  const ys = linearTaps(srcH, dstH);
  for (let y = 0; y < dstH; y++) {
    const r0 = ys.i0[y] * srcW;
    const r1 = ys.i1[y] * srcW;
    const fy = ys.w1[y];
    for (let x = 0; x < dstW; x++) {
      const a = xs.i0[x];
      const b = xs.i1[x];
      const fx = xs.w1[x];
      const top = src[r0 + a] + (src[r0 + b] - src[r0 + a]) * fx;
      const bot = src[r1 + a] + (src[r1 + b] - src[r1 + a]) * fx;
      put(dst, y * dstW + x, top + (bot - top) * fy);
    }
  }
  return dst;
}

/** Per output index: the covered source range and per-source-pixel weights (summing to 1). */
function areaWeights(src: number, dst: number): { start: Int32Array; count: Int32Array; w: Float64Array[] } {
  const scale = src / dst;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const w: Float64Array[] = [];
  for (let d = 0; d < dst; d++) {
    const lo = d * scale;
    const hi = (d + 1) * scale;
    const a = Math.floor(lo);
    const b = Math.min(src, Math.ceil(hi - 1e-9));
    const ws = new Float64Array(b - a);
    for (let s = a; s < b; s++) ws[s - a] = (Math.min(hi, s + 1) - Math.max(lo, s)) / scale;
    start[d] = a;
    count[d] = b - a;
    w.push(ws);
  }
  return { start, count, w };
}

/**
 * Area (box) resize for shrinking: each output pixel is the mean of the source area it covers, partially
 * covered source pixels weighted by the covered fraction. When an axis grows it falls back to bilinear
 * (as OpenCV INTER_AREA does), since averaging is only meaningful when shrinking.
 */
export function resizeArea<T extends Pixels>(
  src: T,
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
  out?: T,
): T {
  check(src, srcW, srcH, dstW, dstH, out, "resizeArea");
  if (dstW > srcW || dstH > srcH) return resizeBilinear(src, srcW, srcH, dstW, dstH, out);
  const dst = (out ?? new (src.constructor as new (n: number) => T)(dstW * dstH)) as T;
  const put = src instanceof Uint8Array ? storeU8 : store;
  const xs = areaWeights(srcW, dstW);
  const ys = areaWeights(srcH, dstH);
  // Horizontal pass into a float buffer (srcH x dstW), then vertical.
  const tmp = new Float64Array(srcH * dstW);
  for (let y = 0; y < srcH; y++) {
    const row = y * srcW;
    for (let x = 0; x < dstW; x++) {
      const s0 = xs.start[x];
      const ws = xs.w[x];
      let acc = 0;
      for (let k = 0; k < ws.length; k++) acc += src[row + s0 + k] * ws[k];
      tmp[y * dstW + x] = acc;
    }
  }
  for (let y = 0; y < dstH; y++) {
    const s0 = ys.start[y];
    const ws = ys.w[y];
    for (let x = 0; x < dstW; x++) {
      let acc = 0;
      for (let k = 0; k < ws.length; k++) acc += tmp[(s0 + k) * dstW + x] * ws[k];
      put(dst, y * dstW + x, acc);
    }
  }
  return dst;
}

/** Resizes a 0/1 mask by area average and thresholds the covered fraction at 0.5. */
export function resizeMask(
  mask: Uint8Array,
  w: number,
  h: number,
  dw: number,
  dh: number,
  out: Uint8Array = new Uint8Array(dw * dh),
): Uint8Array {
  const f = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) f[i] = mask[i] !== 0 ? 1 : 0;
  const r = resizeArea(f, w, h, dw, dh);
  for (let i = 0; i < r.length; i++) out[i] = r[i] >= 0.5 ? 1 : 0;
  return out;
}

/**
 * How a frame of any size meets a fixed model input: `stretch` resizes it to the input (the Kaggle
 * recipe: every frame is 580x420), `letterbox` keeps its aspect ratio, centred, the rest zero.
 */
export const FITS = ["stretch", "letterbox"] as const;
export type Fit = (typeof FITS)[number];

/** Where a frame of its own size ow x oh lands in a W x H input. */
export interface FitRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function fitRect(ow: number, oh: number, W: number, H: number, fit: Fit): FitRect {
  if (fit === "stretch") return { x: 0, y: 0, width: W, height: H };
  const scale = Math.min(W / ow, H / oh);
  const width = Math.max(1, Math.min(W, Math.round(ow * scale)));
  const height = Math.max(1, Math.min(H, Math.round(oh * scale)));
  return { x: (W - width) >> 1, y: (H - height) >> 1, width, height };
}

/**
 * A frame (srcW x srcH, showing an image whose own size is ow x oh: the working size may have stretched
 * it) brought to the W x H input as `fit` says: area-resized into its rect, zero around it. Masks go
 * through resizeMask, images through resizeArea.
 */
export function fitFrame(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  own: { width: number; height: number },
  W: number,
  H: number,
  fit: Fit,
  kind: "image" | "mask",
  out: Uint8Array = new Uint8Array(W * H),
): Uint8Array {
  const r = fitRect(own.width, own.height, W, H, fit);
  const resize = (dst?: Uint8Array) =>
    kind === "mask"
      ? resizeMask(src, srcW, srcH, r.width, r.height, dst)
      : resizeArea(src, srcW, srcH, r.width, r.height, dst);
  if (r.width === W && r.height === H) {
    if (srcW === W && srcH === H) out.set(src);
    else resize(out);
    return out;
  }
  const inner = srcW === r.width && srcH === r.height ? src : resize();
  out.fill(0);
  return pasteRect(inner, out, W, r);
}

/** Writes `inner` (r.width x r.height, row-major) into `dst` (row width W) at rect r; returns dst. */
export function pasteRect<T extends Pixels>(inner: Pixels, dst: T, W: number, r: FitRect): T {
  for (let y = 0; y < r.height; y++)
    dst.set(inner.subarray(y * r.width, (y + 1) * r.width), (r.y + y) * W + r.x);
  return dst;
}

/** Rect r of a row-major W x H array, as a new array (or `src` itself when r is all of it). */
export function cropRect<T extends Pixels>(src: T, W: number, H: number, r: FitRect): T {
  if (r.x === 0 && r.y === 0 && r.width === W && r.height === H) return src;
  const out = new (src.constructor as new (n: number) => T)(r.width * r.height);
  for (let y = 0; y < r.height; y++)
    out.set(src.subarray((r.y + y) * W + r.x, (r.y + y) * W + r.x + r.width), y * r.width);
  return out;
}

/** The part of a W x H model output that shows the frame (the inverse of fitFrame's placement). */
export function unfitMap<T extends Pixels>(map: T, W: number, H: number, r: FitRect): T {
  return cropRect(map, W, H, r);
}
