// exportOnnx (src/model/onnx-export.ts) against onnxruntime-node: the whole two-head U-Net in eval
// mode must match the engine to 1e-4, under the output names `mask_probability` and `presence`. (The ONNX writer's blocks: test/engine/onnx.test.ts; the
// exported model file through predict: test/predict/onnx-export.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { DEFAULT_POSTPROCESS } from "../../src/model/mask-rule.js";
import { exportOnnx, readOnnxMetadata } from "../../src/model/onnx-export.js";
import { maxDiff, runOnnx } from "../helpers/onnx.js";
import { smallUNet } from "../helpers/unet.js";

test("the whole (small) two-head U-Net exported to ONNX matches the engine in eval mode", async () => {
  const rng = new E.Rng(13);
  const net = smallUNet([4, 8, 16], 16, rng);
  // A few training steps so BN running statistics are not the defaults.
  E.tidy(() => {
    for (let i = 0; i < 2; i++)
      net.forward(
        E.fromArray(
          [2, 16, 16, 1],
          Array.from({ length: 512 }, () => rng.uniform()),
        ),
      );
  });
  net.eval();
  const xv = Float32Array.from({ length: 3 * 16 * 16 }, () => rng.uniform());
  const ours = E.tidy(() =>
    E.noGrad(() => {
      const out = net.forward(E.fromArray([3, 16, 16, 1], xv));
      return { mask: out.mask.toFloat32Array(), presence: out.presence!.toFloat32Array() };
    }),
  );
  const bytes = exportOnnx(net);
  const out = await runOnnx(bytes, { image: { dims: [3, 16, 16, 1], data: xv } });
  assert.deepEqual(Object.keys(out).sort(), ["mask_probability", "presence"]);
  assert.deepEqual([...out.mask_probability.dims], [3, 16, 16, 1]);
  assert.ok(maxDiff(out.mask_probability.data as Float32Array, ours.mask) <= 1e-4);
  assert.ok(maxDiff(out.presence.data as Float32Array, ours.presence) <= 1e-4);
  // Without a post-processing argument the defaults are recorded.
  const meta = readOnnxMetadata(bytes);
  assert.equal(meta.input_height, "16");
  assert.equal(meta.fit, "stretch");
  assert.deepEqual(JSON.parse(meta.postprocess), DEFAULT_POSTPROCESS);
  net.dispose();
});
