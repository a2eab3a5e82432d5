// Segmentation losses on probabilities (after sigmoid). Each is one tape node; sums run in
// float64 so results do not drift with the batch size.
import { Tensor, record } from "./tensor.js";

function checkPair(op: string, pred: Tensor, target: Tensor): void {
  if (pred.shape.length !== target.shape.length || pred.shape.some((d, i) => d !== target.shape[i]))
    throw new Error(
      `${op}: prediction [${pred.shape.join(", ")}] and target [${target.shape.join(", ")}] differ`,
    );
  if (pred.shape.length < 1 || pred.shape[0] < 1) throw new Error(`${op}: empty batch`);
  checkFinite(op, "prediction", pred.data);
  checkFinite(op, "target", target.data);
}

function checkFinite(op: string, what: string, d: Float32Array): void {
  for (let i = 0; i < d.length; i++)
    if (!Number.isFinite(d[i]))
      throw new Error(`${op}: ${what} has a non-finite value (${d[i]}) at index ${i}`);
}

export interface DiceOptions {
  /** Added to numerator and denominator (so empty masks score 1). Default 1. */
  smooth?: number;
  /** Mean of per-image losses instead of one loss over the whole batch. Default false. */
  perImage?: boolean;
}

/**
 * Soft Dice loss 1 - (2*sum(p*t) + s) / (sum(p) + sum(t) + s), over the whole batch or (perImage)
 * averaged over images (first axis). Returns a [1] tensor.
 */
export function diceLoss(pred: Tensor, target: Tensor, opts: DiceOptions = {}): Tensor {
  checkPair("diceLoss", pred, target);
  const s = opts.smooth ?? 1;
  const groups = opts.perImage ? pred.shape[0] : 1;
  const per = pred.size / groups;
  const p = pred.data,
    t = target.data;
  const inter = new Float64Array(groups);
  const denom = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    let a = 0,
      b = 0;
    for (let i = g * per; i < (g + 1) * per; i++) {
      a += p[i] * t[i];
      b += p[i] + t[i];
    }
    inter[g] = a;
    denom[g] = b + s;
  }
  let loss = 0;
  for (let g = 0; g < groups; g++) loss += 1 - (2 * inter[g] + s) / denom[g];
  const y = new Tensor([1]);
  y.data[0] = loss / groups;
  return record([pred, target], y, (dy, needs) => {
    const gy = dy.data[0] / groups;
    const grads: (Tensor | null)[] = [null, null];
    for (const k of [0, 1]) {
      if (!needs[k]) continue;
      const other = k === 0 ? t : p;
      const out = new Tensor(pred.shape);
      const o = out.data;
      for (let g = 0; g < groups; g++) {
        // d/dp_i of -(2I+s)/D = -(2 t_i D - (2I+s)) / D^2
        const num = 2 * inter[g] + s;
        const D = denom[g];
        for (let i = g * per; i < (g + 1) * per; i++) o[i] = (gy * -(2 * other[i] * D - num)) / (D * D);
      }
      grads[k] = out;
    }
    return grads;
  });
}

export interface BceOptions {
  /** Per-sample weights (one per item of the first axis), like PyTorch's `weight`. */
  weights?: ArrayLike<number>;
  /** Probabilities are clamped to [eps, 1-eps] before the log. Default 1e-7. */
  eps?: number;
}

/** Binary cross-entropy on probabilities, mean over all elements. Returns a [1] tensor. */
export function bceLoss(pred: Tensor, target: Tensor, opts: BceOptions = {}): Tensor {
  checkPair("bceLoss", pred, target);
  const eps = opts.eps ?? 1e-7;
  const n = pred.shape[0];
  const per = pred.size / n;
  const w = opts.weights;
  if (w) {
    if (w.length !== n) throw new Error(`bceLoss: ${w.length} weights for a batch of ${n}`);
    for (let i = 0; i < n; i++)
      if (!Number.isFinite(w[i])) throw new Error(`bceLoss: weight ${i} is not finite (${w[i]})`);
  }
  const p = pred.data,
    t = target.data;
  let total = 0;
  for (let g = 0; g < n; g++) {
    let s = 0;
    for (let i = g * per; i < (g + 1) * per; i++) {
      const q = Math.min(1 - eps, Math.max(eps, p[i]));
      s -= t[i] * Math.log(q) + (1 - t[i]) * Math.log(1 - q);
    }
    total += (w ? w[g] : 1) * s;
  }
  const y = new Tensor([1]);
  y.data[0] = total / pred.size;
  return record([pred, target], y, (dy, needs) => {
    const k = dy.data[0] / pred.size;
    const grads: (Tensor | null)[] = [null, null];
    if (needs[0]) {
      const out = new Tensor(pred.shape);
      const o = out.data;
      for (let g = 0; g < n; g++) {
        const wg = (w ? w[g] : 1) * k;
        for (let i = g * per; i < (g + 1) * per; i++) {
          const raw = p[i];
          const q = Math.min(1 - eps, Math.max(eps, raw));
          // Zero gradient where the clamp is active, like a clamp op would give.
          o[i] = raw === q ? wg * ((q - t[i]) / (q * (1 - q))) : 0;
        }
      }
      grads[0] = out;
    }
    if (needs[1]) {
      const out = new Tensor(pred.shape);
      const o = out.data;
      for (let g = 0; g < n; g++) {
        const wg = (w ? w[g] : 1) * k;
        for (let i = g * per; i < (g + 1) * per; i++) {
          const q = Math.min(1 - eps, Math.max(eps, p[i]));
          o[i] = -wg * (Math.log(q) - Math.log(1 - q));
        }
      }
      grads[1] = out;
    }
    return grads;
  });
}
