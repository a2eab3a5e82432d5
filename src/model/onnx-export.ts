/*
 * The trained U-Net as an ONNX model (opset 13) for deployment outside nerveseg. Mirrors UNet.forward
 * in eval mode, part by part. The graph takes raw pixel values (0..255, already brought to the model's
 * input size as the `fit` metadata says) as NHWC [N, H, W, 1] and applies the stored normalisation
 * itself. Outputs: `mask_probability` [N, H, W, 1] (per-pixel probabilities at the input size, before
 * any post-processing) and `presence` [N, 1]. The model describes itself in metadata_props (ONNX
 * ModelProto field 14): input size, fit, resize, normalisation, post-processing and preset, so a
 * deployment needs nothing but the file (see onnxMetadata for the keys).
 */
import type * as E from "../engine/index.js";
import { OnnxBuilder, type OnnxValue } from "../engine/onnx.js";
import { VERSION } from "../core/version.js";
import { GREY_RULE } from "../io/luma.js";
import { ProtoWriter } from "../io/protobuf.js";
import { BAR_TOLERANCE } from "../data/trim.js";
import { DEFAULT_POSTPROCESS, type PostprocessParams } from "../postprocess/mask-rule.js";
import type { ConvPair, UNet } from "./unet.js";

/** The graph's output names. */
export const ONNX_OUTPUTS = { mask: "mask_probability", presence: "presence" } as const;

/** ModelProto field numbers written after the builder's bytes (protobuf merges fields in any order). */
const DOC_STRING = 6;
const METADATA_PROPS = 14;

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

export interface OnnxExportOptions {
  /** The post-processing to record (a model folder's config.json `postprocess`); default: the defaults. */
  postprocess?: PostprocessParams;
  /** What the model segments, named in the outputs' descriptions (a model folder's `target`; default "target"). */
  target?: string;
}

/**
 * The metadata_props the export writes (all values are strings, as ONNX wants):
 *   preset, input_height, input_width, input_layout ("NHWC"), input_range ("0..255"),
 *   fit ("stretch" | "letterbox"), trim ("true": cut uniform border bars first, see docString),
 *   resize ("area"), normalization_mean, normalization_std,
 *   normalization_in_graph ("true"), postprocess (JSON, mask-rule.ts's PostprocessParams),
 *   tta ("true": the recipe averages the maps of the four flips before post-processing, as nerveseg
 *   predicts; the graph holds one pass), outputs (JSON: name → meaning), target (what it segments),
 *   input_grey (how a colour or 16-bit file becomes the grey input: io/luma.ts's GREY_RULE),
 *   producer_version (the nerveseg that wrote it; also in ModelProto.producer_version).
 */
export function onnxMetadata(model: UNet, opts: OnnxExportOptions = {}): Record<string, string> {
  const { inputHeight: h, inputWidth: w, preset, fit } = model.config;
  const { mean, std } = model.normalization;
  const target = opts.target ?? "target";
  return {
    preset,
    producer_version: VERSION,
    target,
    input_grey: GREY_RULE,
    input_height: String(h),
    input_width: String(w),
    input_layout: "NHWC",
    input_range: "0..255",
    fit,
    trim: String(model.config.trim === true),
    resize: "area",
    normalization_mean: String(mean),
    normalization_std: String(std),
    normalization_in_graph: "true",
    postprocess: JSON.stringify(opts.postprocess ?? DEFAULT_POSTPROCESS),
    tta: String(model.config.tta === true),
    outputs: JSON.stringify({
      [ONNX_OUTPUTS.mask]: `[N,${h},${w},1] probability that the pixel is ${target}, at the input size, before post-processing`,
      ...(model.presenceHead
        ? { [ONNX_OUTPUTS.presence]: `[N,1] probability that the image shows ${target}` }
        : {}),
    }),
  };
}

function docString(model: UNet, target: string): string {
  const { inputHeight: h, inputWidth: w, fit } = model.config;
  const bring =
    fit === "stretch"
      ? `area-resize each frame to ${w}x${h} (stretch)`
      : `area-resize each frame by min(${w}/width, ${h}/height), centre it in ${w}x${h}, zeros around (letterbox)`;
  const trim = model.config.trim
    ? `first cut the frame's uniform border bars (rows, then columns, spanning at most ${BAR_TOLERANCE} grey ` +
      `levels, from each edge inward; kept whole if under a quarter would remain), then `
    : "";
  return (
    `nerveseg ${VERSION} two-head U-Net segmenting ${target}. Input 'image' [N,${h},${w},1] float32 raw grey ` +
    `0..255 (colour files: ${GREY_RULE}): ${trim}${bring}; ` +
    `normalisation is in the graph. Output '${ONNX_OUTPUTS.mask}': pixel probabilities at the input size; ` +
    `upsample them to the frame${model.config.trim ? " (into the cut box; zero outside)" : ""} and apply metadata 'postprocess' (pixelThreshold, presenceThreshold on ` +
    `'${ONNX_OUTPUTS.presence}', minArea at the frame's size, blur, morphology).`
  );
}

export function exportOnnx(model: UNet, opts: OnnxExportOptions = {}): Uint8Array {
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
  b.output(mask, ONNX_OUTPUTS.mask, ["N", h, w, 1]);

  if (model.presenceHead) {
    const ph = model.presenceHead;
    const cells = b.flatten(
      b.activation(b.conv(feats[feats.length - 1], ph.conv.weight, ph.conv.bias), "sigmoid"),
    );
    const presence = b.activation(b.dense(cells, ph.dense.weight, ph.dense.bias), "sigmoid");
    b.output(presence, ONNX_OUTPUTS.presence, ["N", 1]);
  }
  const extra = new ProtoWriter().string(DOC_STRING, docString(model, opts.target ?? "target"));
  for (const [key, value] of Object.entries(onnxMetadata(model, opts)))
    extra.message(METADATA_PROPS, new ProtoWriter().string(1, key).string(2, value));
  const graph = b.toBytes("nerveseg", VERSION);
  const tail = extra.finish();
  const out = new Uint8Array(graph.length + tail.length);
  out.set(graph);
  out.set(tail, graph.length);
  return out;
}

/** Reads a varint at `pos` of `buf`; returns [value, next position]. */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error("ONNX model: truncated varint");
    const byte = buf[pos++];
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Calls `each(field, bytes)` for the length-delimited fields of one protobuf message, skipping others. */
function eachBytesField(buf: Uint8Array, each: (field: number, data: Uint8Array) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p] = varint(buf, pos);
    pos = p;
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (wire === 0) pos = varint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, q] = varint(buf, pos);
      if (q + len > buf.length) throw new Error("ONNX model: truncated field");
      each(field, buf.subarray(q, q + len));
      pos = q + len;
    } else throw new Error(`ONNX model: unsupported wire type ${wire}`);
  }
}

/** The metadata_props of an ONNX model's bytes (key → value), e.g. to read back what exportOnnx stored. */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = new TextDecoder();
  eachBytesField(bytes, (field, data) => {
    if (field !== METADATA_PROPS) return;
    let key = "";
    let value = "";
    eachBytesField(data, (f, d) => {
      if (f === 1) key = text.decode(d);
      else if (f === 2) value = text.decode(d);
    });
    out[key] = value;
  });
  return out;
}
