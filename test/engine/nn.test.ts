// Modules in eval mode: ConvBnAct's folded conv+BN+ELU and Conv2d's cached kernel-layout weights
// (with a fused post-op) match the unfused ops, follow weight updates, and do not depend on the
// thread count beyond rounding.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";

test("eval mode: folded conv+BN+ELU equals conv -> BN(running stats) -> ELU", () => {
  const rng = new E.Rng(3);
  const block = new E.ConvBnAct(3, 5, 3, { pad: 1, rng });
  // Train a couple of batches so the running statistics are not trivial.
  E.tidy(() => {
    for (let i = 0; i < 3; i++)
      block.forward(
        E.fromArray(
          [2, 6, 6, 3],
          Array.from({ length: 216 }, () => rng.normal() + 0.5),
        ),
      );
  });
  block.bn.gamma.fromFloat32Array([1.2, 0.8, 1, 0.5, 2]);
  block.eval();
  E.tidy(() => {
    const x = E.fromArray(
      [2, 6, 6, 3],
      Array.from({ length: 216 }, () => rng.normal()),
    );
    const fused = E.noGrad(() => block.forward(x));
    const ref = E.noGrad(() =>
      E.batchNorm(E.conv2d(x, block.conv.weight, null, { pad: 1 }), block.bn, {
        training: false,
        act: "elu",
      }),
    );
    let d = 0;
    for (let i = 0; i < ref.size; i++) d = Math.max(d, Math.abs(ref.data[i] - fused.data[i]));
    assert.ok(d < 1e-5, `folded differs by ${d}`);
    // After a parameter change the folded cache must refresh.
    block.bn.gamma.fromFloat32Array([1, 1, 1, 1, 1]);
    const fused2 = E.noGrad(() => block.forward(x));
    const ref2 = E.noGrad(() =>
      E.batchNorm(E.conv2d(x, block.conv.weight, null, { pad: 1 }), block.bn, {
        training: false,
        act: "elu",
      }),
    );
    let d2 = 0;
    for (let i = 0; i < ref2.size; i++) d2 = Math.max(d2, Math.abs(ref2.data[i] - fused2.data[i]));
    assert.ok(d2 < 1e-5, `folded after update differs by ${d2}`);
  });
  block.dispose();
});

test("eval-mode Conv2d (cached kernel-layout weights, fused post-op) tracks weight updates", () => {
  const rng = new E.Rng(4);
  const conv = new E.Conv2d(3, 4, 3, { pad: 1, rng });
  conv.eval();
  E.tidy(() => {
    const x = E.fromArray(
      [2, 5, 5, 3],
      Array.from({ length: 150 }, () => rng.normal()),
    );
    const same = (): void => {
      const fast = E.noGrad(() => conv.forward(x));
      const ref = E.conv2d(x, conv.weight, conv.bias, { pad: 1 });
      assert.deepEqual(fast.toFloat32Array(), ref.toFloat32Array());
    };
    same();
    conv.weight.fromFloat32Array(Array.from({ length: conv.weight.size }, () => rng.normal()));
    same();
    const y = E.noGrad(() => E.conv2dActInference(x, conv.weight, conv.bias, { pad: 1, act: "sigmoid" }));
    const ref = E.sigmoid(E.conv2d(x, conv.weight, conv.bias, { pad: 1 }));
    let d = 0;
    for (let i = 0; i < ref.size; i++) d = Math.max(d, Math.abs(ref.data[i] - y.data[i]));
    assert.ok(d < 1e-6, `post-op sigmoid differs by ${d}`);
  });
  conv.dispose();
});

test("changing the thread count between calls keeps results consistent", () => {
  const rng = new E.Rng(9);
  const blk = new E.ConvBnAct(2, 4, 3, { pad: 1, rng }).eval();
  const n = E.getThreads();
  E.tidy(() => {
    const x = E.fromArray(
      [1, 6, 6, 2],
      Array.from({ length: 72 }, () => rng.normal()),
    );
    const a = E.noGrad(() => blk.forward(x).toFloat32Array());
    E.setThreads(1);
    const b = E.noGrad(() => blk.forward(x).toFloat32Array());
    E.setThreads(n);
    const c = E.noGrad(() => blk.forward(x).toFloat32Array());
    assert.deepEqual(c, a);
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    assert.ok(d < 1e-5, `1 thread vs ${n}: ${d}`);
  });
  blk.dispose();
});
