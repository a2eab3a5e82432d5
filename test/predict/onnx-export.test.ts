import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { loadModel } from "../../src/model/model-file.js";
import { predictBatch } from "../../src/predict/predictor.js";
import { PostprocessSchema } from "../../src/postprocess/mask-rule.js";
import { writePostprocess } from "../../src/model/model-file.js";
import { exportOnnx, readOnnxMetadata } from "../../src/model/onnx-export.js";
import { VERSION } from "../../src/core/version.js";
import { GREY_RULE } from "../../src/io/luma.js";
import { one, walk } from "../helpers/protobuf.js";
import { saveTinyModel } from "../helpers/tiny-model.js";
import { tempDir } from "../helpers/sample.js";

test("the exported ONNX model matches our engine within 1e-4 on both outputs (onnxruntime) and describes itself in metadata_props", async () => {
  const dir = tempDir();
  saveTinyModel(dir, 5);
  const tuned = PostprocessSchema.parse({ pixelThreshold: 0.4, presenceThreshold: 0.6, minArea: 1500 });
  writePostprocess(dir, tuned);
  const { model, config } = loadModel(dir);
  // Make BN running statistics non-trivial so folding and normalisation are really exercised.
  for (const [name, t] of model.namedBuffers()) {
    const d = t
      .toFloat32Array()
      .map((_, i) => (name.endsWith("runningVar") ? 0.5 + ((i * 37) % 11) / 10 : ((i * 13) % 7) / 7 - 0.4));
    t.fromFloat32Array(d);
  }
  const n = 3;
  const frames = Array.from({ length: n }, (_, k) => ({
    width: 16,
    height: 16,
    data: Uint8Array.from({ length: 256 }, (_, i) => (i * (k + 3) * 7 + k * 50) & 255),
  }));
  const ours = predictBatch(model, frames);
  const file = path.join(dir, "model.onnx");
  const bytes = exportOnnx(model, { postprocess: config.postprocess });
  fs.writeFileSync(file, bytes);
  const session = await ort.InferenceSession.create(file);
  assert.deepEqual(session.inputNames, ["image"]);
  assert.deepEqual(session.outputNames, ["mask_probability", "presence"]);
  const input = new Float32Array(n * 256);
  frames.forEach((f, k) => input.set(f.data, k * 256));
  const out = await session.run({ image: new ort.Tensor("float32", input, [n, 16, 16, 1]) });
  assert.deepEqual(out.mask_probability.dims, [n, 16, 16, 1]);
  assert.deepEqual(out.presence.dims, [n, 1]);
  const mask = out.mask_probability.data as Float32Array;
  let worst = 0;
  for (let k = 0; k < n; k++)
    for (let i = 0; i < 256; i++) worst = Math.max(worst, Math.abs(mask[k * 256 + i] - ours.probs[k][i]));
  assert.ok(worst <= 1e-4, `max |mask difference| ${worst}`);
  const presence = out.presence.data as Float32Array;
  for (let k = 0; k < n; k++) assert.ok(Math.abs(presence[k] - ours.presence[k]) <= 1e-4);
  await session.release();

  // What a deployment needs besides the graph, read back from the written file.
  const meta = readOnnxMetadata(fs.readFileSync(file));
  assert.deepEqual(Object.keys(meta).sort(), [
    "fit",
    "input_grey",
    "input_height",
    "input_layout",
    "input_range",
    "input_width",
    "normalization_in_graph",
    "normalization_mean",
    "normalization_std",
    "outputs",
    "postprocess",
    "preset",
    "producer_version",
    "resize",
    "target",
    "trim",
    "tta",
  ]);
  assert.equal(meta.preset, "tiny");
  assert.equal(meta.tta, "false");
  assert.deepEqual([meta.input_height, meta.input_width, meta.input_layout], ["16", "16", "NHWC"]);
  assert.equal(meta.fit, "stretch");
  assert.equal(meta.trim, "false");
  assert.equal(meta.resize, "area");
  assert.deepEqual([Number(meta.normalization_mean), Number(meta.normalization_std)], [100, 50]);
  assert.deepEqual(JSON.parse(meta.postprocess), tuned);
  assert.deepEqual(Object.keys(JSON.parse(meta.outputs) as object), ["mask_probability", "presence"]);
  model.dispose();
});

test("a letterbox model records fit letterbox in the ONNX metadata", () => {
  const dir = tempDir();
  saveTinyModel(dir, 2);
  const cfgFile = path.join(dir, "config.json");
  const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8")) as { model: { fit: string } };
  cfg.model.fit = "letterbox";
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const { model } = loadModel(dir);
  try {
    assert.equal(readOnnxMetadata(exportOnnx(model)).fit, "letterbox");
  } finally {
    model.dispose();
  }
});

test("the ONNX file names its producer and version, the grey rule and what it segments", () => {
  const dir = tempDir();
  saveTinyModel(dir, 3);
  const { model } = loadModel(dir);
  try {
    const bytes = exportOnnx(model, { target: "thyroid nodule" });
    const top = walk(bytes);
    const text = (num: number) => new TextDecoder().decode(one(top, num).bytes);
    assert.equal(text(2), "nerveseg");
    assert.equal(text(3), VERSION);
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    assert.match(text(6), /segmenting thyroid nodule/);
    assert.match(text(6), /0\.299 R \+ 0\.587 G \+ 0\.114 B/);
    const meta = readOnnxMetadata(bytes);
    assert.equal(meta.producer_version, VERSION);
    assert.equal(meta.target, "thyroid nodule");
    assert.equal(meta.input_grey, GREY_RULE);
    const outputs = JSON.parse(meta.outputs) as Record<string, string>;
    assert.match(outputs.presence, /shows thyroid nodule/);
    assert.match(outputs.mask_probability, /is thyroid nodule/);
    assert.ok(!meta.outputs.includes("nerve"), "a thyroid model's outputs do not speak of a nerve");
    assert.equal(readOnnxMetadata(exportOnnx(model)).target, "target");
  } finally {
    model.dispose();
  }
});
