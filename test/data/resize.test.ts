import assert from "node:assert/strict";
import { test } from "node:test";
import { resizeArea, resizeBilinear } from "../../src/data/resize.js";

test("bilinear 2x2 -> 4x4 with half-pixel centres (PyTorch align_corners=False / OpenCV INTER_LINEAR)", () => {
  const src = Float32Array.from([0, 10, 20, 30]);
  // Output x samples source x = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25, 0.75, 1.
  const want = [0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30];
  assert.deepEqual(Array.from(resizeBilinear(src, 2, 2, 4, 4)), want);
});

test("bilinear downscale samples between pixels", () => {
  // Output x samples (x + 0.5) * 2 - 0.5 = 0.5 and 2.5.
  assert.deepEqual(Array.from(resizeBilinear(Float32Array.from([0, 10, 20, 30]), 4, 1, 2, 1)), [5, 25]);
  // 3 -> 2: samples 0.25 and 1.75.
  assert.deepEqual(Array.from(resizeBilinear(Float32Array.from([0, 4, 8]), 3, 1, 2, 1)), [1, 7]);
});

test("bilinear on uint8 rounds to nearest and keeps the type", () => {
  const out = resizeBilinear(Uint8Array.from([0, 255]), 2, 1, 4, 1);
  assert.ok(out instanceof Uint8Array);
  assert.deepEqual(Array.from(out), [0, 64, 191, 255]); // 63.75 and 191.25
});

test("same size is an exact copy; output can be preallocated", () => {
  const src = Float32Array.from({ length: 12 }, (_, i) => i * 1.5 - 3);
  const out = new Float32Array(12);
  assert.equal(resizeBilinear(src, 4, 3, 4, 3, out), out);
  assert.deepEqual(out, src);
  assert.throws(() => resizeBilinear(src, 4, 3, 2, 2, new Float32Array(5)), /output has 5 pixels/);
  assert.throws(() => resizeBilinear(src, 5, 3, 2, 2), /12 pixels for 5x3/);
});

test("Kaggle frame down to 80x64 and a probability map back up to 580x420", () => {
  const w = 580;
  const h = 420;
  const ramp = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ramp[y * w + x] = x;
  const small = resizeBilinear(ramp, w, h, 80, 64);
  // A linear ramp stays linear away from the clamped edges: x_out samples (x + 0.5) * 7.25 - 0.5.
  assert.ok(Math.abs(small[10 * 80 + 40] - (40.5 * 7.25 - 0.5)) < 1e-3);
  const big = resizeBilinear(small, 80, 64, w, h);
  assert.equal(big.length, w * h);
  const c = new Float32Array(80 * 64).fill(0.75);
  assert.ok(resizeBilinear(c, 80, 64, w, h).every((v) => v === 0.75));
});

test("area resize averages covered pixels, fractional coverage weighted", () => {
  const src = Float32Array.from([1, 3, 5, 7, 9, 11, 13, 15, 2, 4, 6, 8, 10, 12, 14, 16]); // 4x4
  assert.deepEqual(Array.from(resizeArea(src, 4, 4, 2, 2)), [
    (1 + 3 + 9 + 11) / 4,
    (5 + 7 + 13 + 15) / 4,
    (2 + 4 + 10 + 12) / 4,
    (6 + 8 + 14 + 16) / 4,
  ]);
  // 3 -> 2: [0, 1.5) and [1.5, 3): (0 + 3 * 0.5) / 1.5 = 1 and (3 * 0.5 + 6) / 1.5 = 5.
  assert.deepEqual(Array.from(resizeArea(Float32Array.from([0, 3, 6]), 3, 1, 2, 1)), [1, 5]);
  // Uint8 rounds: mean of 0, 1 = 0.5 -> 1 (round half up), mean of 2, 2 = 2.
  assert.deepEqual(Array.from(resizeArea(Uint8Array.from([0, 1, 2, 2]), 4, 1, 2, 1)), [1, 2]);
});

test("area 580x420 -> 145x105 is the mean of 4x4 blocks", () => {
  const w = 580;
  const h = 420;
  const img = new Uint8Array(w * h);
  for (let i = 0; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const small = resizeArea(img, w, h, 145, 105);
  for (const [bx, by] of [
    [0, 0],
    [144, 104],
    [77, 31],
  ]) {
    let s = 0;
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) s += img[(by * 4 + y) * w + bx * 4 + x];
    assert.equal(small[by * 145 + bx], Math.round(s / 16));
  }
});

test("area falls back to bilinear when growing", () => {
  const src = Float32Array.from([0, 10, 20, 30]);
  assert.deepEqual(resizeArea(src, 2, 2, 4, 4), resizeBilinear(src, 2, 2, 4, 4));
});
