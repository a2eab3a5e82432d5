// Every op's forward against a float64 reference, and its gradient against central finite
// differences of that reference: L = sum(op(x) * R) with a fixed random R.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import * as R from "./reference.js";

const rng = new E.Rng(1234);

function randn(n: number, scale = 1): Float64Array {
  // Values representable in float32, so engine and reference see identical inputs.
  return Float64Array.from(new Float32Array(Array.from({ length: n }, () => rng.normal() * scale)));
}

interface In {
  shape: number[];
  data?: Float64Array;
  grad?: boolean;
}

/**
 * Checks forward (max abs diff) and input gradients of `engine` against `ref`.
 * `ref` maps float64 inputs to float64 outputs of the same size as the engine output.
 */
function check(
  name: string,
  inputs: In[],
  engine: (ts: E.Tensor[]) => E.Tensor,
  ref: (xs: Float64Array[]) => Float64Array,
  tol = { fwd: 1e-4, abs: 2e-3, rel: 5e-3 },
): void {
  const xs = inputs.map((i) => i.data ?? randn(i.shape.reduce((a, b) => a * b, 1)));
  E.tidy(() => {
    const ts = inputs.map((inp, i) => {
      const t = E.fromArray(inp.shape, xs[i]);
      t.requiresGrad = inp.grad !== false;
      return t;
    });
    const y = engine(ts);
    const yRef = ref(xs);
    assert.equal(y.size, yRef.length, `${name}: output size`);
    let fwd = 0;
    for (let i = 0; i < yRef.length; i++) fwd = Math.max(fwd, Math.abs(y.data[i] - yRef[i]));
    assert.ok(
      fwd <= tol.fwd * Math.max(1, ...Array.from(yRef, Math.abs)),
      `${name}: forward differs by ${fwd}`,
    );
    const r = randn(y.size);
    const rT = E.fromArray(y.shape, r);
    const loss = y.size === 1 ? y : E.sum(E.mul(y, rT));
    const wrt = ts.filter((t) => t.requiresGrad);
    const grads = E.grad(loss, wrt);
    const L = (vals: Float64Array[]): number => {
      const out = ref(vals);
      if (y.size === 1) return out[0];
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i] * r[i];
      return s;
    };
    let gi = 0;
    inputs.forEach((inp, k) => {
      if (inp.grad === false) return;
      const g = grads[gi++].data;
      const n = xs[k].length;
      const idx = n <= 24 ? [...Array(n).keys()] : Array.from({ length: 24 }, () => rng.int(n));
      for (const i of idx) {
        const h = 1e-6 * Math.max(1, Math.abs(xs[k][i]));
        const plus = xs.map((a) => a.slice());
        const minus = xs.map((a) => a.slice());
        plus[k][i] += h;
        minus[k][i] -= h;
        const num = (L(plus) - L(minus)) / (2 * h);
        const err = Math.abs(g[i] - num);
        assert.ok(
          err <= tol.abs + tol.rel * Math.abs(num),
          `${name}: d/dinput${k}[${i}] analytic ${g[i]} vs numeric ${num}`,
        );
      }
    });
  });
}

test("conv2d 3x3 pad 1 with bias", () => {
  const xs = [2, 5, 6, 3],
    ws = [3, 3, 3, 4];
  check(
    "conv2d",
    [{ shape: xs }, { shape: ws }, { shape: [4] }],
    ([x, w, b]) => E.conv2d(x, w, b, { pad: 1 }),
    ([x, w, b]) => R.conv(x, xs, w, ws, b, 1, 0 + 1).y,
  );
});

test("conv2d stride 2, no padding, no bias, 1x1 and 5x5 kernels", () => {
  for (const k of [1, 5]) {
    const xs = [1, 9, 7, 2],
      ws = [k, k, 2, 3];
    check(
      `conv2d k${k}`,
      [{ shape: xs }, { shape: ws }],
      ([x, w]) => E.conv2d(x, w, null, { stride: 2 }),
      ([x, w]) => R.conv(x, xs, w, ws, null, 2, 0).y,
    );
  }
});

test("conv2d stride 2 where the last input row/column is skipped, and stride 2 pad 1", () => {
  for (const pad of [0, 1]) {
    const xs = [2, 8, 7, 2],
      ws = [3, 3, 2, 3];
    check(
      `conv2d s2 p${pad}`,
      [{ shape: xs }, { shape: ws }, { shape: [3] }],
      ([x, w, b]) => E.conv2d(x, w, b, { stride: 2, pad }),
      ([x, w, b]) => R.conv(x, xs, w, ws, b, 2, pad).y,
    );
  }
});

function bnInputs(c: number): In[] {
  const gamma = Float64Array.from(new Float32Array(Array.from({ length: c }, () => 0.5 + rng.uniform())));
  return [{ shape: [3, 4, 5, c] }, { shape: [c], data: gamma }, { shape: [c] }];
}

for (const act of ["none", "elu", "relu"] as const) {
  test(`batchNorm training, fused ${act}`, () => {
    const c = 3;
    const rm = E.zeros([c]),
      rv = E.full([c], 1);
    check(
      `bn-${act}`,
      bnInputs(c),
      ([x, gamma, beta]) =>
        E.batchNorm(x, { gamma, beta, runningMean: rm, runningVar: rv }, { training: true, act }),
      ([x, g, b]) => R.bn(x, c, g, b, true, new Float64Array(c), new Float64Array(c), 1e-5, act),
    );
    rm.dispose();
    rv.dispose();
  });
}

test("batchNorm eval uses running statistics", () => {
  const c = 4;
  const rmv = Float64Array.from([0.1, -0.2, 0.3, 0]),
    rvv = Float64Array.from([0.5, 1.5, 2, 1]);
  const rm = E.fromArray([c], rmv),
    rv = E.fromArray([c], rvv);
  check(
    "bn-eval",
    bnInputs(c),
    ([x, gamma, beta]) =>
      E.batchNorm(x, { gamma, beta, runningMean: rm, runningVar: rv }, { training: false, act: "elu" }),
    ([x, g, b]) => R.bn(x, c, g, b, false, rmv, rvv, 1e-5, "elu"),
  );
  rm.dispose();
  rv.dispose();
});

test("batchNorm updates running averages with momentum (unbiased variance)", () => {
  E.tidy(() => {
    const x = E.fromArray([4, 1], [1, 2, 3, 6]);
    const bn = {
      gamma: E.full([1], 1),
      beta: E.zeros([1]),
      runningMean: E.zeros([1]),
      runningVar: E.full([1], 1),
    };
    E.batchNorm(x, { ...bn, momentum: 0.1 }, { training: true });
    assert.ok(Math.abs(bn.runningMean.data[0] - 0.3) < 1e-6);
    // unbiased var of [1,2,3,6] = 14/3
    assert.ok(Math.abs(bn.runningVar.data[0] - (0.9 + (0.1 * 14) / 3)) < 1e-5);
  });
});

test("convBnAct training matches conv -> bn -> elu", () => {
  const xs = [2, 4, 5, 2],
    ws = [3, 3, 2, 3];
  const rm = E.zeros([3]),
    rv = E.full([3], 1);
  check(
    "convBnAct",
    [{ shape: xs }, { shape: ws }, { shape: [3], data: Float64Array.from([1, 0.7, 1.3]) }, { shape: [3] }],
    ([x, w, gamma, beta]) =>
      E.convBnAct(
        x,
        w,
        null,
        { gamma, beta, runningMean: rm, runningVar: rv },
        { pad: 1, training: true, act: "elu" },
      ),
    ([x, w, g, b]) =>
      R.bn(
        R.conv(x, xs, w, ws, null, 1, 1).y,
        3,
        g,
        b,
        true,
        new Float64Array(3),
        new Float64Array(3),
        1e-5,
        "elu",
      ),
  );
  rm.dispose();
  rv.dispose();
});

test("convBnAct training with conv bias and ReLU", () => {
  const xs = [2, 3, 4, 2],
    ws = [3, 3, 2, 2];
  const rm = E.zeros([2]),
    rv = E.full([2], 1);
  check(
    "convBnAct-bias",
    [
      { shape: xs },
      { shape: ws },
      { shape: [2], data: Float64Array.from([0.9, 1.1]) },
      { shape: [2] },
      { shape: [2] },
    ],
    ([x, w, gamma, beta, b]) =>
      E.convBnAct(
        x,
        w,
        b,
        { gamma, beta, runningMean: rm, runningVar: rv },
        { pad: 1, training: true, act: "relu" },
      ),
    ([x, w, g, be, b]) =>
      R.bn(
        R.conv(x, xs, w, ws, b, 1, 1).y,
        2,
        g,
        be,
        true,
        new Float64Array(2),
        new Float64Array(2),
        1e-5,
        "relu",
      ),
  );
  rm.dispose();
  rv.dispose();
});

for (const act of ["elu", "relu", "sigmoid"] as const) {
  test(`${act} forward and gradient`, () => {
    const f = act === "elu" ? (x: E.Tensor) => E.elu(x) : act === "relu" ? E.relu : E.sigmoid;
    check(
      act,
      [{ shape: [2, 3, 4, 5] }],
      ([x]) => f(x),
      ([x]) => x.map((v) => R.act(v, act)),
    );
  });
}

test("maxPool2x2 (odd sizes drop the last row/column)", () => {
  const shape = [2, 5, 4, 3];
  const n = 120;
  // Distinct, well separated values so finite differences never flip a max.
  const perm = rng.shuffle([...Array(n).keys()]);
  const data = Float64Array.from(perm, (v) => v * 0.01 - 0.6);
  check(
    "maxPool2x2",
    [{ shape, data }],
    ([x]) => E.maxPool2x2(x),
    ([x]) => R.maxPool(x, shape),
  );
});

test("add, mul, scale", () => {
  check(
    "add",
    [{ shape: [3, 4] }, { shape: [3, 4] }],
    ([a, b]) => E.add(a, b),
    ([a, b]) => a.map((v, i) => v + b[i]),
  );
  check(
    "mul",
    [{ shape: [3, 4] }, { shape: [3, 4] }],
    ([a, b]) => E.mul(a, b),
    ([a, b]) => a.map((v, i) => v * b[i]),
  );
  check(
    "scale",
    [{ shape: [5] }],
    ([a]) => E.scale(a, -2.5),
    ([a]) => a.map((v) => v * -2.5),
  );
});

test("dense without bias", () => {
  check(
    "dense-nobias",
    [{ shape: [2, 3] }, { shape: [3, 4] }],
    ([x, w]) => E.dense(x, w),
    ([x, w]) => R.dense(x, 2, 3, w, 4, null),
  );
});

test("dense with bias", () => {
  check(
    "dense",
    [{ shape: [3, 5] }, { shape: [5, 4] }, { shape: [4] }],
    ([x, w, b]) => E.dense(x, w, b),
    ([x, w, b]) => R.dense(x, 3, 5, w, 4, b),
  );
});

test("reshape, flatten, sum, mean", () => {
  check(
    "flatten",
    [{ shape: [2, 3, 2, 2] }],
    ([x]) => E.flatten(x),
    ([x]) => x.slice(),
  );
  check(
    "reshape",
    [{ shape: [2, 6] }],
    ([x]) => E.reshape(x, [3, -1]),
    ([x]) => x.slice(),
  );
  check(
    "mean",
    [{ shape: [7] }],
    ([x]) => E.mean(x),
    ([x]) => Float64Array.of(x.reduce((a, b) => a + b, 0) / 7),
  );
});

function probs(n: number): Float64Array {
  return Float64Array.from(new Float32Array(Array.from({ length: n }, () => 0.05 + 0.9 * rng.uniform())));
}

test("soft Dice loss, whole batch and per image", () => {
  for (const perImage of [false, true]) {
    const t = Float64Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    check(
      `dice perImage=${perImage}`,
      [
        { shape: [3, 2, 4, 1], data: probs(24) },
        { shape: [3, 2, 4, 1], data: t, grad: false },
      ],
      ([p, tt]) => E.diceLoss(p, tt, { smooth: 1, perImage }),
      ([p, tt]) => Float64Array.of(R.dice(p, tt, perImage ? 3 : 1, 1)),
    );
  }
});

test("binary cross-entropy, with and without per-sample weights", () => {
  for (const weights of [null, [0.5, 2, 1]]) {
    const t = Float64Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 1 : 0));
    check(
      `bce weights=${weights}`,
      [
        { shape: [3, 4], data: probs(12) },
        { shape: [3, 4], data: t, grad: false },
      ],
      ([p, tt]) => E.bceLoss(p, tt, weights ? { weights } : {}),
      ([p, tt]) => Float64Array.of(R.bce(p, tt, 3, weights)),
    );
  }
});

test("gradients accumulate when a tensor is used twice (y = x*x + x)", () => {
  check(
    "reuse",
    [{ shape: [6] }],
    ([x]) => E.add(E.mul(x, x), x),
    ([x]) => x.map((v) => v * v + v),
  );
});

test("upsampleConcat equals concat([upsample2x(x), skip])", () => {
  const xs = [2, 2, 3, 3];
  check(
    "upsampleConcat",
    [{ shape: xs }, { shape: [2, 4, 6, 2] }],
    ([x, s]) => E.upsampleConcat(x, s),
    ([x, s]) => R.concat([R.upsample(x, xs), s], [3, 2]),
  );
});

test("maxPool2x2 backward: a tie goes to the first maximum, the dropped row and column get zeros", () => {
  // [1, 3, 5, 2]: odd height and width. Channel 0 ties in every window; channel 1 has its max last.
  const [h, w, c] = [3, 5, 2];
  const x = E.keep(
    E.fromArray(
      [1, h, w, c],
      Float32Array.from({ length: h * w * c }, (_, i) => (i % 2 ? i : 7)),
    ),
  );
  x.requiresGrad = true;
  const r = E.keep(E.fromArray([1, 1, 2, c], [1, 2, 3, 4]));
  const [dx] = E.grad(E.sum(E.mul(E.maxPool2x2(x), r)), [x]);
  const want = new Float32Array(h * w * c);
  // window (0, j) covers rows 0-1, columns 2j..2j+1: channel 0's first position is (0, 2j), channel 1's
  // max is the last, (1, 2j+1).
  for (let j = 0; j < 2; j++) {
    want[(0 * w + 2 * j) * c + 0] = r.data[j * c + 0];
    want[(1 * w + 2 * j + 1) * c + 1] = r.data[j * c + 1];
  }
  assert.deepEqual(dx.toFloat32Array(), want);
  for (const t of [x, r, dx]) t.dispose();
});
