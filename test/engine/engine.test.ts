// Tensor lifetime (tidy/dispose), clear errors on misuse, the PRNG, and the optimizers against
// hand-written PyTorch update formulas.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { addonBytes, native } from "../../src/engine/native.js";
import { pooledBytes, POOL_CAP_BYTES } from "../../src/engine/memory.js";

test("tidy frees everything but the result; dispose is deterministic", () => {
  const before = E.nativeBytes();
  const kept = E.tidy(() => {
    const a = E.full([1000], 2);
    const b = E.full([1000], 3);
    E.mul(a, b);
    return E.add(a, b);
  });
  assert.equal(kept.data[0], 5);
  assert.ok(E.nativeBytes() > before);
  kept.dispose();
  kept.dispose();
  assert.equal(E.nativeBytes(), before);
  // An exception inside tidy still frees.
  assert.throws(() =>
    E.tidy(() => {
      E.zeros([100]);
      throw new Error("boom");
    }),
  );
  assert.equal(E.nativeBytes(), before);
  // keep() survives the scope.
  const k = E.tidy(() => {
    const t = E.keep(E.zeros([10]));
    return { n: 1, t2: null as E.Tensor | null, t };
  });
  assert.equal(k.t.disposed, false);
  k.t.dispose();
});

test("a long loop inside tidy does not grow native memory", () => {
  const w = new E.Parameter("w", [3, 3, 2, 4]);
  w.fromFloat32Array(Array.from({ length: 72 }, (_, i) => Math.cos(i)));
  const before = E.nativeBytes();
  for (let i = 0; i < 50; i++)
    E.tidy(() => {
      const x = E.full([2, 6, 6, 2], 0.3);
      E.sum(E.elu(E.conv2d(x, w, null, { pad: 1 }))).backward();
    });
  assert.equal(E.nativeBytes(), before);
  assert.equal(E.tapeLength(), 0);
  w.dispose();
});

test("using a disposed tensor throws a clear error", () => {
  const t = E.zeros([2, 2]);
  t.dispose();
  assert.throws(() => t.data, /used after dispose/);
  assert.throws(() => E.relu(t), /used after dispose/);
  assert.throws(() => t.toFloat32Array(), /used after dispose/);
});

test("bad shapes give clear errors, never a crash", () => {
  E.tidy(() => {
    const x = E.zeros([1, 8, 8, 3]);
    assert.throws(
      () => E.conv2d(x, E.zeros([3, 3, 4, 8])),
      /conv2d: input has 3 channels but weight \[3, 3, 4, 8\] expects 4/,
    );
    assert.throws(() => E.conv2d(E.zeros([8, 8, 3]), E.zeros([3, 3, 3, 8])), /rank 4/);
    assert.throws(() => E.conv2d(x, E.zeros([3, 3, 3, 8]), E.zeros([4])), /bias must be \[8\]/);
    assert.throws(() => E.conv2d(E.zeros([1, 2, 2, 3]), E.zeros([5, 5, 3, 1])), /too small/);
    assert.throws(() => E.add(x, E.zeros([1, 8, 8, 2])), /add: shapes differ/);
    assert.throws(() => E.upsampleConcat(x, E.zeros([1, 4, 8, 1])), /upsampleConcat: skip/);
    assert.throws(() => E.dense(E.zeros([2, 3]), E.zeros([4, 2])), /dense: input has 3 features/);
    assert.throws(() => E.reshape(x, [5, -1]), /cannot reshape/);
    assert.throws(() => E.fromArray([2, 2], [1, 2, 3]), /3 values do not fill/);
    assert.throws(() => E.zeros([2, -1]), /bad shape/);
    assert.throws(() => E.maxPool2x2(E.zeros([1, 1, 4, 1])), /smaller than 2x2/);
    const bn = {
      gamma: E.zeros([2]),
      beta: E.zeros([3]),
      runningMean: E.zeros([3]),
      runningVar: E.zeros([3]),
    };
    assert.throws(() => E.batchNorm(x, bn, { training: true }), /gamma must be \[3\]/);
    assert.throws(() => E.dropout(x, 1, new E.Rng(0), true), /p must be in/);
  });
});

test("NaN inputs to the losses give a clear error", () => {
  E.tidy(() => {
    const p = E.fromArray([1, 4], [0.1, NaN, 0.3, 0.4]);
    const t = E.fromArray([1, 4], [0, 1, 0, 1]);
    assert.throws(() => E.diceLoss(p, t), /diceLoss: prediction has a non-finite value \(NaN\) at index 1/);
    assert.throws(() => E.bceLoss(t, p), /bceLoss: target has a non-finite value/);
    assert.throws(() => E.bceLoss(t, t, { weights: [1, 2] }), /2 weights for a batch of 1/);
    assert.throws(() => E.diceLoss(p, E.zeros([4])), /differ/);
  });
});

test("backward errors: non-scalar loss, nothing to differentiate", () => {
  E.tidy(() => {
    const x = E.zeros([3]);
    x.requiresGrad = true;
    assert.throws(() => E.relu(x).backward(), /must be a scalar/);
    assert.throws(() => E.sum(E.zeros([3])).backward(), /does not depend/);
  });
});

test("Rng is deterministic and its state can be saved and restored", () => {
  const a = new E.Rng(42);
  const seq = Array.from({ length: 5 }, () => a.nextUint32());
  assert.deepEqual(
    Array.from({ length: 5 }, () => new E.Rng(42)).map((r) => r.nextUint32()),
    Array(5).fill(seq[0]),
  );
  const state = a.getState();
  const next = [a.uniform(), a.normal(), a.int(10)];
  const b = new E.Rng(0);
  b.setState(state);
  assert.deepEqual([b.uniform(), b.normal(), b.int(10)], next);
  assert.notDeepEqual(new E.Rng(1).getState(), new E.Rng(2).getState());
  // Moments of the normal generator.
  let s = 0,
    ss = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const v = a.normal();
    s += v;
    ss += v * v;
  }
  assert.ok(Math.abs(s / n) < 0.03 && Math.abs(ss / n - 1) < 0.05);
});

test("He and Glorot initialisers have the right spread", () => {
  const rng = new E.Rng(5);
  E.tidy(() => {
    const w = E.heNormal(E.zeros([3, 3, 64, 32]), 3 * 3 * 64, rng);
    const v = w.data.reduce((a, x) => a + x * x, 0) / w.size;
    assert.ok(Math.abs(v - 2 / 576) / (2 / 576) < 0.05, `var ${v}`);
    const g = E.glorotUniform(E.zeros([100, 50]), 100, 50, rng);
    const lim = Math.sqrt(6 / 150);
    assert.ok(g.data.every((x) => Math.abs(x) <= lim));
    assert.ok(Math.max(...g.data) > lim * 0.95);
  });
});

function quadParams(): E.Parameter[] {
  const p = new E.Parameter("p", [3]);
  p.fromFloat32Array([1, -2, 0.5]);
  return [p];
}

// One step of loss = sum(p^2 * c): grad = 2 c p.
function setGrad(p: E.Parameter): Float64Array {
  const c = [1, 0.5, 3];
  const g = Float64Array.from(p.data, (v, i) => 2 * c[i] * v);
  p.grad!.fromFloat32Array(g);
  return g;
}

test("Adam follows PyTorch's update (with weight decay) and its state resumes exactly", () => {
  const [p] = quadParams();
  const opt = new E.Adam([p], { lr: 0.1, weightDecay: 0.01 });
  const ref = Float64Array.from(p.data);
  const m = new Float64Array(3),
    v = new Float64Array(3);
  for (let t = 1; t <= 3; t++) {
    const g = setGrad(p);
    for (let i = 0; i < 3; i++) {
      const gi = g[i] + 0.01 * ref[i];
      m[i] = 0.9 * m[i] + 0.1 * gi;
      v[i] = 0.999 * v[i] + 0.001 * gi * gi;
      ref[i] -= ((0.1 / (1 - 0.9 ** t)) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
    }
    opt.step();
    for (let i = 0; i < 3; i++)
      assert.ok(Math.abs(p.data[i] - ref[i]) < 1e-5, `step ${t}: ${p.data[i]} vs ${ref[i]}`);
  }
  // Resume: a fresh optimizer with imported state continues identically.
  const [q] = quadParams();
  q.fromFloat32Array(p.data);
  const opt2 = new E.Adam([q], { lr: 0.1, weightDecay: 0.01 });
  opt2.importState(opt.exportState());
  setGrad(p);
  setGrad(q);
  opt.step();
  opt2.step();
  assert.deepEqual(q.toFloat32Array(), p.toFloat32Array());
  assert.throws(() => new E.SGD([q], { lr: 1 }).importState(opt.exportState()), /state is for adam/);
  for (const t of [p, q, opt, opt2]) t.dispose();
});

test("SGD with momentum and Nesterov follows PyTorch's update", () => {
  for (const nesterov of [false, true]) {
    const [p] = quadParams();
    const opt = new E.SGD([p], { lr: 0.05, momentum: 0.9, nesterov });
    const ref = Float64Array.from(p.data);
    const buf = new Float64Array(3);
    for (let t = 1; t <= 3; t++) {
      const g = setGrad(p);
      for (let i = 0; i < 3; i++) {
        buf[i] = t === 1 ? g[i] : 0.9 * buf[i] + g[i];
        ref[i] -= 0.05 * (nesterov ? g[i] + 0.9 * buf[i] : buf[i]);
      }
      opt.step();
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(p.data[i] - ref[i]) < 1e-5);
    }
    p.dispose();
    opt.dispose();
  }
});

test("clipGradNorm scales gradients to the max norm and returns the old norm", () => {
  const [p] = quadParams();
  p.grad!.fromFloat32Array([3, 4, 0]);
  assert.ok(Math.abs(E.clipGradNorm([p], 1) - 5) < 1e-6);
  const g = p.grad!.data;
  assert.ok(Math.abs(Math.hypot(g[0], g[1], g[2]) - 1) < 1e-5);
  p.grad!.fromFloat32Array([0.3, 0.4, 0]);
  E.clipGradNorm([p], 1);
  assert.ok(Math.abs(p.grad!.data[0] - 0.3) < 1e-7);
  p.grad!.fromFloat32Array([NaN, 0, 0]);
  assert.throws(() => E.clipGradNorm([p], 1), /gradient norm is NaN/);
  p.dispose();
});

test("dropout: identity in eval, inverted scaling and matching gradient in training", () => {
  E.tidy(() => {
    const x = E.full([1000], 1);
    x.requiresGrad = true;
    assert.equal(E.dropout(x, 0.5, new E.Rng(1), false), x);
    const y = E.dropout(x, 0.25, new E.Rng(1), true);
    const vals = new Set(y.data);
    assert.deepEqual([...vals].sort(), [0, Math.fround(1 / 0.75)].sort());
    const zeros = y.data.filter((v) => v === 0).length;
    assert.ok(zeros > 180 && zeros < 320);
    const [g] = E.grad(E.sum(y), [x]);
    assert.deepEqual(g.toFloat32Array(), y.toFloat32Array());
  });
});

test("thread count is configurable", () => {
  const n = E.getThreads();
  E.setThreads(1);
  assert.equal(E.getThreads(), 1);
  E.setThreads(n);
  assert.throws(() => E.setThreads(0), /positive integer/);
});

test("gradients accumulate across backward calls until zeroGrad", () => {
  const p = new E.Parameter("p", [3]);
  p.fromFloat32Array([1, 2, 3]);
  const loss = (): void => E.tidy(() => E.sum(E.mul(p, p)).backward());
  p.zeroGrad();
  loss();
  assert.deepEqual([...p.grad!.data], [2, 4, 6]);
  loss();
  assert.deepEqual([...p.grad!.data], [4, 8, 12]);
  p.zeroGrad();
  p.grad!.fromFloat32Array([1, 1, 1]); // a manual edit after zeroGrad is kept
  loss();
  assert.deepEqual([...p.grad!.data], [3, 5, 7]);
  p.zeroGrad();
  loss();
  assert.deepEqual([...p.grad!.data], [2, 4, 6]);
  p.dispose();
});

test("freed buffers are reused, and releaseMemoryPool returns them to the system", () => {
  E.releaseMemoryPool();
  assert.equal(pooledBytes(), 0);
  E.tidy(() => {
    E.zeros([123457]);
  });
  assert.equal(pooledBytes(), 123457 * 4, "the disposed buffer waits in the pool");
  const cached = addonBytes();
  E.tidy(() => {
    E.zeros([123457]); // reuses the cached buffer: the addon allocates nothing new
  });
  assert.equal(addonBytes(), cached);
  E.releaseMemoryPool();
  assert.equal(pooledBytes(), 0);
  assert.ok(addonBytes() <= cached - 123457 * 4, `${addonBytes()} vs ${cached}`);
  const t = E.zeros([123457]); // a fresh allocation still works and is zeroed
  assert.ok(t.data.every((v) => v === 0));
  t.dispose();
  assert.ok(pooledBytes() <= POOL_CAP_BYTES);
});

test("the addon checks buffer lengths and argument counts (a TypeError, never a crash)", () => {
  const a = new Float32Array(4);
  assert.throws(() => native.fill(a, 1, 5), /native: fill: y: buffer has 4 floats, needs 5/);
  const fill = native.fill as unknown as (...args: unknown[]) => void;
  assert.throws(() => fill(a, 1, 4, 0), /native: fill: 4 arguments, expected 3/);
  assert.throws(() => fill([1, 2], 1, 2), /native: fill: y: expected a Float32Array/);
  assert.throws(() => native.binary(2 as 0, a, a, a, 4), /binary: op must be 0 \(add\) or 1 \(mul\)/);
  assert.throws(
    () => native.denseForward({ x: a, w: a, b: null, y: a, n: 2, k: 2, m: 3 }),
    /native: denseForward: w: buffer has 4 floats, needs 6/,
  );
  const freed = native.alloc(4, false);
  native.free(freed);
  assert.throws(() => native.fill(freed, 1, 4), /fill: y: buffer was freed/);
});
