// The ONNX writer against onnxruntime-node: the same blocks, same weights, eval mode; the
// engine's forward and onnxruntime's must agree to 1e-4.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import * as E from "../../src/engine/index.js";
import { OnnxBuilder } from "../../src/engine/onnx.js";
import { exportOnnx } from "../../src/model/onnx-export.js";
import { smallUNet } from "../helpers/unet.js";

async function runOnnx(bytes: Uint8Array, feeds: Record<string, { dims: number[]; data: Float32Array }>) {
  const session = await ort.InferenceSession.create(bytes);
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor("float32", v.data, v.dims);
  const out = await session.run(f);
  await session.release();
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function trainedBlock(cin: number, cout: number, rng: E.Rng): E.ConvBnAct {
  const blk = new E.ConvBnAct(cin, cout, 3, { pad: 1, act: "elu", rng, bias: true });
  E.tidy(() => {
    for (let i = 0; i < 2; i++)
      blk.forward(
        E.fromArray(
          [2, 6, 8, cin],
          Array.from({ length: 96 * cin }, () => rng.normal() * 2 + 0.3),
        ),
      );
  });
  blk.bn.gamma.fromFloat32Array(Array.from({ length: cout }, () => 0.5 + rng.uniform()));
  blk.bn.beta.fromFloat32Array(Array.from({ length: cout }, () => rng.normal() * 0.1));
  return blk.eval();
}

test("conv/bn/elu/pool/upsample/concat/sigmoid block matches onnxruntime", async () => {
  const rng = new E.Rng(11);
  const b1 = trainedBlock(3, 8, rng);
  const b2 = trainedBlock(8, 16, rng);
  const b3 = trainedBlock(24, 8, rng);
  const head = new E.Conv2d(8, 2, 1, { rng });
  const [n, h, w] = [2, 8, 10];
  const xv = Float32Array.from({ length: n * h * w * 3 }, () => rng.normal());
  const ours = E.tidy(() =>
    E.noGrad(() => {
      const x = E.fromArray([n, h, w, 3], xv);
      const s = b1.forward(x);
      const d = b2.forward(E.maxPool2x2(s));
      const u = b3.forward(E.concat([E.upsample2x(d), s]));
      return E.sigmoid(head.forward(u)).toFloat32Array();
    }),
  );
  const g = new OnnxBuilder();
  const x = g.input("x", ["N", h, w, 3]);
  const blk = (v: ReturnType<typeof g.input>, m: E.ConvBnAct) =>
    g.convBnAct(v, m.conv.weight, m.conv.bias, m.bn, { pad: 1, act: "elu" });
  const s = blk(x, b1);
  const d = blk(g.maxPool2x2(s), b2);
  const u = blk(g.concat([g.upsample2x(d), s]), b3);
  g.output(g.activation(g.conv(u, head.weight, head.bias), "sigmoid"), "y", ["N", h, w, 2]);
  const out = await runOnnx(g.toBytes(), { x: { dims: [n, h, w, 3], data: xv } });
  const y = out.y;
  assert.deepEqual([...y.dims], [n, h, w, 2]);
  const diff = maxDiff(y.data as Float32Array, ours);
  assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
  for (const m of [b1, b2, b3, head]) m.dispose();
});

test("transposed conv, relu, add/mul, flatten + dense, global pool match onnxruntime", async () => {
  const rng = new E.Rng(12);
  const up = new E.ConvTranspose2x2(4, 3, { rng });
  const fc = new E.Dense(3 * 6 * 8, 5, { rng });
  const fc2 = new E.Dense(3, 2, { rng });
  const xv = Float32Array.from({ length: 2 * 3 * 4 * 4 }, () => rng.normal());
  const [ours, pooled] = E.tidy(() =>
    E.noGrad(() => {
      const x = E.fromArray([2, 3, 4, 4], xv);
      const t = E.relu(up.forward(x));
      const m = E.add(E.mul(t, t), t);
      return [fc.forward(E.flatten(m)).toFloat32Array(), fc2.forward(E.globalAvgPool(m)).toFloat32Array()];
    }),
  );
  const g = new OnnxBuilder();
  const x = g.input("x", [2, 3, 4, 4]);
  const t = g.activation(g.convTranspose2x2(x, up.weight, up.bias), "relu");
  const m = g.add(g.mul(t, t), t);
  g.output(g.dense(g.flatten(m), fc.weight, fc.bias), "y", [2, 5]);
  g.output(g.dense(g.globalAvgPool(m), fc2.weight, fc2.bias), "p", [2, 2]);
  const out = await runOnnx(g.toBytes(), { x: { dims: [2, 3, 4, 4], data: xv } });
  assert.ok(maxDiff(out.y.data as Float32Array, ours) <= 1e-4);
  assert.ok(maxDiff(out.p.data as Float32Array, pooled) <= 1e-4);
  for (const mod of [up, fc, fc2]) mod.dispose();
});

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
  const out = await runOnnx(exportOnnx(net), { image: { dims: [3, 16, 16, 1], data: xv } });
  assert.deepEqual([...out.mask.dims], [3, 16, 16, 1]);
  assert.ok(maxDiff(out.mask.data as Float32Array, ours.mask) <= 1e-4);
  assert.ok(maxDiff(out.presence.data as Float32Array, ours.presence) <= 1e-4);
  net.dispose();
});
