// Batch norm fused with its activation (native/src/batchnorm.cc), on its own or after a convolution
// (convBnAct, the U-Net block), and BN folded into the conv weights for inference.
//
// In bf16 training convBnAct keeps the tensor between its conv and its BN — z and its gradient dz,
// which no other op sees — in packed bf16 (two values per float of a Tensor of ceil(n / 2)): the conv
// writes z in bf16, BN reads it, BN's backward writes dz in bf16 and the conv's backward reads it in
// place. That is the conversion the conv's backward made anyway (its kernels read bf16 dy), half the
// bytes of z kept from forward to backward, and half of BN's traffic over z. Statistics stay fp32.
import { ActCode, native } from "../native.js";
import { getPrecision } from "../precision.js";
import { Tensor, record, isGradEnabled, type Shape } from "../tensor.js";
import { ACT, channels, check, fmt, type Activation } from "./check.js";
import {
  conv2d,
  conv2dActInference,
  convBackward,
  convGeom,
  dropPrepared,
  geomArgs,
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

/** Storage for `count` packed bf16 values (see the top of this file). */
function packedBf16(count: number): Tensor {
  return new Tensor([Math.ceil(count / 2)]);
}

/**
 * BN (+ activation) forward over `rows` x `c` values of x (packed bf16 when `xBf16`); returns y,
 * of `shape`, and the batch statistics backward needs.
 */
function bnForwardRaw(
  x: Tensor,
  shape: Shape,
  bn: BatchNormState,
  rows: number,
  c: number,
  training: boolean,
  act: ActCode,
  alpha: number,
  xBf16 = false,
): { y: Tensor; mean: Tensor; inv: Tensor } {
  const y = new Tensor(shape);
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
    xBf16,
  );
  if (training) {
    bn.runningMean.version++;
    bn.runningVar.version++;
  }
  return { y, mean, inv };
}

/** BN (+ activation) backward: fills dx when given, returns dgamma and dbeta. x and dx packed bf16 when `xBf16`. */
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
  xBf16 = false,
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
    xBf16,
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
  const fwd = bnForwardRaw(x, x.shape, bn, rows, c, opts.training, act, alpha);
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
  const zShape = [g.n, g.oh, g.ow, g.oc];
  const rows = g.n * g.oh * g.ow;
  check(rows > 1, "convBnAct", "training needs more than one value per channel");
  const bf16 = getPrecision() === "bf16";
  const z = bf16 ? packedBf16(rows * g.oc) : new Tensor(zShape);
  native.convForward(x.data, w.data, b ? b.data : null, z.data, ...geomArgs(g), ActCode.None, 1, false, bf16);
  const fwd = bnForwardRaw(z, zShape, bn, rows, g.oc, true, act, alpha, bf16);
  const { y, mean, inv } = fwd;
  if (!needsGrad) z.dispose();
  const inputs = b ? [x, w, bn.gamma, bn.beta, b] : [x, w, bn.gamma, bn.beta];
  return record(inputs, y, (dy, needs) => {
    const dz = bf16 ? packedBf16(rows * g.oc) : new Tensor(zShape);
    const [dgamma, dbeta] = bnBackwardRaw(z, fwd, dy, bn, dz, rows, g.oc, true, act, alpha, bf16);
    const [dx, dw, db] = convBackward(x, w, b, g, dz, needs[0], needs[1], needs[4] ?? false, bf16);
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
