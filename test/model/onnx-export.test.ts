// exportOnnx (src/model/onnx-export.ts) against onnxruntime-node: the whole two-head U-Net in eval
// mode must match the engine to 1e-4, under the output names `mask_probability` and `presence`; a net
// trained in bf16 must match its own bf16 inference to 0.02. (The ONNX writer's blocks: test/engine/onnx.test.ts; the
// exported model file through predict: test/predict/onnx-export.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { DEFAULT_POSTPROCESS } from "../../src/postprocess/mask-rule.js";
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

test(
  "a U-Net trained in bf16 exports to fp32 ONNX that matches its own bf16 inference within 0.02",
  { skip: E.bf16Supported() ? false : "bf16 not supported on this CPU (no AVX512-BF16)" },
  async () => {
    // Tolerance: the mask and presence are probabilities in [0, 1]. bf16 inference rounds every conv's
    // input and weights to 8 mantissa bits (2^-9 relative each) through ~10 layers, so the probabilities
    // may move by about 1e-2; 0.02 absolute bounds that, and the fp32 engine must still match to 1e-4.
    const rng = new E.Rng(17);
    const net = smallUNet([4, 8, 16], 16, rng, "bf16");
    const opt = new E.Adam(net.parameters(), { lr: 1e-2 });
    const img = Float32Array.from({ length: 4 * 256 }, () => rng.uniform());
    for (let i = 0; i < 3; i++)
      E.tidy(() => {
        const out = net.forward(E.fromArray([4, 16, 16, 1], img));
        const loss = E.diceLoss(
          out.mask,
          E.fromArray(
            out.mask.shape,
            img.map((v) => (v > 0.6 ? 1 : 0)),
          ),
        );
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
    opt.dispose();
    net.eval();
    // The same weights in an fp32 model (as predict --precision fp32 loads a bf16-trained folder).
    const fp32Net = smallUNet([4, 8, 16], 16, new E.Rng(1), "fp32");
    fp32Net.loadStateDict(net.stateDict());
    fp32Net.eval();
    const xv = Float32Array.from({ length: 3 * 256 }, () => rng.uniform());
    const infer = (m: typeof net) =>
      E.tidy(() =>
        E.noGrad(() => {
          const out = m.forward(E.fromArray([3, 16, 16, 1], xv));
          return { mask: out.mask.toFloat32Array(), presence: out.presence!.toFloat32Array() };
        }),
      );
    const bf16 = infer(net);
    const fp32 = infer(fp32Net);
    const out = await runOnnx(exportOnnx(net), { image: { dims: [3, 16, 16, 1], data: xv } });
    const onnxMask = out.mask_probability.data as Float32Array;
    const onnxPresence = out.presence.data as Float32Array;
    assert.ok(maxDiff(onnxMask, fp32.mask) <= 1e-4, "the export is fp32: it matches fp32 inference");
    const dm = maxDiff(onnxMask, bf16.mask);
    const dp = maxDiff(onnxPresence, bf16.presence);
    assert.ok(dm <= 0.02 && dp <= 0.02, `ONNX vs bf16 inference: mask ${dm}, presence ${dp}`);
    assert.ok(dm > 0, "bf16 inference differs from fp32 somewhere (else bf16 did not run)");
    net.dispose();
    fp32Net.dispose();
  },
);
