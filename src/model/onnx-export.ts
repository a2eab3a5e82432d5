/*
 * The trained U-Net as an ONNX model (opset 13) for deployment outside nerveseg. Mirrors UNet.forward
 * in eval mode, part by part. The graph takes raw pixel values (0..255, already resized to the model's
 * input) as NHWC [N, H, W, 1] and applies the stored normalisation itself, so a deployment needs nothing
 * but the file. Outputs: `mask` [N, H, W, 1] pixel probabilities and `presence` [N, 1].
 */
import type * as E from "../engine/index.js";
import { OnnxBuilder, type OnnxValue } from "../engine/onnx.js";
import type { ConvPair, UNet } from "./unet.js";

function convBlock(b: OnnxBuilder, x: OnnxValue, block: E.ConvBnAct): OnnxValue {
  return b.convBnAct(x, block.conv.weight, block.conv.bias, block.bn, {
    stride: block.opts.stride,
    pad: block.opts.pad,
    act: block.opts.act ?? "elu",
    alpha: block.opts.alpha ?? 1,
  });
}

const pair = (b: OnnxBuilder, x: OnnxValue, p: ConvPair): OnnxValue =>
  convBlock(b, convBlock(b, x, p.a), p.b);

export function exportOnnx(model: UNet): Uint8Array {
  const { inputHeight: h, inputWidth: w } = model.config;
  const { mean, std } = model.normalization;
  const b = new OnnxBuilder("nerveseg_unet");
  const raw = b.input("image", ["N", h, w, 1]);
  const centred = b.add(raw, { name: b.constant("neg_mean", [1], [-mean]), rank: 1 });
  const x = b.mul(centred, { name: b.constant("inv_std", [1], [1 / std]), rank: 1 });

  const feats: OnnxValue[] = [];
  let t = x;
  model.encoder.levels.forEach((level, i) => {
    if (i > 0) t = b.maxPool2x2(t);
    t = pair(b, t, level);
    feats.push(t);
  });
  let d = feats[feats.length - 1];
  model.decoder.levels.forEach((level, j) => {
    d = pair(b, b.concat([b.upsample2x(d), feats[feats.length - 2 - j]]), level);
  });
  const seg = model.segHead.conv;
  const mask = b.activation(b.conv(d, seg.weight, seg.bias), "sigmoid");
  b.output(mask, "mask", ["N", h, w, 1]);

  if (model.presenceHead) {
    const ph = model.presenceHead;
    const cells = b.flatten(
      b.activation(b.conv(feats[feats.length - 1], ph.conv.weight, ph.conv.bias), "sigmoid"),
    );
    const presence = b.activation(b.dense(cells, ph.dense.weight, ph.dense.bias), "sigmoid");
    b.output(presence, "presence", ["N", 1]);
  }
  return b.toBytes();
}
