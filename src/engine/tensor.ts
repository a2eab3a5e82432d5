// Float32 tensors whose memory lives in the native addon (through the buffer pool, memory.ts), plus
// the two things that decide their lifetime and gradients: `tidy` scopes (deterministic freeing) and
// the define-by-run tape.
//
// A tensor is fp32, or — an activation in bf16 training (precision.ts) — packed bf16: two values per
// float of a Float32Array of ceil(size / 2), so it shares the pool. Only the ops that say so read a
// bf16 tensor (through `raw` and a flag to the addon); `data` refuses it, so an op that would
// misread it fails loudly instead. Gradients are always fp32.
import { native } from "./native.js";
import { takeBuffer, returnBuffer } from "./memory.js";

export type Shape = readonly number[];
/** Storage format: fp32, or packed bf16 (see the top of this file). */
export type DType = "f32" | "bf16";

function checkShape(shape: Shape, what: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: bad shape [${shape.join(", ")}]`);
    n *= d;
  }
  return n;
}

/** One recorded op: how to turn the gradient of `output` into gradients of `inputs`. */
export interface TapeNode {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  /** Gradients for each input (null where the input needs none). */
  backward(gradOutput: Tensor, needs: readonly boolean[]): (Tensor | null)[];
}

const scopes: Tensor[][] = [];
const tape: TapeNode[] = [];
let gradEnabled = true;

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  /** True for trainable leaves (parameters) and for every op output that depends on one. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf with requiresGrad, filled by backward(). */
  grad: Tensor | null = null;
  /** Bumped by every in-place change (optimizer steps, loads), so caches can tell when to refresh. */
  version = 0;
  /**
   * Set by Parameter.zeroGrad() to the grad's version: while `.grad` still has that version it holds
   * zeros, so backward may replace it instead of adding to it.
   */
  gradZeroVersion = -1;
  /** The op that produced this tensor (null for leaves). */
  gradFn: TapeNode | null = null;
  readonly dtype: DType;
  private buf: Float32Array | null;

  /** Allocates uninitialised native memory; prefer the `zeros`/`fromArray` helpers. */
  constructor(shape: Shape, opts: { zero?: boolean; track?: boolean; dtype?: DType } = {}) {
    this.size = checkShape(shape, "tensor");
    this.shape = Object.freeze([...shape]);
    this.dtype = opts.dtype ?? "f32";
    try {
      this.buf = takeBuffer(this.dtype === "bf16" ? Math.ceil(this.size / 2) : this.size, opts.zero ?? false);
    } catch (e) {
      // Say which tensor: the caller (training, inference) adds which model.
      throw new Error(`${(e as Error).message} for a [${shape.join(", ")}] ${this.dtype} tensor`, {
        cause: e,
      });
    }
    if (opts.track !== false && scopes.length > 0) scopes[scopes.length - 1].push(this);
  }

  /** The fp32 values as a Float32Array view of the native memory; throws once disposed, or for bf16. */
  get data(): Float32Array {
    if (this.dtype !== "f32")
      throw new Error(
        `tensor [${this.shape.join(", ")}] is packed bf16 (a bf16 training activation): this op reads fp32`,
      );
    return this.raw;
  }

  /** The storage, whatever the dtype (for the ops that read packed bf16); throws once disposed. */
  get raw(): Float32Array {
    if (this.buf === null) throw new Error(`tensor [${this.shape.join(", ")}] was used after dispose()`);
    return this.buf;
  }

  get disposed(): boolean {
    return this.buf === null;
  }

  /** Frees the native memory now (and the gradient of a leaf). Safe to call twice. */
  dispose(): void {
    if (this.buf === null) return;
    returnBuffer(this.buf);
    this.buf = null;
    this.grad?.dispose();
    this.grad = null;
  }

  /** A copy of the values, widened to fp32 from bf16 (safe to keep after dispose). */
  toFloat32Array(): Float32Array {
    return this.dtype === "f32" ? new Float32Array(this.data) : this.widenInto(new Float32Array(this.size));
  }

  /** The values widened to fp32 into `out` (of `size` floats), which it returns. */
  widenInto(out: Float32Array): Float32Array {
    if (out.length !== this.size)
      throw new Error(`widenInto: ${out.length} floats for a tensor of ${this.size}`);
    if (this.dtype === "f32") {
      out.set(this.data);
      return out;
    }
    const bits = new Uint32Array(out.buffer, out.byteOffset, this.size);
    const packed = new Uint16Array(this.raw.buffer, this.raw.byteOffset, this.size);
    for (let i = 0; i < this.size; i++) bits[i] = packed[i] << 16;
    return out;
  }

  /** Overwrites the values in place (shapes must hold the same number of elements). */
  fromFloat32Array(values: ArrayLike<number>): this {
    if (values.length !== this.size)
      throw new Error(`fromFloat32Array: got ${values.length} values for a tensor of ${this.size}`);
    this.data.set(values);
    this.version++;
    return this;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, not 1`);
    return this.data[0];
  }

  /** Backpropagates from this scalar through the tape into the `.grad` of every leaf. */
  backward(): void {
    backward(this);
  }

  toString(): string {
    return `Tensor[${this.shape.join("x")}${this.dtype === "bf16" ? ", bf16" : ""}]`;
  }
}

/** New tensor of zeros. */
export function zeros(shape: Shape): Tensor {
  return new Tensor(shape, { zero: true });
}

/** New tensor of `value`. */
export function full(shape: Shape, value: number): Tensor {
  const t = new Tensor(shape);
  native.fill(t.data, value, t.size);
  return t;
}

/** New tensor holding a copy of `values` (row-major, last axis fastest). */
export function fromArray(shape: Shape, values: ArrayLike<number>): Tensor {
  const size = checkShape(shape, "fromArray");
  if (values.length !== size)
    throw new Error(`fromArray: ${values.length} values do not fill shape [${shape.join(", ")}] (${size})`);
  const t = new Tensor(shape);
  t.data.set(values);
  return t;
}

/** A scalar tensor. */
export function scalar(v: number): Tensor {
  return fromArray([1], [v]);
}

/** A tensor that no scope will free: the caller owns it (model weights, optimizer state). */
export function untracked(shape: Shape, zero = true): Tensor {
  return new Tensor(shape, { zero, track: false });
}

function collect(result: unknown, into: Set<Tensor>): void {
  if (result instanceof Tensor) into.add(result);
  else if (Array.isArray(result)) for (const r of result) collect(r, into);
  else if (
    result !== null &&
    typeof result === "object" &&
    Object.getPrototypeOf(result) === Object.prototype
  )
    for (const v of Object.values(result)) collect(v, into);
}

/**
 * Runs `fn` and frees every tensor it created except those it returns (a tensor, or tensors in an
 * array / plain object), which move to the enclosing scope. Tape entries recorded inside are
 * dropped too, so call backward() inside the same tidy as the forward pass.
 */
export function tidy<T>(fn: () => T): T {
  if (fn.constructor.name === "AsyncFunction")
    throw new Error("tidy(): the function must be synchronous (await outside, tidy inside)");
  const scope: Tensor[] = [];
  scopes.push(scope);
  const tapeStart = tape.length;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    if (tape.length > tapeStart) tape.length = tapeStart;
    throw e;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collect(result, keep);
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : null;
  for (const t of scope) {
    if (keep.has(t)) parent?.push(t);
    else t.dispose();
  }
  if (tape.length > tapeStart) tape.length = tapeStart;
  return result;
}

/** Removes `t` from the current scope so tidy() will not free it. */
export function keep<T extends Tensor>(t: T): T {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const idx = scopes[i].lastIndexOf(t);
    if (idx >= 0) scopes[i].splice(idx, 1);
  }
  return t;
}

/** Runs `fn` without recording on the tape (inference, metrics). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Records `output = op(inputs)` when any input needs a gradient. Used by ops.ts. */
export function record(
  inputs: readonly Tensor[],
  output: Tensor,
  backwardFn: (g: Tensor, needs: readonly boolean[]) => (Tensor | null)[],
): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return output;
  const node: TapeNode = { inputs, output, backward: backwardFn };
  output.requiresGrad = true;
  output.gradFn = node;
  tape.push(node);
  return output;
}

/** Number of recorded ops (for tests). */
export function tapeLength(): number {
  return tape.length;
}

function addInto(acc: Tensor, g: Tensor): void {
  native.axpby(acc.data, g.data, 1, 1, acc.size);
}

/**
 * Reverse-mode pass from `loss` (seeded with ones, or `seed`): accumulates into `.grad` of every
 * leaf with requiresGrad, frees intermediate gradients as soon as they are used, and clears the
 * tape. Leaf gradients are owned by the leaf (freed with it), never by a tidy scope.
 */
export function backward(loss: Tensor, seed?: Tensor): void {
  if (loss.disposed) throw new Error("backward(): the loss tensor was disposed");
  if (!loss.requiresGrad)
    throw new Error("backward(): the loss does not depend on any tensor with requiresGrad");
  if (seed && seed.size !== loss.size) throw new Error("backward(): seed and loss sizes differ");
  if (!seed && loss.size !== 1)
    throw new Error(`backward(): loss must be a scalar, got [${loss.shape.join(", ")}]`);
  const grads = new Map<Tensor, Tensor>();
  const start = seed ? copyOf(seed) : full(loss.shape, 1);
  if (loss.gradFn === null) {
    accumulateLeaf(loss, start);
    return;
  }
  grads.set(loss, start);
  try {
    for (let i = tape.length - 1; i >= 0; i--) {
      const node = tape[i];
      const g = grads.get(node.output);
      if (!g) continue;
      grads.delete(node.output);
      const needs = node.inputs.map((t) => t.requiresGrad);
      const ins = node.backward(g, needs);
      g.dispose();
      for (let j = 0; j < node.inputs.length; j++) {
        const gi = ins[j];
        if (!gi) continue;
        const inp = node.inputs[j];
        if (!inp.requiresGrad) {
          gi.dispose();
        } else if (inp.gradFn === null) {
          accumulateLeaf(inp, gi);
        } else {
          const prev = grads.get(inp);
          if (prev) {
            addInto(prev, gi);
            gi.dispose();
          } else grads.set(inp, gi);
        }
      }
    }
  } finally {
    for (const g of grads.values()) g.dispose();
    tape.length = 0;
  }
}

function copyOf(t: Tensor): Tensor {
  const c = new Tensor(t.shape);
  c.data.set(t.data);
  return c;
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (
    leaf.grad !== null &&
    !leaf.grad.disposed &&
    leaf.gradZeroVersion === leaf.grad.version &&
    g.size === leaf.size
  ) {
    // The grad was just zeroed: adopt g's buffer instead of adding it to zeros.
    keep(g);
    leaf.grad.dispose();
    leaf.grad = g;
    leaf.gradZeroVersion = -1;
    return;
  }
  if (leaf.grad === null || leaf.grad.disposed) {
    leaf.grad = untracked(leaf.shape, false);
    leaf.grad.data.set(g.data);
  } else addInto(leaf.grad, g);
  leaf.gradZeroVersion = -1;
  g.dispose();
}

/** Gradients of scalar `loss` with respect to `wrt` (copies; the leaves' .grad are left as before). */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  const saved = wrt.map((t) => t.grad);
  for (const t of wrt) {
    if (!t.requiresGrad) throw new Error("grad(): a tensor in wrt does not have requiresGrad");
    if (t.gradFn !== null) throw new Error("grad(): wrt must be leaves (inputs or parameters)");
    t.grad = null;
  }
  backward(loss);
  return wrt.map((t, i) => {
    const g = t.grad;
    t.grad = saved[i];
    if (g === null) return zeros(t.shape);
    if (scopes.length > 0) scopes[scopes.length - 1].push(g);
    return g;
  });
}
