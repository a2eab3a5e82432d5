// The reference U-Net of issue 3 ("UNet-64x80" with filters 32..512), configurable so tests can
// train a tiny one. Encoder: per level two conv3x3->BN->ELU, 2x2 max-pool between levels;
// decoder: nearest 2x upsample, concat skip, two conv3x3->BN->ELU; 1x1 conv + sigmoid; presence
// head (global average pool -> dense -> sigmoid) on the bottleneck.
import * as E from "../src/engine/index.js";
import { OnnxBuilder, type OnnxValue } from "../src/engine/onnx.js";

export interface UNetOutput {
  /** [N,H,W,1] probabilities. */
  mask: E.Tensor;
  /** [N,1] probability that the image contains the nerve. */
  presence: E.Tensor;
}

class DoubleConv extends E.Module {
  readonly a: E.ConvBnAct;
  readonly b: E.ConvBnAct;
  constructor(cin: number, cout: number, rng: E.Rng) {
    super();
    this.a = this.addModule("a", new E.ConvBnAct(cin, cout, 3, { pad: 1, act: "elu", rng }));
    this.b = this.addModule("b", new E.ConvBnAct(cout, cout, 3, { pad: 1, act: "elu", rng }));
  }
  forward(x: E.Tensor): E.Tensor {
    return this.b.forward(this.a.forward(x));
  }
}

export class RefUNet extends E.Module {
  readonly enc: DoubleConv[] = [];
  readonly dec: DoubleConv[] = [];
  readonly head: E.Conv2d;
  readonly presence: E.Dense;

  constructor(
    readonly filters: readonly number[],
    rng: E.Rng,
    readonly inChannels = 1,
  ) {
    super();
    let cin = inChannels;
    filters.forEach((f, i) => {
      this.enc.push(this.addModule(`enc${i}`, new DoubleConv(cin, f, rng)));
      cin = f;
    });
    for (let i = filters.length - 2; i >= 0; i--)
      this.dec.push(this.addModule(`dec${i}`, new DoubleConv(filters[i + 1] + filters[i], filters[i], rng)));
    this.head = this.addModule("head", new E.Conv2d(filters[0], 1, 1, { rng, init: "glorot" }));
    this.presence = this.addModule("presence", new E.Dense(filters[filters.length - 1], 1, { rng }));
  }

  forward(x: E.Tensor): UNetOutput {
    const skips: E.Tensor[] = [];
    let h = x;
    this.enc.forEach((block, i) => {
      if (i > 0) h = E.maxPool2x2(h);
      h = block.forward(h);
      skips.push(h);
    });
    const presence = E.sigmoid(this.presence.forward(E.globalAvgPool(h)));
    this.dec.forEach((block, j) => {
      const skip = skips[skips.length - 2 - j];
      h = block.forward(E.upsampleConcat(h, skip));
    });
    const mask = E.sigmoid(this.head.forward(h));
    return { mask, presence };
  }
}

/** Multiply-accumulates x2 of one forward pass per image (convs only), for GFLOP/s. */
export function unetFlopsPerImage(filters: readonly number[], h: number, w: number, inChannels = 1): number {
  let flops = 0;
  const conv = (hh: number, ww: number, cin: number, cout: number, k: number): number =>
    2 * hh * ww * cin * cout * k * k;
  let cin = inChannels;
  filters.forEach((f, i) => {
    const s = 2 ** i;
    flops += conv(h / s, w / s, cin, f, 3) + conv(h / s, w / s, f, f, 3);
    cin = f;
  });
  for (let i = filters.length - 2; i >= 0; i--) {
    const s = 2 ** i;
    flops +=
      conv(h / s, w / s, filters[i + 1] + filters[i], filters[i], 3) +
      conv(h / s, w / s, filters[i], filters[i], 3);
  }
  flops += conv(h, w, filters[0], 1, 1);
  return flops;
}

/** The same net as an ONNX graph (eval mode: running statistics), NHWC input "x", outputs "mask", "presence". */
export function exportRefUNetOnnx(net: RefUNet, h: number, w: number): Uint8Array {
  const g = new OnnxBuilder("UNet-64x80");
  const block = (v: OnnxValue, m: DoubleConv): OnnxValue => {
    for (const c of [m.a, m.b]) v = g.convBnAct(v, c.conv.weight, c.conv.bias, c.bn, { pad: 1, act: "elu" });
    return v;
  };
  let v = g.input("x", ["N", h, w, net.inChannels]);
  const skips: OnnxValue[] = [];
  net.enc.forEach((b, i) => {
    if (i > 0) v = g.maxPool2x2(v);
    v = block(v, b);
    skips.push(v);
  });
  const presence = g.activation(
    g.dense(g.globalAvgPool(v), net.presence.weight, net.presence.bias),
    "sigmoid",
  );
  net.dec.forEach((b, j) => {
    v = block(g.concat([g.upsample2x(v), skips[skips.length - 2 - j]]), b);
  });
  const mask = g.activation(g.conv(v, net.head.weight, net.head.bias), "sigmoid");
  g.output(mask, "mask", ["N", h, w, 1]);
  g.output(presence, "presence", ["N", 1]);
  return g.toBytes();
}
