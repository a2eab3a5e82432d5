// Elementwise ops (native/src/elementwise.cc: activations, add/mul, axpby, fill) and what is composed
// from them in TypeScript: dropout (mul by a mask), reshape/flatten (copies), sum and mean, and the
// widening of a bf16 activation to fp32 for the ops that read fp32.
import { ActCode, native } from "../native.js";
import { Tensor, record } from "../tensor.js";
import type { Rng } from "../../core/random.js";
import { check, fmt, sameShape } from "./check.js";

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

/**
 * A bf16 activation (tensor.ts) widened to fp32, for an op that reads fp32 (identity for an fp32
 * tensor); the gradient passes through unchanged.
 */
export function float32(x: Tensor): Tensor {
  if (x.dtype === "f32") return x;
  const y = new Tensor(x.shape);
  x.widenInto(y.data);
  return record([x], y, (dy) => [copy(dy)]);
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
  x = float32(x);
  const mask = new Tensor(x.shape);
  const m = mask.data;
  const keepScale = 1 / (1 - p);
  for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < p ? 0 : keepScale;
  return mul(x, mask);
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
