// Batch norm fused with its activation (native/src/batchnorm.cc), on its own or after a convolution
// (convBnAct, the U-Net block), and BN folded into the conv weights for inference.
//
// In bf16 training convBnAct works on packed bf16 (tensor.ts) wherever the kernels read bf16 anyway:
// its output y is a bf16 activation (the next conv reads it in place, as do pooling and the decoder's
// concat), its input may be one, and the tensor between its conv and its BN — z and its gradient dz,
// which no other op sees — is bf16 too: the conv writes z in bf16, BN reads it, BN's backward writes dz
// in bf16 and the conv's backward reads it in place. Each is a conversion the conv made anyway, and
// half the bytes kept from forward to backward. BN's statistics and arithmetic, and every gradient
// outside the op, stay fp32.
import { ActCode, native } from "../native.js";
import { activationDType } from "../precision.js";
import { Tensor, record, isGradEnabled, type DType } from "../tensor.js";
import { ACT, channels, check, fmt, type Activation } from "./check.js";
import {
  conv2d,
  conv2dActInference,
  convBackward,
  convForwardInto,
  convGeom,
  dropPrepared,
  type ConvOptions,
} from "./conv.js";

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

/**
 * BN (+ activation) forward over `rows` x `c` values of x (fp32 or packed bf16); returns y (of
 * `yType`) and the batch statistics backward needs.
 */
function bnForwardRaw(
  x: Tensor,
  bn: BatchNormState,
  rows: number,
  c: number,
  training: boolean,
  act: ActCode,
  alpha: number,
  yType: DType = "f32",
): { y: Tensor; mean: Tensor; inv: Tensor } {
  const y = new Tensor(x.shape, { dtype: yType });
  const mean = new Tensor([c]);
  const inv = new Tensor([c]);
  native.bnForward({
    x: x.raw,
    gamma: bn.gamma.data,
    beta: bn.beta.data,
    y: y.raw,
    saveMean: mean.data,
    saveInvstd: inv.data,
    runMean: bn.runningMean.data,
    runVar: bn.runningVar.data,
    rows,
    c,
    eps: bn.eps ?? 1e-5,
    training,
    momentum: bn.momentum ?? 0.1,
    act,
    alpha,
    xBf16: x.dtype === "bf16",
    yBf16: yType === "bf16",
  });
  if (training) {
    bn.runningMean.version++;
    bn.runningVar.version++;
  }
  return { y, mean, inv };
}

/**
 * BN (+ activation) backward: fills dx (of x's dtype: fp32, or packed bf16 inside convBnAct) when
 * given, returns dgamma and dbeta.
 */
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
  check(!dx || dx.dtype === x.dtype, "batchNorm", "dx must have x's dtype");
  native.bnBackward({
    x: x.raw,
    y: act === ActCode.None ? null : fwd.y.raw,
    dy: dy.data,
    gamma: bn.gamma.data,
    mean: fwd.mean.data,
    invstd: fwd.inv.data,
    dx: dx ? dx.raw : null,
    dgamma: dgamma.data,
    dbeta: dbeta.data,
    rows,
    c,
    act,
    alpha,
    training,
    xBf16: x.dtype === "bf16",
    yBf16: fwd.y.dtype === "bf16",
  });
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
  // On its own BN reads fp32 (its dx is a gradient, fp32; only convBnAct's inner z is bf16).
  check(x.dtype === "f32", "batchNorm", "input must be fp32 (a bf16 activation goes through convBnAct)");
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
 * conv -> batch norm -> activation as one op, at opts.precision (default fp32): in bf16 its output
 * is a bf16 activation. Training: one tape node whose backward runs the fused BN+activation gradient
 * pass and then the conv gradients. Eval without gradients: BN is folded into the conv and the
 * activation runs as a oneDNN post-op (one primitive call).
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
  const precision = opts.precision ?? "fp32";
  const dtype = activationDType(precision);
  const needsGrad = isGradEnabled() && [x, w, b, bn.gamma, bn.beta].some((t) => t?.requiresGrad);
  if (!opts.training) {
    if (!needsGrad) {
      const f = foldBatchNorm(w, b, bn);
      // In bf16 the block's output is a bf16 activation here too (the next conv reads bf16 anyway).
      return conv2dActInference(x, f.w, f.b, { ...opts, act: opts.act ?? "none", alpha, out: dtype });
    }
    return batchNorm(conv2d(x, w, b, opts), bn, opts);
  }
  const rows = g.n * g.oh * g.ow;
  check(rows > 1, "convBnAct", "training needs more than one value per channel");
  const z = new Tensor([g.n, g.oh, g.ow, g.oc], { dtype });
  convForwardInto(x, w.data, b, z, g, precision);
  const fwd = bnForwardRaw(z, bn, rows, g.oc, true, act, alpha, dtype);
  const { y, mean, inv } = fwd;
  if (!needsGrad) z.dispose();
  const inputs = b ? [x, w, bn.gamma, bn.beta, b] : [x, w, bn.gamma, bn.beta];
  return record(inputs, y, (dy, needs) => {
    const dz = new Tensor(z.shape, { dtype });
    const [dgamma, dbeta] = bnBackwardRaw(z, fwd, dy, bn, dz, rows, g.oc, true, act, alpha);
    const [dx, dw, db] = convBackward(x, w, b, g, precision, dz, needs[0], needs[1], needs[4] ?? false);
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
