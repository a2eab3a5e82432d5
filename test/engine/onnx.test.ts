// The ONNX writer (src/engine/onnx.ts) against onnxruntime-node: the same blocks, same weights,
// eval mode; the engine's forward and onnxruntime's must agree to 1e-4. (The whole U-Net's export,
// src/model/onnx-export.ts, is tested in test/model/onnx-export.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { OnnxBuilder } from "../../src/engine/onnx.js";
import { maxDiff, runOnnx } from "../helpers/onnx.js";

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
      const u = b3.forward(E.upsampleConcat(d, s));
      return E.sigmoid(head.forward(u)).toFloat32Array();
    }),
  );
  const g = new OnnxBuilder();
  const x = g.input("x", ["N", h, w, 3]);
  const blk = (v: ReturnType<typeof g.input>, m: E.ConvBnAct) =>
    g.convBnAct(v, m.conv.weight, m.conv.bias, m.bn, { pad: 1, act: "elu" });
  const s = blk(x, b1);
  const d = blk(g.maxPool2x2(s), b2);
  // ONNX has no fused upsample+concat: the writer spells E.upsampleConcat as Resize then Concat.
  const u = blk(g.concat([g.upsample2x(d), s]), b3);
  g.output(g.activation(g.conv(u, head.weight, head.bias), "sigmoid"), "y", ["N", h, w, 2]);
  const out = await runOnnx(g.toBytes(), { x: { dims: [n, h, w, 3], data: xv } });
  const y = out.y;
  assert.deepEqual([...y.dims], [n, h, w, 2]);
  const diff = maxDiff(y.data as Float32Array, ours);
  assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
  for (const m of [b1, b2, b3, head]) m.dispose();
});

test("strided conv, relu, add/mul, flatten + dense, sigmoid match onnxruntime", async () => {
  const rng = new E.Rng(12);
  // eval: the prepared-weight inference conv; cell stays in train mode (the plain conv).
  const conv = new E.Conv2d(4, 3, 3, { rng, stride: 2, pad: 1 }).eval();
  const cell = new E.Conv2d(3, 1, 1, { rng, init: "glorot" });
  const fc = new E.Dense(3 * 3 * 4, 5, { rng });
  const fc2 = new E.Dense(3 * 4, 2, { rng });
  const xv = Float32Array.from({ length: 2 * 6 * 8 * 4 }, () => rng.normal());
  const [ours, probs] = E.tidy(() =>
    E.noGrad(() => {
      const x = E.fromArray([2, 6, 8, 4], xv);
      const t = E.relu(conv.forward(x));
      const m = E.add(E.mul(t, t), t);
      const p = E.sigmoid(fc2.forward(E.flatten(E.sigmoid(cell.forward(m)))));
      return [fc.forward(E.flatten(m)).toFloat32Array(), p.toFloat32Array()];
    }),
  );
  const g = new OnnxBuilder();
  const x = g.input("x", [2, 6, 8, 4]);
  const t = g.activation(g.conv(x, conv.weight, conv.bias, { stride: 2, pad: 1 }), "relu");
  const m = g.add(g.mul(t, t), t);
  g.output(g.dense(g.flatten(m), fc.weight, fc.bias), "y", [2, 5]);
  const cells = g.flatten(g.activation(g.conv(m, cell.weight, cell.bias), "sigmoid"));
  g.output(g.activation(g.dense(cells, fc2.weight, fc2.bias), "sigmoid"), "p", [2, 2]);
  const out = await runOnnx(g.toBytes(), { x: { dims: [2, 6, 8, 4], data: xv } });
  assert.ok(maxDiff(out.y.data as Float32Array, ours) <= 1e-4);
  assert.ok(maxDiff(out.p.data as Float32Array, probs) <= 1e-4);
  for (const mod of [conv, cell, fc, fc2]) mod.dispose();
});
