/*
 * The two-head U-Net of the reference recipe: an encoder of conv->BN->ELU pairs with 2x2 max-pooling,
 * a decoder that upsamples (nearest, 2x), concatenates the skip connection and applies another pair,
 * a segmentation head (1x1 conv + sigmoid) and an auxiliary nerve-presence head on the bottleneck
 * (1x1 conv + sigmoid -> flatten -> dense -> sigmoid, exactly as the reference Keras model did; the
 * flatten keeps *where* in the bottleneck the evidence lies, which global average pooling would throw
 * away, and at 4x5 or 10x10 bottleneck cells the dense layer stays tiny).
 *
 * Layout: NHWC activations, input [N, H, W, 1] already normalised ((x - mean) / std of the training
 * pixels; the values travel with the model as `normalization`).
 * Parameter names (the safetensors keys): encoder.level<i>.{a,b}.{conv.weight,bn.gamma,bn.beta,
 * bn.runningMean,bn.runningVar}, decoder.level<i>.{a,b}..., segHead.conv.{weight,bias},
 * presenceHead.conv.{weight,bias}, presenceHead.dense.{weight,bias}.
 */
import * as E from "../engine/index.js";
import { bottleneckSize, type ModelConfig } from "./config.js";

export interface Normalization {
  mean: number;
  std: number;
}

export interface UNetOutput {
  /** [N, H, W, 1] pixel probabilities. */
  mask: E.Tensor;
  /** [N, 1] probability that the nerve is in the image (null without a presence head). */
  presence: E.Tensor | null;
}

/** Two conv->BN->ELU blocks (the fused engine op), optional dropout after them. */
export class ConvPair extends E.Module {
  readonly a: E.ConvBnAct;
  readonly b: E.ConvBnAct;
  constructor(
    cin: number,
    cout: number,
    kernel: number,
    rng: E.Rng,
    private readonly dropout = 0,
    private readonly dropoutRng: E.Rng | null = null,
  ) {
    super();
    const pad = (kernel - 1) / 2;
    this.a = this.addModule("a", new E.ConvBnAct(cin, cout, kernel, { pad, act: "elu", rng }));
    this.b = this.addModule("b", new E.ConvBnAct(cout, cout, kernel, { pad, act: "elu", rng }));
  }

  forward(x: E.Tensor, precision: E.Precision): E.Tensor {
    const y = this.b.forward(this.a.forward(x, precision), precision);
    return this.dropout > 0 && this.dropoutRng
      ? E.dropout(y, this.dropout, this.dropoutRng, this.training)
      : y;
  }
}

/** Encoder: level 0 at full resolution, each further level after a 2x2 max-pool; the last is the bottleneck. */
export class Encoder extends E.Module {
  readonly levels: ConvPair[] = [];
  constructor(
    filters: readonly number[],
    kernel: number,
    rng: E.Rng,
    dropout = 0,
    dropoutRng: E.Rng | null = null,
  ) {
    super();
    let cin = 1;
    filters.forEach((f, i) => {
      // Dropout (when configured) only on the two deepest levels, as the reference did.
      const p = i >= filters.length - 2 ? dropout : 0;
      this.levels.push(this.addModule(`level${i}`, new ConvPair(cin, f, kernel, rng, p, dropoutRng)));
      cin = f;
    });
  }

  /** Returns the features of every level, the last being the bottleneck. */
  forward(x: E.Tensor, precision: E.Precision): E.Tensor[] {
    const feats: E.Tensor[] = [];
    let h = x;
    this.levels.forEach((level, i) => {
      if (i > 0) h = E.maxPool2x2(h);
      h = level.forward(h, precision);
      feats.push(h);
    });
    return feats;
  }
}

/** Decoder: from the bottleneck up, nearest 2x upsample, concat the encoder skip, conv pair. */
export class Decoder extends E.Module {
  readonly levels: ConvPair[] = [];
  constructor(filters: readonly number[], kernel: number, rng: E.Rng) {
    super();
    // Registered deepest first so the parameter order follows the forward pass.
    for (let i = filters.length - 2; i >= 0; i--)
      this.levels.push(
        this.addModule(`level${i}`, new ConvPair(filters[i + 1] + filters[i], filters[i], kernel, rng)),
      );
  }

  forward(feats: readonly E.Tensor[], precision: E.Precision): E.Tensor {
    let h = feats[feats.length - 1];
    this.levels.forEach((level, j) => {
      const skip = feats[feats.length - 2 - j];
      // One fused pass: the nearest 2x upsample of h and the skip, concatenated on channels, with no upsampled copy.
      h = level.forward(E.upsampleConcat(h, skip), precision);
    });
    return h;
  }
}

/** 1x1 conv to one channel + sigmoid: the pixel probabilities. */
export class SegmentationHead extends E.Module {
  readonly conv: E.Conv2d;
  constructor(channels: number, rng: E.Rng) {
    super();
    this.conv = this.addModule("conv", new E.Conv2d(channels, 1, 1, { rng, init: "glorot" }));
  }

  forward(x: E.Tensor, precision: E.Precision): E.Tensor {
    return E.sigmoid(this.conv.forward(x, precision));
  }
}

/** Bottleneck -> 1x1 conv + sigmoid -> flatten -> dense -> sigmoid: P(nerve present). */
export class PresenceHead extends E.Module {
  readonly conv: E.Conv2d;
  readonly dense: E.Dense;
  constructor(channels: number, cells: number, rng: E.Rng) {
    super();
    this.conv = this.addModule("conv", new E.Conv2d(channels, 1, 1, { rng, init: "glorot" }));
    this.dense = this.addModule("dense", new E.Dense(cells, 1, { rng }));
  }

  forward(bottleneck: E.Tensor, precision: E.Precision): E.Tensor {
    return E.sigmoid(this.dense.forward(E.flatten(E.sigmoid(this.conv.forward(bottleneck, precision)))));
  }
}

export class UNet extends E.Module {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly segHead: SegmentationHead;
  readonly presenceHead: PresenceHead | null;
  /** Drives dropout only (its state goes into checkpoints); null when dropout is off. */
  readonly dropoutRng: E.Rng | null;

  /**
   * `precision`: the convolutions' compute precision of every forward and backward of this model
   * (bf16 where the CPU has it; the weights are fp32 either way).
   */
  constructor(
    readonly config: ModelConfig,
    readonly normalization: Normalization,
    rng: E.Rng,
    readonly precision: E.Precision = "fp32",
  ) {
    super();
    // bf16 where the CPU (or NERVESEG_NO_BF16) says no is an error that says why, before any work.
    if (precision !== "fp32") E.resolvePrecision(precision);
    const { height, width } = bottleneckSize(config);
    if (!(normalization.std > 0)) throw new Error(`normalization std must be > 0, got ${normalization.std}`);
    this.dropoutRng = config.dropout > 0 ? new E.Rng(rng.nextUint32()) : null;
    const f = config.filters;
    this.encoder = this.addModule(
      "encoder",
      new Encoder(f, config.kernel, rng, config.dropout, this.dropoutRng),
    );
    this.decoder = this.addModule("decoder", new Decoder(f, config.kernel, rng));
    this.segHead = this.addModule("segHead", new SegmentationHead(f[0], rng));
    this.presenceHead = config.presenceHead
      ? this.addModule("presenceHead", new PresenceHead(f[f.length - 1], height * width, rng))
      : null;
  }

  /** x: [N, H, W, 1] normalised input at the config's resolution. */
  forward(x: E.Tensor): UNetOutput {
    const { inputHeight: h, inputWidth: w } = this.config;
    if (x.shape.length !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== 1)
      throw new Error(`UNet: input [${x.shape.join(", ")}], expected [N, ${h}, ${w}, 1]`);
    const p = this.precision;
    const feats = this.encoder.forward(x, p);
    const presence = this.presenceHead ? this.presenceHead.forward(feats[feats.length - 1], p) : null;
    const mask = this.segHead.forward(this.decoder.forward(feats, p), p);
    return { mask, presence };
  }

  /** Writes (pixel - mean) / std of `count` uint8 frames into `out` (a float batch). */
  normalize(pixels: ArrayLike<number>, out: Float32Array): Float32Array {
    const { mean, std } = this.normalization;
    const k = 1 / std;
    for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] - mean) * k;
    return out;
  }
}
