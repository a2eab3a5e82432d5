// Weight initialisers drawing from the seeded Rng (deterministic for a fixed seed).
import type { Rng } from "../core/random.js";
import type { Tensor } from "./tensor.js";

/** He (Kaiming) normal: N(0, 2/fanIn). Right for ReLU/ELU layers. */
export function heNormal(t: Tensor, fanIn: number, rng: Rng): Tensor {
  const std = Math.sqrt(2 / fanIn);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  t.version++;
  return t;
}

/** Glorot (Xavier) uniform: U(-l, l), l = sqrt(6/(fanIn+fanOut)). */
export function glorotUniform(t: Tensor, fanIn: number, fanOut: number, rng: Rng): Tensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = (rng.uniform() * 2 - 1) * limit;
  t.version++;
  return t;
}

/** Fan-in / fan-out of an HWIO conv weight or a [in, out] dense weight. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  if (shape.length === 4) {
    const k = shape[0] * shape[1];
    return { fanIn: k * shape[2], fanOut: k * shape[3] };
  }
  throw new Error(`fans: expected a rank-2 or rank-4 weight, got [${shape.join(", ")}]`);
}
