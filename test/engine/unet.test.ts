// End to end: a tiny U-Net overfits a handful of images, training is deterministic for a fixed
// seed, eval mode's folded conv+BN+ELU matches the unfused path, and memory does not grow.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import type { UNet } from "../../src/model/unet.js";
import { smallUNet } from "../helpers/unet.js";

function blobs(
  n: number,
  h: number,
  w: number,
  rng: E.Rng,
): { x: Float32Array; y: Float32Array; has: number[] } {
  const x = new Float32Array(n * h * w);
  const y = new Float32Array(n * h * w);
  const has: number[] = [];
  for (let i = 0; i < n; i++) {
    const present = i % 4 !== 3;
    has.push(present ? 1 : 0);
    const cy = 3 + rng.int(h - 6),
      cx = 3 + rng.int(w - 6),
      r = 2 + rng.int(3);
    for (let a = 0; a < h; a++)
      for (let b = 0; b < w; b++) {
        const inside = present && (a - cy) ** 2 + (b - cx) ** 2 <= r * r;
        x[(i * h + a) * w + b] = (inside ? 0.8 : 0.2) + 0.2 * rng.normal();
        y[(i * h + a) * w + b] = inside ? 1 : 0;
      }
  }
  return { x, y, has };
}

function trainRun(steps: number, seed: number): { losses: number[]; net: UNet } {
  const rng = new E.Rng(seed);
  const net = smallUNet([4, 8, 16], 16, rng);
  const data = blobs(4, 16, 16, rng);
  const opt = new E.Adam(net.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = E.tidy(() => {
      const x = E.fromArray([4, 16, 16, 1], data.x);
      const y = E.fromArray([4, 16, 16, 1], data.y);
      const has = E.fromArray([4, 1], data.has);
      const out = net.forward(x);
      const l = E.add(E.diceLoss(out.mask, y), E.bceLoss(out.presence!, has));
      opt.zeroGrad();
      l.backward();
      E.clipGradNorm(net.parameters(), 5);
      opt.step();
      return l.item();
    });
    losses.push(loss);
  }
  opt.dispose();
  return { losses, net };
}

test("a small U-Net overfits four images (loss falls 10x) and runs deterministically", () => {
  const before = E.nativeBytes();
  const a = trainRun(80, 7);
  const first = a.losses[0];
  const last = a.losses[a.losses.length - 1];
  assert.ok(last < first / 10, `loss went from ${first} to ${last}`);
  const b = trainRun(80, 7);
  assert.deepEqual(b.losses, a.losses, "same seed and threads must give identical losses");
  a.net.dispose();
  b.net.dispose();
  assert.equal(E.nativeBytes(), before, "all native memory is released");
});

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

test("state dict round trip restores the same outputs", () => {
  const a = smallUNet([2, 4], 8, new E.Rng(1));
  const b = smallUNet([2, 4], 8, new E.Rng(2));
  b.loadStateDict(a.stateDict());
  a.eval();
  b.eval();
  E.tidy(() => {
    const x = E.fromArray(
      [1, 8, 8, 1],
      Array.from({ length: 64 }, (_, i) => Math.sin(i)),
    );
    const ya = E.noGrad(() => a.forward(x).mask.toFloat32Array());
    const yb = E.noGrad(() => b.forward(x).mask.toFloat32Array());
    assert.deepEqual(yb, ya);
  });
  const names = a.namedParameters().map(([n]) => n);
  assert.ok(
    names.includes("encoder.level0.a.conv.weight") && names.includes("presenceHead.dense.bias"),
    names.join(","),
  );
  assert.ok(a.namedBuffers().some(([n]) => n === "encoder.level1.b.bn.runningVar"));
  const bad = a.stateDict();
  bad.set("segHead.conv.weight", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => b.loadStateDict(bad), /segHead\.conv\.weight has shape \[3\]/);
  const extra = a.stateDict();
  extra.set("head.weight", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => b.loadStateDict(extra), /unexpected entry head\.weight/);
  a.dispose();
  b.dispose();
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
