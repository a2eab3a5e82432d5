// Differentiable ops. Layout: 4-D activations are NHWC ([batch, height, width, channels]) and
// stay that way end to end; conv weights are HWIO ([kh, kw, inChannels, outChannels]). Every op
// checks shapes here so the native side only ever sees consistent sizes.
//
// The native primitives are the ones the U-Net and its training need (conv, conv+BN+activation,
// dense, max-pool, upsample+concat, activations, add/mul, optimizer steps); everything else is
// composed here from them (dropout = mul by a mask, mean = scale(sum), flatten = reshape).
import { ActCode, native, type ConvGeomArgs } from "./native.js";
import { Tensor, record, isGradEnabled, type Shape } from "./tensor.js";
import type { Rng } from "./random.js";

export type Activation = "none" | "elu" | "relu" | "sigmoid";

const ACT: Record<Activation, ActCode> = {
  none: ActCode.None,
  elu: ActCode.Elu,
  relu: ActCode.Relu,
  sigmoid: ActCode.Sigmoid,
};

function fmt(s: Shape): string {
  return `[${s.join(", ")}]`;
}

function check(cond: boolean, op: string, msg: string): void {
  if (!cond) throw new Error(`${op}: ${msg}`);
}

function rank(t: Tensor, r: number, op: string, name: string): void {
  check(t.shape.length === r, op, `${name} must have rank ${r}, got ${fmt(t.shape)}`);
}

function sameShape(a: Tensor, b: Tensor, op: string): void {
  check(
    a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]),
    op,
    `shapes differ: ${fmt(a.shape)} vs ${fmt(b.shape)}`,
  );
}

function channels(t: Tensor): number {
  return t.shape[t.shape.length - 1];
}

export interface ConvOptions {
  stride?: number;
  pad?: number;
}

interface ConvGeom {
  n: number;
  h: number;
  w: number;
  c: number;
  oc: number;
  kh: number;
  kw: number;
  s: number;
  p: number;
  oh: number;
  ow: number;
}

function convGeom(op: string, x: Tensor, w: Tensor, b: Tensor | null, opts: ConvOptions): ConvGeom {
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

function geomArgs(g: ConvGeom): ConvGeomArgs {
  return [g.n, g.h, g.w, g.c, g.oc, g.kh, g.kw, g.s, g.p, g.oh, g.ow];
}

/** Gradients of a convolution given dL/dy. */
function convBackward(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeom,
  dy: Tensor,
  needX: boolean,
  needW: boolean,
  needB: boolean,
): [Tensor | null, Tensor | null, Tensor | null] {
  let dx: Tensor | null = null;
  let dw: Tensor | null = null;
  let db: Tensor | null = null;
  if (needX) {
    dx = new Tensor(x.shape);
    native.convBackwardData(dy.data, w.data, dx.data, ...geomArgs(g));
  }
  if (needW || needB) {
    dw = new Tensor(w.shape);
    db = b ? new Tensor(b.shape) : null;
    native.convBackwardWeights(x.data, dy.data, dw.data, db ? db.data : null, ...geomArgs(g));
  }
  return [dx, dw, db];
}

/** 2-D convolution: x [N,H,W,C], w [KH,KW,C,OC], b [OC] or null -> [N,OH,OW,OC]. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, opts: ConvOptions = {}): Tensor {
  const g = convGeom("conv2d", x, w, b, opts);
  const y = new Tensor([g.n, g.oh, g.ow, g.oc]);
  native.convForward(x.data, w.data, b ? b.data : null, y.data, ...geomArgs(g), ActCode.None, 1, false);
  const inputs = b ? [x, w, b] : [x, w];
  return record(inputs, y, (dy, needs) => {
    const [dx, dw, db] = convBackward(x, w, b, g, dy, needs[0], needs[1], needs[2] ?? false);
    return [dx, dw, db];
  });
}

// Inference weights already reordered into each kernel's layout, per weight tensor and
// geometry, refreshed when the weight's version changes.
const prepCache = new WeakMap<Tensor, { version: number; byGeom: Map<string, Tensor> }>();

function dropPrepared(w: Tensor): void {
  const e = prepCache.get(w);
  if (!e) return;
  for (const t of e.byGeom.values()) t.dispose();
  prepCache.delete(w);
}

function preparedWeights(w: Tensor, hasBias: boolean, g: ConvGeom, act: ActCode, alpha: number): Tensor {
  let e = prepCache.get(w);
  if (!e || e.version !== w.version) {
    dropPrepared(w);
    e = { version: w.version, byGeom: new Map() };
    prepCache.set(w, e);
  }
  // The kernel (and so its weight layout) depends on the thread count too.
  const key = `${hasBias}|${geomArgs(g).join(",")}|${act}|${alpha}|${native.getThreads()}`;
  let t = e.byGeom.get(key);
  if (!t || t.disposed) {
    const n = native.convPreparedSize(hasBias, ...geomArgs(g), act, alpha);
    t = new Tensor([n], { track: false });
    native.convPrepareWeights(w.data, t.data, hasBias, ...geomArgs(g), act, alpha);
    e.byGeom.set(key, t);
  }
  return t;
}

/**
 * Convolution with an activation fused as a oneDNN post-op, forward only (inference; not
 * recorded on the tape). Weights are reordered once into the kernel's layout and cached until
 * the weight tensor changes (its version).
 */
export function conv2dActInference(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  opts: ConvOptions & { act?: Activation; alpha?: number } = {},
): Tensor {
  const g = convGeom("conv2d", x, w, b, opts);
  const act = ACT[opts.act ?? "none"];
  const alpha = opts.alpha ?? 1;
  const pw = preparedWeights(w, b !== null, g, act, alpha);
  const y = new Tensor([g.n, g.oh, g.ow, g.oc]);
  native.convForward(x.data, pw.data, b ? b.data : null, y.data, ...geomArgs(g), act, alpha, true);
  return y;
}

/** The batch-norm state an op reads (and, in training, updates in place). */
export interface BatchNormState {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  /** Weight of the new batch in the running averages (PyTorch's convention). Default 0.1. */
  momentum?: number;
  eps?: number;
}

export interface BatchNormOptions {
  training: boolean;
  /** Activation fused into the same pass. Default "none". */
  act?: Activation;
  /** ELU alpha. Default 1. */
  alpha?: number;
}

function bnCheck(op: string, x: Tensor, bn: BatchNormState): number {
  check(x.shape.length >= 2, op, `input must have rank >= 2, got ${fmt(x.shape)}`);
  const c = channels(x);
  for (const [name, t] of [
    ["gamma", bn.gamma],
    ["beta", bn.beta],
    ["runningMean", bn.runningMean],
    ["runningVar", bn.runningVar],
  ] as const)
    check(t.shape.length === 1 && t.shape[0] === c, op, `${name} must be [${c}], got ${fmt(t.shape)}`);
  return c;
}

/** BN (+ activation) forward over `rows` x `c` values; returns y and the batch statistics backward needs. */
function bnForwardRaw(
  x: Tensor,
  bn: BatchNormState,
  rows: number,
  c: number,
  training: boolean,
  act: ActCode,
  alpha: number,
): { y: Tensor; mean: Tensor; inv: Tensor } {
  const y = new Tensor(x.shape);
  const mean = new Tensor([c]);
  const inv = new Tensor([c]);
  native.bnForward(
    x.data,
    bn.gamma.data,
    bn.beta.data,
    y.data,
    mean.data,
    inv.data,
    bn.runningMean.data,
    bn.runningVar.data,
    rows,
    c,
    bn.eps ?? 1e-5,
    training,
    bn.momentum ?? 0.1,
    act,
    alpha,
  );
  if (training) {
    bn.runningMean.version++;
    bn.runningVar.version++;
  }
  return { y, mean, inv };
}

/** BN (+ activation) backward: fills dx when given, returns dgamma and dbeta. */
function bnBackwardRaw(
  x: Tensor,
  fwd: { y: Tensor; mean: Tensor; inv: Tensor },
  dy: Tensor,
  bn: BatchNormState,
  dx: Tensor | null,
  rows: number,
  c: number,
  training: boolean,
  act: ActCode,
  alpha: number,
): [Tensor, Tensor] {
  const dgamma = new Tensor([c]);
  const dbeta = new Tensor([c]);
  native.bnBackward(
    x.data,
    act === ActCode.None ? null : fwd.y.data,
    dy.data,
    bn.gamma.data,
    fwd.mean.data,
    fwd.inv.data,
    dx ? dx.data : null,
    dgamma.data,
    dbeta.data,
    rows,
    c,
    act,
    alpha,
    training,
  );
  return [dgamma, dbeta];
}

/**
 * Batch normalization over the last (channel) axis, optionally fused with an activation.
 * Training: batch statistics (biased variance to normalise, unbiased into the running variance).
 * Eval: running statistics.
 */
export function batchNorm(x: Tensor, bn: BatchNormState, opts: BatchNormOptions): Tensor {
  const c = bnCheck("batchNorm", x, bn);
  const rows = x.size / c;
  if (opts.training) check(rows > 1, "batchNorm", "training needs more than one value per channel");
  const act = ACT[opts.act ?? "none"];
  const alpha = opts.alpha ?? 1;
  const fwd = bnForwardRaw(x, bn, rows, c, opts.training, act, alpha);
  return record([x, bn.gamma, bn.beta], fwd.y, (dy, needs) => {
    const dx = needs[0] ? new Tensor(x.shape) : null;
    const [dgamma, dbeta] = bnBackwardRaw(x, fwd, dy, bn, dx, rows, c, opts.training, act, alpha);
    return [dx, dgamma, dbeta];
  });
}

// Folded (w, b) per conv weight tensor, refreshed when any source tensor changes version.
const foldCache = new WeakMap<Tensor, { key: string; w: Tensor; b: Tensor }>();

function foldKey(ts: (Tensor | null)[]): string {
  return ts.map((t) => (t ? `${t.version}` : "-")).join(",");
}

/** BN (running stats) folded into conv weights: w' = w*s, b' = (b-mean)*s + beta, s = gamma/sqrt(var+eps). */
export function foldBatchNorm(w: Tensor, b: Tensor | null, bn: BatchNormState): { w: Tensor; b: Tensor } {
  const key = foldKey([w, b, bn.gamma, bn.beta, bn.runningMean, bn.runningVar]) + `|${bn.eps ?? 1e-5}`;
  const hit = foldCache.get(w);
  if (hit && hit.key === key && !hit.w.disposed) return hit;
  if (hit) {
    dropPrepared(hit.w);
    hit.w.dispose();
    hit.b.dispose();
  }
  const oc = w.shape[3];
  const eps = bn.eps ?? 1e-5;
  const gw = w.data,
    gamma = bn.gamma.data,
    beta = bn.beta.data,
    rm = bn.runningMean.data,
    rv = bn.runningVar.data;
  const scale = new Float32Array(oc);
  const fb = new Tensor([oc], { track: false });
  const fw = new Tensor(w.shape, { track: false });
  for (let o = 0; o < oc; o++) {
    scale[o] = gamma[o] / Math.sqrt(rv[o] + eps);
    fb.data[o] = ((b ? b.data[o] : 0) - rm[o]) * scale[o] + beta[o];
  }
  const out = fw.data;
  for (let i = 0; i < gw.length; i += oc) for (let o = 0; o < oc; o++) out[i + o] = gw[i + o] * scale[o];
  const entry = { key, w: fw, b: fb };
  foldCache.set(w, entry);
  return entry;
}

/**
 * conv -> batch norm -> activation as one op. Training: one tape node whose backward runs the
 * fused BN+activation gradient pass and then the conv gradients. Eval without gradients: BN is
 * folded into the conv and the activation runs as a oneDNN post-op (one primitive call).
 */
export function convBnAct(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  bn: BatchNormState,
  opts: ConvOptions & BatchNormOptions,
): Tensor {
  const g = convGeom("convBnAct", x, w, b, opts);
  bnCheckChannels(g.oc, bn);
  const act = ACT[opts.act ?? "none"];
  const alpha = opts.alpha ?? 1;
  const needsGrad = isGradEnabled() && [x, w, b, bn.gamma, bn.beta].some((t) => t?.requiresGrad);
  if (!opts.training) {
    if (!needsGrad) {
      const f = foldBatchNorm(w, b, bn);
      return conv2dActInference(x, f.w, f.b, { ...opts, act: opts.act ?? "none", alpha });
    }
    return batchNorm(conv2d(x, w, b, opts), bn, opts);
  }
  const z = new Tensor([g.n, g.oh, g.ow, g.oc]);
  native.convForward(x.data, w.data, b ? b.data : null, z.data, ...geomArgs(g), ActCode.None, 1, false);
  const rows = g.n * g.oh * g.ow;
  check(rows > 1, "convBnAct", "training needs more than one value per channel");
  const fwd = bnForwardRaw(z, bn, rows, g.oc, true, act, alpha);
  const { y, mean, inv } = fwd;
  if (!needsGrad) z.dispose();
  const inputs = b ? [x, w, bn.gamma, bn.beta, b] : [x, w, bn.gamma, bn.beta];
  return record(inputs, y, (dy, needs) => {
    const dz = new Tensor(z.shape);
    const [dgamma, dbeta] = bnBackwardRaw(z, fwd, dy, bn, dz, rows, g.oc, true, act, alpha);
    const [dx, dw, db] = convBackward(x, w, b, g, dz, needs[0], needs[1], needs[4] ?? false);
    // z, mean and inv are internal to this op (the caller never sees them): free them now.
    dz.dispose();
    z.dispose();
    mean.dispose();
    inv.dispose();
    return [dx, dw, dgamma, dbeta, db];
  });
}

function bnCheckChannels(c: number, bn: BatchNormState): void {
  for (const [name, t] of [
    ["gamma", bn.gamma],
    ["beta", bn.beta],
    ["runningMean", bn.runningMean],
    ["runningVar", bn.runningVar],
  ] as const)
    check(
      t.shape.length === 1 && t.shape[0] === c,
      "convBnAct",
      `${name} must be [${c}], got ${fmt(t.shape)}`,
    );
}

/** An activation as its own op (one native primitive for all of them; the gradient comes from y). */
function unary(act: ActCode, x: Tensor, alpha: number): Tensor {
  const y = new Tensor(x.shape);
  native.unaryForward(act, x.data, y.data, x.size, alpha);
  return record([x], y, (dy) => {
    const dx = new Tensor(x.shape);
    native.unaryBackward(act, y.data, dy.data, dx.data, x.size, alpha);
    return [dx];
  });
}

/** ELU: x > 0 ? x : alpha*(exp(x)-1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  return unary(ActCode.Elu, x, alpha);
}

export function relu(x: Tensor): Tensor {
  return unary(ActCode.Relu, x, 0);
}

export function sigmoid(x: Tensor): Tensor {
  return unary(ActCode.Sigmoid, x, 0);
}

/** 2x2 max-pool, stride 2 (odd trailing rows/columns are dropped, like PyTorch). */
export function maxPool2x2(x: Tensor): Tensor {
  rank(x, 4, "maxPool2x2", "input (NHWC)");
  const [n, h, w, c] = x.shape;
  check(h >= 2 && w >= 2, "maxPool2x2", `input ${fmt(x.shape)} is smaller than 2x2`);
  const y = new Tensor([n, Math.floor(h / 2), Math.floor(w / 2), c]);
  native.maxPoolForward(x.data, y.data, n, h, w, c);
  return record([x], y, (dy) => {
    const dx = new Tensor(x.shape);
    native.maxPoolBackward(x.data, y.data, dy.data, dx.data, n, h, w, c);
    return [dx];
  });
}

/**
 * Nearest-neighbour 2x upsampling of x concatenated on channels with skip, in one pass (the U-Net
 * decoder's input): x [N,H,W,Cx], skip [N,2H,2W,Cs] -> [N,2H,2W,Cx+Cs].
 */
export function upsampleConcat(x: Tensor, skip: Tensor): Tensor {
  rank(x, 4, "upsampleConcat", "x (NHWC)");
  rank(skip, 4, "upsampleConcat", "skip (NHWC)");
  const [n, h, w, cx] = x.shape;
  const cs = skip.shape[3];
  check(
    skip.shape[0] === n && skip.shape[1] === 2 * h && skip.shape[2] === 2 * w,
    "upsampleConcat",
    `skip ${fmt(skip.shape)} must be [${n}, ${2 * h}, ${2 * w}, C] for x ${fmt(x.shape)}`,
  );
  const y = new Tensor([n, 2 * h, 2 * w, cx + cs]);
  native.upsampleConcatForward(x.data, skip.data, y.data, n, h, w, cx, cs);
  return record([x, skip], y, (dy, needs) => {
    const dx = needs[0] ? new Tensor(x.shape) : null;
    const ds = needs[1] ? new Tensor(skip.shape) : null;
    native.upsampleConcatBackward(dy.data, dx ? dx.data : null, ds ? ds.data : null, n, h, w, cx, cs);
    return [dx, ds];
  });
}

/** Elementwise a + b (same shapes). */
export function add(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, "add");
  const y = new Tensor(a.shape);
  native.binary(0, a.data, b.data, y.data, a.size);
  return record([a, b], y, (dy, needs) => [needs[0] ? copy(dy) : null, needs[1] ? copy(dy) : null]);
}

/** Elementwise a * b (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, "mul");
  const y = new Tensor(a.shape);
  native.binary(1, a.data, b.data, y.data, a.size);
  return record([a, b], y, (dy, needs) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      da = new Tensor(a.shape);
      native.binary(1, dy.data, b.data, da.data, a.size);
    }
    if (needs[1]) {
      db = new Tensor(b.shape);
      native.binary(1, dy.data, a.data, db.data, a.size);
    }
    return [da, db];
  });
}

/** x * s for a constant s. */
export function scale(x: Tensor, s: number): Tensor {
  const y = new Tensor(x.shape, { zero: true });
  native.axpby(y.data, x.data, s, 0, x.size);
  return record([x], y, (dy) => {
    const dx = new Tensor(x.shape, { zero: true });
    native.axpby(dx.data, dy.data, s, 0, x.size);
    return [dx];
  });
}

function copy(t: Tensor): Tensor {
  const c = new Tensor(t.shape);
  c.data.set(t.data);
  return c;
}

/** Inverted dropout: in training zeroes each value with probability p and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  check(p >= 0 && p < 1, "dropout", `p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = new Tensor(x.shape);
  const m = mask.data;
  const keepScale = 1 / (1 - p);
  for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < p ? 0 : keepScale;
  return mul(x, mask);
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
  native.denseForward(x.data, w.data, b ? b.data : null, y.data, n, k, m);
  const inputs = b ? [x, w, b] : [x, w];
  return record(inputs, y, (dy, needs) => {
    const dx = needs[0] ? new Tensor(x.shape) : null;
    const dw = needs[1] ? new Tensor(w.shape) : null;
    const db = b && needs[2] ? new Tensor([m]) : null;
    native.denseBackward(
      x.data,
      w.data,
      dy.data,
      dx?.data ?? null,
      dw?.data ?? null,
      db?.data ?? null,
      n,
      k,
      m,
    );
    return [dx, dw, db];
  });
}

/** Same values, new shape (a copy; sizes must match, one dimension may be -1). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const free = shape.filter((d) => d === -1).length;
  check(free <= 1, "reshape", "at most one dimension may be -1");
  const full = shape.map((d) => (d === -1 ? x.size / known : d));
  const size = full.reduce((a, b) => a * b, 1);
  check(
    size === x.size && full.every((d) => Number.isInteger(d) && d >= 0),
    "reshape",
    `cannot reshape ${fmt(x.shape)} into ${fmt(shape)}`,
  );
  const y = new Tensor(full);
  y.data.set(x.data);
  return record([x], y, (dy) => {
    const dx = new Tensor(x.shape);
    dx.data.set(dy.data);
    return [dx];
  });
}

/** [N, ...] -> [N, prod(...)] */
export function flatten(x: Tensor): Tensor {
  check(x.shape.length >= 1, "flatten", "needs rank >= 1");
  return reshape(x, [x.shape[0], -1]);
}

/** Sum of all elements -> [1]. */
export function sum(x: Tensor): Tensor {
  const d = x.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i];
  const y = new Tensor([1]);
  y.data[0] = s;
  return record([x], y, (dy) => {
    const dx = new Tensor(x.shape);
    native.fill(dx.data, dy.data[0], x.size);
    return [dx];
  });
}

/** Mean of all elements -> [1]. */
export function mean(x: Tensor): Tensor {
  return scale(sum(x), 1 / x.size);
}
