// Convolution and dense layers (native/src/conv.cc): training convolution with its two gradients,
// inference convolution on weights cached in the kernel's layout with a fused activation, and the
// dense layer.
import { ActCode, native } from "../native.js";
import type { ConvGeom, Precision } from "../native-entries.js";
import { Tensor, record, type DType } from "../tensor.js";
import { ACT, check, fmt, rank, type Activation } from "./check.js";

export type { ConvGeom } from "../native-entries.js";

export interface ConvOptions {
  stride?: number;
  pad?: number;
  /** The convolution's compute precision (default fp32): the model's, passed down to every call. */
  precision?: Precision;
}

export function convGeom(op: string, x: Tensor, w: Tensor, b: Tensor | null, opts: ConvOptions): ConvGeom {
  rank(x, 4, op, "input (NHWC)");
  rank(w, 4, op, "weight (HWIO)");
  const [n, h, wd, c] = x.shape;
  const [kh, kw, ci, oc] = w.shape;
  const s = opts.stride ?? 1;
  const p = opts.pad ?? 0;
  check(Number.isInteger(s) && s >= 1, op, `stride must be a positive integer, got ${s}`);
  check(Number.isInteger(p) && p >= 0, op, `pad must be a non-negative integer, got ${p}`);
  check(ci === c, op, `input has ${c} channels but weight ${fmt(w.shape)} expects ${ci}`);
  check(p < kh && p < kw, op, `pad ${p} must be smaller than the kernel ${kh}x${kw}`);
  if (b) check(b.shape.length === 1 && b.shape[0] === oc, op, `bias must be [${oc}], got ${fmt(b.shape)}`);
  const oh = Math.floor((h + 2 * p - kh) / s) + 1;
  const ow = Math.floor((wd + 2 * p - kw) / s) + 1;
  check(oh >= 1 && ow >= 1 && n >= 1, op, `input ${fmt(x.shape)} is too small for a ${kh}x${kw} kernel`);
  return { n, h, w: wd, c, oc, kh, kw, s, p, oh, ow };
}

/**
 * y = act(conv(x, w) + b) into y at `precision`, the addon reading and writing each of x and y in its
 * dtype (fp32 or packed bf16). w is HWIO, or in the kernel's own layout when `prepared`.
 */
export function convForwardInto(
  x: Tensor,
  w: Float32Array,
  b: Tensor | null,
  y: Tensor,
  g: ConvGeom,
  precision: Precision,
  opts: { act?: ActCode; alpha?: number; prepared?: boolean } = {},
): void {
  native.convForward({
    x: x.raw,
    w,
    b: b ? b.data : null,
    y: y.raw,
    geom: g,
    act: opts.act ?? ActCode.None,
    alpha: opts.alpha ?? 1,
    wPrepared: opts.prepared ?? false,
    xBf16: x.dtype === "bf16",
    yBf16: y.dtype === "bf16",
    precision,
  });
}

/**
 * Gradients (fp32) of a convolution given dL/dy; x and dy are each fp32 or packed bf16 (conv + BN's
 * inner gradient, ops/batchnorm.ts).
 */
export function convBackward(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeom,
  precision: Precision,
  dy: Tensor,
  needX: boolean,
  needW: boolean,
  needB: boolean,
): [Tensor | null, Tensor | null, Tensor | null] {
  const dx = needX ? new Tensor(x.shape) : null;
  const dw = needW || needB ? new Tensor(w.shape) : null;
  const db = dw && b ? new Tensor(b.shape) : null;
  if (dx || dw)
    native.convBackward({
      x: x.raw,
      w: w.data,
      dy: dy.raw,
      dx: dx?.data ?? null,
      dw: dw?.data ?? null,
      db: db?.data ?? null,
      geom: g,
      xBf16: x.dtype === "bf16",
      dyBf16: dy.dtype === "bf16",
      precision,
    });
  return [dx, dw, db];
}

/**
 * 2-D convolution at opts.precision (default fp32; its backward too): x [N,H,W,C] (fp32 or a bf16
 * activation), w [KH,KW,C,OC], b [OC] or null -> fp32 [N,OH,OW,OC].
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, opts: ConvOptions = {}): Tensor {
  const g = convGeom("conv2d", x, w, b, opts);
  const precision = opts.precision ?? "fp32";
  const y = new Tensor([g.n, g.oh, g.ow, g.oc]);
  convForwardInto(x, w.data, b, y, g, precision);
  const inputs = b ? [x, w, b] : [x, w];
  return record(inputs, y, (dy, needs) => {
    const [dx, dw, db] = convBackward(x, w, b, g, precision, dy, needs[0], needs[1], needs[2] ?? false);
    return [dx, dw, db];
  });
}

// Inference weights already reordered into each kernel's layout, per weight tensor and
// geometry, refreshed when the weight's version changes.
const prepCache = new WeakMap<Tensor, { version: number; byGeom: Map<string, Tensor> }>();

export function dropPrepared(w: Tensor): void {
  const e = prepCache.get(w);
  if (!e) return;
  for (const t of e.byGeom.values()) t.dispose();
  prepCache.delete(w);
}

function preparedWeights(
  w: Tensor,
  hasBias: boolean,
  g: ConvGeom,
  act: ActCode,
  alpha: number,
  yBf16: boolean,
  precision: Precision,
): Tensor {
  let e = prepCache.get(w);
  if (!e || e.version !== w.version) {
    dropPrepared(w);
    e = { version: w.version, byGeom: new Map() };
    prepCache.set(w, e);
  }
  // The kernel (and so its weight layout and type) depends on the thread count, the precision and
  // the output's dtype too.
  const geom = [g.n, g.h, g.w, g.c, g.oc, g.kh, g.kw, g.s, g.p, g.oh, g.ow].join(",");
  const key = `${hasBias}|${geom}|${act}|${alpha}|${yBf16}|${native.getThreads()}|${precision}`;
  let t = e.byGeom.get(key);
  if (!t || t.disposed) {
    const kernel = { hasBias, geom: g, act, alpha, yBf16, precision };
    t = new Tensor([native.convPreparedSize(kernel)], { track: false });
    native.convPrepareWeights({ w: w.data, out: t.data, ...kernel });
    e.byGeom.set(key, t);
  }
  return t;
}

/**
 * Convolution with an activation fused as a oneDNN post-op, forward only (inference; not
 * recorded on the tape), at opts.precision (default fp32). Weights are reordered once into the
 * kernel's layout and cached until the weight tensor changes (its version). x is fp32 or a bf16
 * activation; the output is `out` (default fp32; bf16 inference keeps its activations in bf16
 * between layers).
 */
export function conv2dActInference(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  opts: ConvOptions & { act?: Activation; alpha?: number; out?: DType } = {},
): Tensor {
  const g = convGeom("conv2d", x, w, b, opts);
  const act = ACT[opts.act ?? "none"];
  const alpha = opts.alpha ?? 1;
  const yBf16 = opts.out === "bf16";
  const precision = opts.precision ?? "fp32";
  const pw = preparedWeights(w, b !== null, g, act, alpha, yBf16, precision);
  const y = new Tensor([g.n, g.oh, g.ow, g.oc], { dtype: opts.out ?? "f32" });
  convForwardInto(x, pw.data, b, y, g, precision, { act, alpha, prepared: true });
  return y;
}

/** Dense layer (inner product): x [N,K], w [K,M], b [M] or null -> [N,M]. */
export function dense(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  rank(x, 2, "dense", "input");
  rank(w, 2, "dense", "weight");
  const [n, k] = x.shape;
  const [k2, m] = w.shape;
  check(k === k2, "dense", `input has ${k} features but weight ${fmt(w.shape)} expects ${k2}`);
  if (b) check(b.shape.length === 1 && b.shape[0] === m, "dense", `bias must be [${m}], got ${fmt(b.shape)}`);
  const y = new Tensor([n, m]);
  native.denseForward({ x: x.data, w: w.data, b: b ? b.data : null, y: y.data, n, k, m });
  const inputs = b ? [x, w, b] : [x, w];
  return record(inputs, y, (dy, needs) => {
    const dx = needs[0] ? new Tensor(x.shape) : null;
    const dw = needs[1] ? new Tensor(w.shape) : null;
    const db = b && needs[2] ? new Tensor([m]) : null;
    native.denseBackward({
      x: x.data,
      w: w.data,
      dy: dy.data,
      dx: dx?.data ?? null,
      dw: dw?.data ?? null,
      db: db?.data ?? null,
      n,
      k,
      m,
    });
    return [dx, dw, db];
  });
}
