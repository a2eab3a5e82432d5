// Packed bf16 storage (native.ts: a Float32Array of ceil(n / 2) floats holding n bf16 values), which
// conv + BN keeps between its conv and its BN in bf16 training (ops/batchnorm.ts). Each native path
// that reads or writes it is checked against the fp32 path on values bf16 represents exactly, where
// the two must agree bit for bit (or, for the conv's own bf16 output, to one rounding); convBnAct in
// bf16 against fp32 within the bf16 tolerance of bf16.test.ts. Skipped without AVX512-BF16.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { ActCode, native } from "../../src/engine/native.js";

const SKIP = E.bf16Supported()
  ? false
  : "bf16 not supported on this CPU (no AVX512-BF16): packed bf16 tests skipped";

/** Round to nearest even bf16, kept as fp32 (what the addon's ToBf16 stores). */
function roundBf16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
}

/** n values packed as bf16 (their top 16 bits: exact for values that roundBf16 leaves alone). */
function pack(values: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(values.length / 2));
  const o = new Uint16Array(out.buffer);
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) o[i] = u[i] >>> 16;
  return out;
}

function unpack(packed: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const o = new Uint32Array(out.buffer);
  const h = new Uint16Array(packed.buffer, packed.byteOffset, n);
  for (let i = 0; i < n; i++) o[i] = h[i] << 16;
  return out;
}

/** n normal values already rounded to bf16. */
function bf16Values(n: number, rng: E.Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => roundBf16(scale * rng.normal()));
}

test(
  "batch norm + ELU on packed bf16 x and y: the fp32 results bit for bit, rounded once",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(21);
    const [rows, c] = [300, 24];
    const x = bf16Values(rows * c, rng, 2);
    const gamma = Float32Array.from({ length: c }, () => 1 + 0.2 * rng.normal());
    const beta = Float32Array.from({ length: c }, () => 0.1 * rng.normal());
    const dy = Float32Array.from({ length: rows * c }, () => rng.normal());
    // x and dx packed when xBf16; y packed when yBf16 (backward reads y for ELU's gradient). yFor:
    // the y backward reads, in fp32 (so that an fp32 run can be given the same values).
    const run = (xBf16: boolean, yBf16: boolean, yFor?: Float32Array) => {
      const n = rows * c;
      const y = yBf16 ? new Float32Array(Math.ceil(n / 2)) : new Float32Array(n);
      const [mean, inv, rm, rv] = [0, 0, 0, 1].map((v) => new Float32Array(c).fill(v));
      const xin = xBf16 ? pack(x) : x;
      native.bnForward({
        x: xin,
        gamma,
        beta,
        y,
        saveMean: mean,
        saveInvstd: inv,
        runMean: rm,
        runVar: rv,
        rows,
        c,
        eps: 1e-5,
        training: true,
        momentum: 0.1,
        act: ActCode.Elu,
        alpha: 1,
        xBf16,
        yBf16,
      });
      const dx = xBf16 ? new Float32Array(Math.ceil(n / 2)) : new Float32Array(n);
      const [dg, db] = [new Float32Array(c), new Float32Array(c)];
      const yb = yFor ?? y;
      native.bnBackward({
        x: xin,
        y: yb,
        dy,
        gamma,
        mean,
        invstd: inv,
        dx,
        dgamma: dg,
        dbeta: db,
        rows,
        c,
        act: ActCode.Elu,
        alpha: 1,
        training: true,
        xBf16,
        yBf16: yBf16 && !yFor,
      });
      return {
        y: yBf16 ? unpack(y, n) : y,
        stats: [mean, inv, rm, rv],
        dg,
        db,
        dx: xBf16 ? unpack(dx, n) : dx,
      };
    };
    const ref = run(false, false);
    for (const [xBf16, yBf16] of [
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const name = `x ${xBf16 ? "bf16" : "fp32"}, y ${yBf16 ? "bf16" : "fp32"}`;
      const got = run(xBf16, yBf16);
      assert.deepEqual(got.stats, ref.stats, `${name}: statistics`);
      assert.deepEqual(got.y, yBf16 ? ref.y.map(roundBf16) : ref.y, `${name}: y`);
      // The same backward in fp32, given the y values the packed run read.
      const same = run(false, false, yBf16 ? got.y : undefined);
      assert.deepEqual([got.dg, got.db], [same.dg, same.db], `${name}: dgamma, dbeta`);
      assert.deepEqual(got.dx, xBf16 ? same.dx.map(roundBf16) : same.dx, `${name}: dx`);
    }
  },
);

const G = { n: 7, h: 10, w: 8, c: 24, oc: 40 };
const GEOM = { ...G, kh: 3, kw: 3, s: 1, p: 1, oh: G.h, ow: G.w };
const PER_IMAGE = G.h * G.w * (G.c + G.oc) * 2; // bf16 bytes of one image's x and y

test(
  "conv forward from and into packed bf16: the fp32 path's values (to one rounding of y)",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(22);
    const x = bf16Values(G.n * G.h * G.w * G.c, rng);
    const w = bf16Values(9 * G.c * G.oc, rng, 0.1);
    const ny = G.n * G.h * G.w * G.oc;
    const saved = E.setConvChunkBytes(0);
    try {
      for (const chunk of [0, 2 * PER_IMAGE]) {
        E.setConvChunkBytes(chunk);
        const fwd = (xBf16: boolean, yBf16: boolean) => {
          const y = new Float32Array(yBf16 ? Math.ceil(ny / 2) : ny);
          native.convForward({
            x: xBf16 ? pack(x) : x,
            w,
            b: null,
            y,
            geom: GEOM,
            act: ActCode.None,
            alpha: 1,
            wPrepared: false,
            xBf16,
            yBf16,
            precision: "bf16",
          });
          return yBf16 ? unpack(y, ny) : y;
        };
        const y32 = fwd(false, false);
        // The kernel reads the same bf16 x whether it converted it or was given it.
        assert.deepEqual(fwd(true, false), y32, `chunk ${chunk}: packed x`);
        for (const xBf16 of [false, true]) {
          const got = fwd(xBf16, true);
          let same = 0;
          for (let i = 0; i < ny; i++) {
            // Both kernels accumulate in fp32; the bf16 one rounds its sum once (2^-8 relative), maybe
            // after summing in another order.
            const tol = 2 ** -7 * Math.abs(y32[i]) + 1e-6;
            assert.ok(Math.abs(got[i] - y32[i]) <= tol, `chunk ${chunk}: y[${i}] ${got[i]} vs ${y32[i]}`);
            if (got[i] === roundBf16(y32[i])) same++;
          }
          assert.ok(same >= 0.99 * ny, `chunk ${chunk}: only ${same} of ${ny} equal the rounded fp32 output`);
        }
      }
    } finally {
      E.setConvChunkBytes(saved);
    }
  },
);

test(
  "conv backward from packed bf16 x and dy: the fp32 gradients bit for bit (split, chunked, one thread, 1x1 head)",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(23);
    const threads = E.getThreads();
    const saved = E.setConvChunkBytes(0);
    try {
      // The U-Net's 3x3 conv, and a one-channel 1x1 head (its data gradient has no bf16 kernel).
      for (const [k, oc] of [
        [3, G.oc],
        [1, 1],
      ]) {
        const p = (k - 1) / 2;
        const geom = { ...G, oc, kh: k, kw: k, s: 1, p, oh: G.h, ow: G.w };
        const x = bf16Values(G.n * G.h * G.w * G.c, rng);
        const w = Float32Array.from({ length: k * k * G.c * oc }, () => 0.1 * rng.normal());
        const dy = bf16Values(G.n * G.h * G.w * oc, rng);
        for (const [t, chunk] of [
          [2, 0],
          [2, 2 * PER_IMAGE],
          [1, 0],
          [1, 2 * PER_IMAGE],
        ]) {
          E.setThreads(t);
          E.setConvChunkBytes(chunk);
          const run = (xBf16: boolean, dyBf16: boolean, withDx: boolean) => {
            const dx = withDx ? new Float32Array(x.length) : null;
            const dw = new Float32Array(w.length);
            const db = new Float32Array(oc);
            const xin = xBf16 ? pack(x) : x;
            native.convBackward({
              x: xin,
              w,
              dy: dyBf16 ? pack(dy) : dy,
              dx,
              dw,
              db,
              geom,
              xBf16,
              dyBf16,
              precision: "bf16",
            });
            return [dx, dw, db];
          };
          for (const withDx of [true, false]) {
            const ref = run(false, false, withDx);
            for (const [xb, db] of [
              [true, false],
              [false, true],
              [true, true],
            ])
              assert.deepEqual(
                run(xb, db, withDx),
                ref,
                `${k}x${k}, ${t} thread(s), chunk ${chunk}, dx ${withDx}, x ${xb ? "bf16" : "fp32"}, dy ${db ? "bf16" : "fp32"}`,
              );
          }
        }
      }
    } finally {
      E.setConvChunkBytes(saved);
      E.setThreads(threads);
    }
  },
);

test(
  "max-pool and upsample + concat on bf16 activations: the fp32 results on the same values",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(25);
    const [n, h, w, c] = [2, 7, 9, 6];
    const vals = bf16Values(n * h * w * c, rng);
    const skipVals = bf16Values(n * 2 * (h >> 1) * 2 * (w >> 1) * 5, rng);
    const run = (dtype: E.DType) =>
      E.tidy(() => {
        const mk = (shape: number[], v: Float32Array) => {
          const t = new E.Tensor(shape, { dtype });
          t.raw.set(dtype === "bf16" ? pack(v) : v);
          t.requiresGrad = true;
          return t;
        };
        const x = mk([n, h, w, c], vals);
        const skip = mk([n, 2 * (h >> 1), 2 * (w >> 1), 5], skipVals);
        const p = E.maxPool2x2(x);
        const u = E.upsampleConcat(p, skip);
        assert.equal(p.dtype, dtype);
        assert.equal(u.dtype, dtype);
        const r = E.fromArray(
          u.shape,
          Float32Array.from({ length: u.size }, (_, i) => Math.sin(i)),
        );
        const loss = E.sum(E.mul(E.float32(u), r));
        loss.backward();
        return [
          p.toFloat32Array(),
          u.toFloat32Array(),
          x.grad!.toFloat32Array(),
          skip.grad!.toFloat32Array(),
        ];
      });
    assert.deepEqual(run("bf16"), run("f32"));
  },
);

test(
  "a small U-Net step in bf16 (bf16 activations, packed z and dz) matches fp32 within the bf16 tolerance",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(24);
    const x = E.keep(
      E.fromArray(
        [4, 12, 10, 3],
        Float32Array.from({ length: 4 * 120 * 3 }, () => rng.normal()),
      ),
    );
    const r = E.keep(
      E.fromArray(
        [4, 12, 10, 1],
        Float32Array.from({ length: 4 * 120 }, () => rng.normal()),
      ),
    );
    x.requiresGrad = true;
    const enc = new E.ConvBnAct(3, 16, 3, { pad: 1, rng });
    const mid = new E.ConvBnAct(16, 24, 3, { pad: 1, rng });
    const dec = new E.ConvBnAct(40, 16, 3, { pad: 1, rng });
    const head = new E.Conv2d(16, 1, 1, { rng });
    const params = [enc, mid, dec, head].flatMap((m) => m.parameters());
    const run = (p: E.Precision) =>
      E.tidy(() => {
        const s = enc.forward(x, p);
        const d = dec.forward(E.upsampleConcat(mid.forward(E.maxPool2x2(s), p), s), p);
        assert.equal(s.dtype, E.activationDType(p), "a block's output is a bf16 activation in bf16 training");
        const y = head.forward(d, p);
        const grads = E.grad(E.sum(E.mul(y, r)), [x, ...params]);
        return [y, ...grads].map((t) => t.toFloat32Array());
      });
    const ref = run("fp32");
    const got = run("bf16");
    assert.deepEqual(run("fp32"), ref, "fp32 after bf16");
    // The head's bias gradient (last) sums the bf16 copy of its output gradient, a sum that cancels:
    // as in bf16.test.ts, its error is bounded by 1e-2 of the sum of |dy| instead.
    const last = ref.length - 1;
    const sumAbs = r.toFloat32Array().reduce((s, v) => s + Math.abs(v), 0);
    assert.ok(Math.abs(got[last][0] - ref[last][0]) <= 1e-2 * sumAbs, "head bias gradient");
    for (let i = 0; i < last; i++) {
      let num = 0;
      let den = 0;
      for (let j = 0; j < ref[i].length; j++) {
        num += (got[i][j] - ref[i][j]) ** 2;
        den += ref[i][j] ** 2;
      }
      const rel = Math.sqrt(num / den);
      // As bf16.test.ts: relative L2 error <= 1e-2, and bf16 really ran.
      assert.ok(rel <= 1e-2 && num > 0, `output ${i}: relative L2 error ${rel.toExponential(2)}`);
    }
    for (const m of [enc, mid, dec, head]) m.dispose();
    x.dispose();
    r.dispose();
  },
);
