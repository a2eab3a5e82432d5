// Optimizers (PyTorch semantics) with native update kernels, gradient clipping, and state that
// can be exported/imported for resuming a run.
import { native } from "./native.js";
import { untracked, type Tensor } from "./tensor.js";
import type { Module, Parameter } from "./nn.js";

export interface OptimizerState {
  kind: "adam" | "sgd";
  step: number;
  /** Per-parameter slot values in the order the optimizer was given its parameters. */
  slots: Record<string, Float32Array[]>;
}

export abstract class Optimizer {
  /** Completed steps. */
  stepCount = 0;
  constructor(
    readonly params: readonly Parameter[],
    public lr: number,
  ) {
    if (!(lr > 0)) throw new Error(`optimizer: learning rate must be > 0, got ${lr}`);
  }

  /** Applies one update from the parameters' .grad, then bumps their versions. */
  abstract step(): void;

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  abstract exportState(): OptimizerState;
  abstract importState(s: OptimizerState): void;

  protected loadSlots(s: OptimizerState, kind: OptimizerState["kind"], names: string[]): Tensor[][] {
    if (s.kind !== kind) throw new Error(`importState: state is for ${s.kind}, optimizer is ${kind}`);
    const out: Tensor[][] = [];
    for (const n of names) {
      const arrs = s.slots[n];
      if (!arrs || arrs.length !== this.params.length)
        throw new Error(
          `importState: slot ${n} has ${arrs?.length ?? 0} entries, expected ${this.params.length}`,
        );
      out.push(
        arrs.map((a, i) => {
          const t = untracked(this.params[i].shape, false);
          t.fromFloat32Array(a);
          return t;
        }),
      );
    }
    this.stepCount = s.step;
    return out;
  }

  dispose(): void {}
}

function gradOf(p: Parameter): Tensor {
  if (!p.grad || p.grad.disposed) throw new Error(`optimizer: parameter ${p.name} has no gradient`);
  return p.grad;
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient (torch.optim.Adam's weight_decay). */
  weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private m: Tensor[];
  private v: Tensor[];
  constructor(params: readonly Parameter[], opts: AdamOptions = {}) {
    super(params, opts.lr ?? 1e-3);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.m = params.map((p) => untracked(p.shape));
    this.v = params.map((p) => untracked(p.shape));
  }

  step(): void {
    this.stepCount++;
    const bc1 = 1 - Math.pow(this.beta1, this.stepCount);
    const bc2 = 1 - Math.pow(this.beta2, this.stepCount);
    this.params.forEach((p, i) => {
      native.adamStep({
        p: p.data,
        g: gradOf(p).data,
        m: this.m[i].data,
        v: this.v[i].data,
        n: p.size,
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        bc1,
        bc2,
        weightDecay: this.weightDecay,
      });
      p.version++;
    });
  }

  exportState(): OptimizerState {
    return {
      kind: "adam",
      step: this.stepCount,
      slots: { m: this.m.map((t) => t.toFloat32Array()), v: this.v.map((t) => t.toFloat32Array()) },
    };
  }

  importState(s: OptimizerState): void {
    const [m, v] = this.loadSlots(s, "adam", ["m", "v"]);
    this.dispose();
    this.m = m;
    this.v = v;
  }

  override dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  private buf: Tensor[];
  constructor(params: readonly Parameter[], opts: SgdOptions) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new Error("SGD: Nesterov needs momentum > 0 and dampening 0");
    this.buf = this.momentum > 0 ? params.map((p) => untracked(p.shape)) : [];
  }

  step(): void {
    const first = this.stepCount === 0;
    this.stepCount++;
    this.params.forEach((p, i) => {
      native.sgdStep({
        p: p.data,
        g: gradOf(p).data,
        buf: this.momentum > 0 ? this.buf[i].data : null,
        n: p.size,
        lr: this.lr,
        momentum: this.momentum,
        dampening: this.dampening,
        nesterov: this.nesterov,
        weightDecay: this.weightDecay,
        first,
      });
      p.version++;
    });
  }

  exportState(): OptimizerState {
    return {
      kind: "sgd",
      step: this.stepCount,
      slots: { momentum: this.buf.map((t) => t.toFloat32Array()) },
    };
  }

  importState(s: OptimizerState): void {
    if (this.momentum === 0) {
      this.loadSlots({ ...s, slots: {} }, "sgd", []);
      return;
    }
    const [b] = this.loadSlots(s, "sgd", ["momentum"]);
    this.dispose();
    this.buf = b;
  }

  override dispose(): void {
    for (const t of this.buf) t.dispose();
  }
}

/**
 * Scales all gradients so their global L2 norm is at most maxNorm (like
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  let ss = 0;
  for (const p of params) ss += native.sumSquares(gradOf(p).data, p.size);
  const norm = Math.sqrt(ss);
  if (!Number.isFinite(norm)) throw new Error(`clipGradNorm: gradient norm is ${norm}`);
  const k = maxNorm / (norm + 1e-6);
  if (k < 1) for (const p of params) native.axpby(gradOf(p).data, gradOf(p).data, 0, k, p.size);
  return norm;
}

/**
 * An exponential moving average of a module's parameters and BatchNorm statistics (Polyak averaging,
 * as timm's ModelEmaV2): after each optimizer step avg = d·avg + (1 − d)·w, with d warmed up as
 * min(decay, (1 + t) / (10 + t)) so that the early steps do not drag in the random init. `swap`
 * exchanges the module's values and the average, so the average is validated and saved by the same code
 * as the weights; swap again to go on training.
 */
export class WeightAverage {
  readonly names: string[];
  private readonly live: Tensor[];
  /** The averages, in `names` order (module parameters, then buffers). */
  readonly avg: Float32Array[];
  private readonly tmp: Float32Array;
  constructor(
    module: Module,
    readonly decay: number,
    /** Updates done so far (the warm-up's t; a resumed run passes its step count). */
    public updates = 0,
  ) {
    if (!(decay > 0 && decay < 1)) throw new Error(`WeightAverage: decay must be in (0, 1), got ${decay}`);
    const all = [...module.namedParameters(), ...module.namedBuffers()];
    this.names = all.map(([n]) => n);
    this.live = all.map(([, t]) => t);
    this.avg = this.live.map((t) => t.toFloat32Array());
    this.tmp = new Float32Array(Math.max(1, ...this.live.map((t) => t.size)));
  }

  /** The decay the next update uses. */
  currentDecay(): number {
    return Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
  }

  update(): void {
    const d = this.currentDecay();
    this.live.forEach((t, i) => native.axpby(this.avg[i], t.data, 1 - d, d, t.size));
    this.updates++;
  }

  /** Exchanges the module's values with the average (bumps their versions: cached copies go stale). */
  swap(): void {
    this.live.forEach((t, i) => {
      const tmp = this.tmp.subarray(0, t.size);
      tmp.set(t.data);
      t.data.set(this.avg[i]);
      this.avg[i].set(tmp);
      t.version++;
    });
  }

  /** Replaces the averages (a resumed run); names and sizes must match. */
  load(values: ReadonlyMap<string, ArrayLike<number>>): void {
    this.names.forEach((n, i) => {
      const v = values.get(n);
      if (!v) throw new Error(`WeightAverage: missing ${n}`);
      if (v.length !== this.avg[i].length)
        throw new Error(`WeightAverage: ${n} has ${v.length} values, the model ${this.avg[i].length}`);
      this.avg[i].set(v);
    });
  }
}
