// Parameters and modules: a model is a tree of Modules holding named Parameters (trainable,
// with a persistent .grad) and buffers (BN running statistics). Names are dotted paths
// ("enc1.conv.weight") used for checkpoints and the ONNX export.
import { Tensor, untracked, isGradEnabled, type Shape } from "./tensor.js";
import { Rng } from "../core/random.js";
import { heNormal, glorotUniform, fans } from "./init.js";
import * as ops from "./ops.js";
import type { Activation, BatchNormState } from "./ops.js";
import type { Precision } from "./precision.js";

/** A trainable tensor: never freed by tidy(), gradient preallocated (zeros). */
export class Parameter extends Tensor {
  constructor(
    readonly name: string,
    shape: Shape,
  ) {
    super(shape, { zero: true, track: false });
    this.requiresGrad = true;
    this.grad = untracked(shape, true);
  }

  /** Sets the gradient to zero (the tape accumulates into it). */
  zeroGrad(): void {
    if (this.grad && !this.grad.disposed) {
      this.grad.data.fill(0);
      this.gradZeroVersion = this.grad.version;
    }
  }
}

export type Init = "he" | "glorot";

function initWeight(p: Parameter, init: Init, rng: Rng): void {
  const { fanIn, fanOut } = fans(p.shape);
  if (init === "he") heNormal(p, fanIn, rng);
  else glorotUniform(p, fanIn, fanOut, rng);
}

export abstract class Module {
  /** Train mode (batch statistics, dropout on) vs eval mode (running statistics, fused inference). */
  training = true;
  private readonly params = new Map<string, Parameter>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  protected addParameter(name: string, shape: Shape): Parameter {
    if (this.params.has(name)) throw new Error(`parameter ${name} registered twice`);
    const p = new Parameter(name, shape);
    this.params.set(name, p);
    return p;
  }

  protected addBuffer(name: string, shape: Shape, value = 0): Tensor {
    const t = untracked(shape, true);
    if (value !== 0) t.data.fill(value);
    this.buffers.set(name, t);
    return t;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    if (this.children.has(name)) throw new Error(`module ${name} registered twice`);
    this.children.set(name, m);
    return m;
  }

  /** Every parameter with its dotted path, in registration order. */
  namedParameters(prefix = ""): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Every buffer (BN running mean/var) with its dotted path. */
  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.buffers) out.push([prefix + n, b]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Direct child modules by name. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Copies of all parameters and buffers by dotted path (for checkpoints). */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    const m = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [n, t] of [...this.namedParameters(), ...this.namedBuffers()])
      m.set(n, { shape: [...t.shape], data: t.toFloat32Array() });
    return m;
  }

  /** Loads values saved by stateDict(); every name and shape must match. */
  loadStateDict(state: Map<string, { shape: readonly number[]; data: ArrayLike<number> }>): void {
    const all = [...this.namedParameters(), ...this.namedBuffers()];
    for (const [n, t] of all) {
      const s = state.get(n);
      if (!s) throw new Error(`loadStateDict: missing ${n}`);
      if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i]))
        throw new Error(
          `loadStateDict: ${n} has shape [${s.shape.join(", ")}], model wants [${t.shape.join(", ")}]`,
        );
      t.fromFloat32Array(s.data);
    }
    const known = new Set(all.map(([n]) => n));
    for (const n of state.keys()) if (!known.has(n)) throw new Error(`loadStateDict: unexpected entry ${n}`);
  }

  /** Number of trainable values. */
  parameterCount(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  /** Frees all parameters and buffers. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}

export interface LayerInit {
  rng: Rng;
  bias?: boolean;
  init?: Init;
}

/**
 * k x k convolution, NHWC in/out, weight [k,k,in,out]. Its compute precision is the caller's (the
 * model's), given on every forward; the backward runs at the forward's.
 */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly opts: LayerInit & { stride?: number; pad?: number },
  ) {
    super();
    this.weight = this.addParameter("weight", [kernel, kernel, inChannels, outChannels]);
    initWeight(this.weight, opts.init ?? "he", opts.rng);
    this.bias = opts.bias === false ? null : this.addParameter("bias", [outChannels]);
  }

  forward(x: Tensor, precision: Precision = "fp32"): Tensor {
    const opts = { stride: this.opts.stride, pad: this.opts.pad, precision };
    // Eval without gradients: cached kernel-layout weights, no per-call reorder.
    if (!this.training && !isGradEnabled()) return ops.conv2dActInference(x, this.weight, this.bias, opts);
    return ops.conv2d(x, this.weight, this.bias, opts);
  }
}

/** Batch normalization over the channel (last) axis. */
export class BatchNorm2d extends Module implements BatchNormState {
  readonly gamma: Parameter;
  readonly beta: Parameter;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(
    readonly channels: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    super();
    this.gamma = this.addParameter("gamma", [channels]);
    this.gamma.data.fill(1);
    this.beta = this.addParameter("beta", [channels]);
    this.runningMean = this.addBuffer("runningMean", [channels]);
    this.runningVar = this.addBuffer("runningVar", [channels], 1);
  }

  forward(x: Tensor, act: Activation = "none", alpha = 1): Tensor {
    return ops.batchNorm(x, this, { training: this.training, act, alpha });
  }
}

/**
 * conv -> BN -> activation as one fused op (the U-Net building block). Train mode: batch
 * statistics with a fused backward; eval mode: BN folded into the conv, activation as a post-op.
 * The precision is the caller's, given on every forward (in bf16 the output is a bf16 activation).
 */
export class ConvBnAct extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(
    inChannels: number,
    outChannels: number,
    kernel: number,
    readonly opts: LayerInit & {
      stride?: number;
      pad?: number;
      act?: Activation;
      alpha?: number;
      momentum?: number;
    },
  ) {
    super();
    // No conv bias by default: BN's beta makes it redundant.
    this.conv = this.addModule(
      "conv",
      new Conv2d(inChannels, outChannels, kernel, { ...opts, bias: opts.bias ?? false }),
    );
    this.bn = this.addModule("bn", new BatchNorm2d(outChannels, opts.momentum ?? 0.1));
  }

  forward(x: Tensor, precision: Precision = "fp32"): Tensor {
    return ops.convBnAct(x, this.conv.weight, this.conv.bias, this.bn, {
      stride: this.opts.stride,
      pad: this.opts.pad,
      training: this.training,
      act: this.opts.act ?? "elu",
      alpha: this.opts.alpha ?? 1,
      precision,
    });
  }
}

/** Fully connected layer, weight [in, out]. */
export class Dense extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LayerInit,
  ) {
    super();
    this.weight = this.addParameter("weight", [inFeatures, outFeatures]);
    initWeight(this.weight, opts.init ?? "glorot", opts.rng);
    this.bias = opts.bias === false ? null : this.addParameter("bias", [outFeatures]);
  }

  forward(x: Tensor): Tensor {
    return ops.dense(x, this.weight, this.bias);
  }
}
