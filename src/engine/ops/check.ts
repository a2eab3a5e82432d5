// Shared by the op families: activation names and codes, and the shape checks that make a mistake
// an Error("op: what is wrong") before anything reaches the addon.
import { ActCode } from "../native.js";
import type { Shape, Tensor } from "../tensor.js";

export type Activation = "none" | "elu" | "relu" | "sigmoid";

export const ACT: Record<Activation, ActCode> = {
  none: ActCode.None,
  elu: ActCode.Elu,
  relu: ActCode.Relu,
  sigmoid: ActCode.Sigmoid,
};

export function fmt(s: Shape): string {
  return `[${s.join(", ")}]`;
}

export function check(cond: boolean, op: string, msg: string): void {
  if (!cond) throw new Error(`${op}: ${msg}`);
}

export function rank(t: Tensor, r: number, op: string, name: string): void {
  check(t.shape.length === r, op, `${name} must have rank ${r}, got ${fmt(t.shape)}`);
}

export function sameShape(a: Tensor, b: Tensor, op: string): void {
  check(
    a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]),
    op,
    `shapes differ: ${fmt(a.shape)} vs ${fmt(b.shape)}`,
  );
}

export function channels(t: Tensor): number {
  return t.shape[t.shape.length - 1];
}
