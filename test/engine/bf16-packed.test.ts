// Packed bf16 storage (native.ts: a Float32Array of ceil(n / 2) floats holding n bf16 values), which
// conv + BN keeps between its conv and its BN in bf16 training (ops/batchnorm.ts). Each native path
// that reads or writes it is checked against the fp32 path on values bf16 represents exactly, where
// the two must agree bit for bit (or, for the conv's own bf16 output, to one rounding); convBnAct in
// bf16 against fp32 within the bf16 tolerance of bf16.test.ts. Skipped without AVX512-BF16.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { ActCode, native } from "../../src/engine/native.js";

const SKIP = E.bf16Supported()
  ? false
  : "bf16 not supported on this CPU (no AVX512-BF16): packed bf16 tests skipped";

after(() => E.setPrecision("fp32"));

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
  "batch norm + ELU on packed bf16 x: the fp32 results bit for bit, dx rounded once",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(21);
    const [rows, c] = [300, 24];
    const x = bf16Values(rows * c, rng, 2);
    const gamma = Float32Array.from({ length: c }, () => 1 + 0.2 * rng.normal());
    const beta = Float32Array.from({ length: c }, () => 0.1 * rng.normal());
    const dy = Float32Array.from({ length: rows * c }, () => rng.normal());
    const run = (bf16: boolean) => {
      const y = new Float32Array(rows * c);
      const [mean, inv, rm, rv] = [0, 0, 0, 1].map((v) => new Float32Array(c).fill(v));
      const xin = bf16 ? pack(x) : x;
      native.bnForward(
        xin,
        gamma,
        beta,
        y,
        mean,
        inv,
        rm,
        rv,
        rows,
        c,
        1e-5,
        true,
        0.1,
        ActCode.Elu,
        1,
        bf16,
      );
      const dx = bf16 ? new Float32Array(Math.ceil((rows * c) / 2)) : new Float32Array(rows * c);
      const [dg, db] = [new Float32Array(c), new Float32Array(c)];
      native.bnBackward(xin, y, dy, gamma, mean, inv, dx, dg, db, rows, c, ActCode.Elu, 1, true, bf16);
      return { y, mean, inv, rm, rv, dg, db, dx: bf16 ? unpack(dx, rows * c) : dx };
    };
    const ref = run(false);
    const got = run(true);
    for (const k of ["y", "mean", "inv", "rm", "rv", "dg", "db"] as const)
      assert.deepEqual(got[k], ref[k], k);
    assert.deepEqual(got.dx, ref.dx.map(roundBf16), "dx = the fp32 dx rounded to bf16");
  },
);

test(
  "conv forward into packed bf16: the fp32-output kernel's values to one bf16 rounding",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(22);
    const g = { n: 6, h: 10, w: 8, c: 24, oc: 40 };
    const geom = [g.n, g.h, g.w, g.c, g.oc, 3, 3, 1, 1, g.h, g.w] as const;
    const x = bf16Values(g.n * g.h * g.w * g.c, rng);
    const w = bf16Values(9 * g.c * g.oc, rng, 0.1);
    const ny = g.n * g.h * g.w * g.oc;
    E.setPrecision("bf16");
    const saved = E.setConvChunkBytes(0);
    try {
      for (const chunk of [0, 2 * (g.h * g.w * (g.c + g.oc) * 2)]) {
        E.setConvChunkBytes(chunk);
        const y32 = new Float32Array(ny);
        native.convForward(x, w, null, y32, ...geom, ActCode.None, 1, false, false);
        const y16 = new Float32Array(Math.ceil(ny / 2));
        native.convForward(x, w, null, y16, ...geom, ActCode.None, 1, false, true);
        const got = unpack(y16, ny);
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
    } finally {
      E.setConvChunkBytes(saved);
      E.setPrecision("fp32");
    }
  },
);

test(
  "conv backward from a packed bf16 dy: the fp32-dy gradients bit for bit (split, chunked, one thread)",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(23);
    const g = { n: 7, h: 10, w: 8, c: 24, oc: 40 };
    const geom = [g.n, g.h, g.w, g.c, g.oc, 3, 3, 1, 1, g.h, g.w] as const;
    const x = Float32Array.from({ length: g.n * g.h * g.w * g.c }, () => rng.normal());
    const w = Float32Array.from({ length: 9 * g.c * g.oc }, () => 0.1 * rng.normal());
    const dy = bf16Values(g.n * g.h * g.w * g.oc, rng);
    const dy16 = pack(dy);
    const threads = E.getThreads();
    const saved = E.setConvChunkBytes(0);
    E.setPrecision("bf16");
    try {
      const perImage = g.h * g.w * (g.c + g.oc) * 2;
      for (const [t, chunk] of [
        [2, 0],
        [2, 2 * perImage],
        [1, 0],
        [1, 2 * perImage],
      ]) {
        E.setThreads(t);
        E.setConvChunkBytes(chunk);
        const run = (d: Float32Array, bf16: boolean, withDx: boolean) => {
          const dx = withDx ? new Float32Array(x.length) : null;
          const dw = new Float32Array(w.length);
          const db = new Float32Array(g.oc);
          native.convBackward(x, w, d, dx, dw, db, ...geom, bf16);
          return [dx, dw, db];
        };
        for (const withDx of [true, false])
          assert.deepEqual(
            run(dy16, true, withDx),
            run(dy, false, withDx),
            `${t} thread(s), chunk ${chunk}, dx ${withDx}`,
          );
      }
    } finally {
      E.setConvChunkBytes(saved);
      E.setThreads(threads);
      E.setPrecision("fp32");
    }
  },
);

test(
  "convBnAct trained in bf16 (packed z and dz) matches fp32 within the bf16 tolerance",
  { skip: SKIP },
  () => {
    const rng = new E.Rng(24);
    const x = E.keep(
      E.fromArray(
        [4, 12, 10, 16],
        Float32Array.from({ length: 4 * 120 * 16 }, () => rng.normal()),
      ),
    );
    const r = E.keep(
      E.fromArray(
        [4, 12, 10, 32],
        Float32Array.from({ length: 4 * 120 * 32 }, () => rng.normal()),
      ),
    );
    x.requiresGrad = true;
    const block = new E.ConvBnAct(16, 32, 3, { pad: 1, rng });
    const run = () =>
      E.tidy(() => {
        const y = block.forward(x);
        const grads = E.grad(E.sum(E.mul(y, r)), [x, ...block.parameters()]);
        return [y, ...grads].map((t) => t.toFloat32Array());
      });
    E.setPrecision("fp32");
    const ref = run();
    E.setPrecision("bf16");
    const got = run();
    E.setPrecision("fp32");
    assert.deepEqual(run(), ref, "fp32 after bf16");
    for (let i = 0; i < ref.length; i++) {
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
    block.dispose();
    x.dispose();
    r.dispose();
  },
);
