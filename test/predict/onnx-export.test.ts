import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { loadModel } from "../../src/model/model-file.js";
import { predictBatch } from "../../src/predict/predictor.js";
import { exportOnnx } from "../../src/model/onnx-export.js";
import { saveTinyModel } from "../helpers/tiny-model.js";
import { tempDir } from "../helpers/sample.js";

test("the exported ONNX model matches our engine within 1e-4 on both outputs (onnxruntime)", async () => {
  const dir = tempDir();
  saveTinyModel(dir, 5);
  const { model } = loadModel(dir);
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
  fs.writeFileSync(file, exportOnnx(model));
  const session = await ort.InferenceSession.create(file);
  const input = new Float32Array(n * 256);
  frames.forEach((f, k) => input.set(f.data, k * 256));
  const out = await session.run({ image: new ort.Tensor("float32", input, [n, 16, 16, 1]) });
  assert.deepEqual(out.mask.dims, [n, 16, 16, 1]);
  assert.deepEqual(out.presence.dims, [n, 1]);
  const mask = out.mask.data as Float32Array;
  let worst = 0;
  for (let k = 0; k < n; k++)
    for (let i = 0; i < 256; i++) worst = Math.max(worst, Math.abs(mask[k * 256 + i] - ours.probs[k][i]));
  assert.ok(worst <= 1e-4, `max |mask difference| ${worst}`);
  const presence = out.presence.data as Float32Array;
  for (let k = 0; k < n; k++) assert.ok(Math.abs(presence[k] - ours.presence[k]) <= 1e-4);
  await session.release();
  model.dispose();
});
