import assert from "node:assert/strict";
import { test } from "node:test";
import {
  boxBlur,
  boxesForGaussian,
  close,
  dilate,
  erode,
  gaussianBlur,
  gaussianSigmaForSize,
  keepLargestComponent,
  open,
} from "../../src/postprocess/filters.js";

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Direct box blur: mean over the window, edges replicated. */
function naiveBox(src: Float32Array, w: number, h: number, size: number): Float32Array {
  const r = (size - 1) / 2;
  const out = new Float32Array(w * h);
  const cl = (v: number, n: number): number => Math.min(Math.max(v, 0), n - 1);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = -r; dy <= r; dy++)
        for (let dx = -r; dx <= r; dx++) s += src[cl(y + dy, h) * w + cl(x + dx, w)];
      out[y * w + x] = s / (size * size);
    }
  return out;
}

test("boxBlur by running sums equals the direct window mean, kernel larger than the image included", () => {
  const rnd = lcg(7);
  for (const [w, h, size] of [
    [13, 9, 3],
    [13, 9, 5],
    [7, 11, 9],
    [6, 5, 15], // window wider than the image: every pixel sees replicated edges
  ]) {
    const img = new Float32Array(w * h).map(() => rnd());
    const want = naiveBox(img, w, h, size);
    const got = img.slice();
    boxBlur(got, w, h, size);
    for (let i = 0; i < got.length; i++)
      assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${w}x${h} k${size} @${i}`);
  }
});

test("gaussianBlur: sigma as OpenCV picks it, three boxes with the right variance, mass kept", () => {
  assert.ok(Math.abs(gaussianSigmaForSize(51) - 8) < 1e-12);
  assert.deepEqual(boxesForGaussian(8), [15, 15, 17]);
  // Variance of a box of width w is (w^2 - 1) / 12; three boxes' variances add up to about sigma^2.
  const variance = boxesForGaussian(8).reduce((a, w) => a + (w * w - 1) / 12, 0);
  assert.ok(Math.abs(variance - 64) < 3, `variance ${variance}`);
  // An impulse far from the borders spreads into a symmetric bump whose total stays 1 and whose
  // second moment matches the boxes' variance.
  const w = 101;
  const h = 101;
  const img = new Float32Array(w * h);
  img[50 * w + 50] = 1;
  gaussianBlur(img, w, h, 51);
  let sum = 0;
  let m2 = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      sum += img[y * w + x];
      m2 += img[y * w + x] * (x - 50) ** 2;
    }
  assert.ok(Math.abs(sum - 1) < 1e-4);
  assert.ok(Math.abs(m2 - variance) < 1e-3, `second moment ${m2}`);
  assert.ok(Math.abs(img[50 * w + 40] - img[50 * w + 60]) < 1e-7);
  assert.ok(img[50 * w + 50] > img[50 * w + 55] && img[50 * w + 55] > img[50 * w + 70]);
});

test("erode/dilate/open/close match their definitions on a small mask", () => {
  const w = 9;
  const h = 7;
  const m = new Uint8Array(w * h);
  for (let y = 1; y <= 4; y++) for (let x = 1; x <= 5; x++) m[y * w + x] = 1; // 5x4 block
  m[6 * w + 8] = 1; // a lone speck in the corner
  const er = erode(m, w, h, 3);
  assert.deepEqual(
    [...er].flatMap((v, i) => (v ? [i] : [])),
    [2 * w + 2, 2 * w + 3, 2 * w + 4, 3 * w + 2, 3 * w + 3, 3 * w + 4, 6 * w + 8].filter(
      (i) => i !== 6 * w + 8,
    ),
  );
  const op = open(m, w, h, 3);
  // Opening keeps the block exactly and removes the speck.
  const block = m.slice();
  block[6 * w + 8] = 0;
  assert.deepEqual([...op], [...block]);
  const di = dilate(m, w, h, 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let any = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) any |= m[yy * w + xx];
        }
      assert.equal(di[y * w + x], any, `dilate @${x},${y}`);
    }
  // Closing fills a one-pixel hole (the block sits 2 px from the borders, so the dilation stays inside).
  const W = 11;
  const H = 9;
  const big = new Uint8Array(W * H);
  for (let y = 2; y <= 6; y++) for (let x = 2; x <= 7; x++) big[y * W + x] = 1;
  const holed = big.slice();
  holed[4 * W + 5] = 0;
  assert.deepEqual([...close(holed, W, H, 3)], [...big]);
  // Neither erosion nor dilation treats the border as a boundary: a full mask stays full, an empty one empty.
  assert.deepEqual([...erode(new Uint8Array(W * H).fill(1), W, H, 5)], new Array(W * H).fill(1));
  assert.deepEqual([...dilate(new Uint8Array(W * H), W, H, 5)], new Array(W * H).fill(0));
});

test("keepLargestComponent keeps the biggest 8-connected blob", () => {
  const w = 8;
  const h = 6;
  const m = new Uint8Array(w * h);
  m[0] = 1; // 1 px
  for (const [x, y] of [
    [3, 1],
    [4, 2],
    [5, 3],
    [6, 4], // a diagonal line: one component under 8-connectivity (4 px)
  ])
    m[y * w + x] = 1;
  m[5 * w + 0] = 1;
  m[5 * w + 1] = 1; // 2 px
  const area = keepLargestComponent(m, w, h);
  assert.equal(area, 4);
  assert.deepEqual(
    [...m].flatMap((v, i) => (v ? [i] : [])),
    [1 * w + 3, 2 * w + 4, 3 * w + 5, 4 * w + 6],
  );
  assert.equal(keepLargestComponent(new Uint8Array(12), 4, 3), 0);
});
