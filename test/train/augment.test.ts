import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AugmentOptions,
  type AugmentParams,
  DEFAULT_AUGMENT,
  IDENTITY,
  MASK_THRESHOLD,
  augmentBatch,
  sampleAugment,
  warpPair,
} from "../../src/train/augment.js";
import { Rng } from "../../src/core/random.js";

const W = 112;
const H = 80;

function noiseImage(seed: number, w = W, h = H): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: w * h }, () => r.uniform());
}

/** A filled ellipse (0/1), like a nerve mask. */
function blobMask(w = W, h = H): Float32Array {
  const m = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if (((x - 60) / 18) ** 2 + ((y - 35) / 11) ** 2 <= 1) m[y * w + x] = 1;
  return m;
}

function warp(p: AugmentParams, img: Float32Array, border: "reflect" | "constant" = "reflect", w = W, h = H) {
  const out = new Float32Array(w * h);
  warpPair(p, w, h, img, out, null, null, border);
  return out;
}

/** out at each (x, y) is want(x, y) within tol (ramps are reproduced exactly by bilinear sampling). */
function assertAt(
  out: Float32Array,
  points: number[][],
  want: (x: number, y: number) => number,
  tol: number,
) {
  for (const [x, y] of points) {
    const w = want(x, y);
    assert.ok(Math.abs(out[y * W + x] - w) < tol, `(${x}, ${y}): ${out[y * W + x]} vs ${w}`);
  }
}

/** A scripted "random" stream. */
const scripted = (values: number[]) => {
  let i = 0;
  return () => values[i++];
};

test("identity parameters give the input back exactly", () => {
  const img = noiseImage(1);
  const mask = blobMask();
  for (const border of ["reflect", "constant"] as const) {
    const oi = new Float32Array(W * H);
    const om = new Float32Array(W * H);
    warpPair(IDENTITY, W, H, img, oi, mask, om, border);
    assert.deepEqual(oi, img);
    assert.deepEqual(om, mask);
  }
  // Probabilities and ranges of zero also give the identity whatever the draws.
  const none: AugmentOptions = { ...DEFAULT_AUGMENT, flipH: 0, flipV: 0, rotateDeg: 0, translatePx: 0 };
  const oi = new Float32Array(W * H);
  augmentBatch(() => 0.3, none, 1, W, H, img, null, oi, null);
  assert.deepEqual(oi, img);
});

test("flips mirror exactly, and a flip twice is the identity", () => {
  const img = noiseImage(2);
  const h = warp({ ...IDENTITY, flipH: true }, img);
  const v = warp({ ...IDENTITY, flipV: true }, img);
  for (const [x, y] of [
    [0, 0],
    [5, 17],
    [W - 1, H - 1],
  ]) {
    assert.equal(h[y * W + x], img[y * W + (W - 1 - x)]);
    assert.equal(v[y * W + x], img[(H - 1 - y) * W + x]);
  }
  assert.deepEqual(warp({ ...IDENTITY, flipH: true }, h), img);
  assert.deepEqual(warp({ ...IDENTITY, flipV: true }, v), img);
});

test("a translation of 20 full-resolution px moves a bright pixel by exactly 20 * size / 580 (or 420)", () => {
  const w = 58; // a tenth of 580 and 420: 20 px -> 2 px
  const h = 42;
  const img = new Float32Array(w * h);
  img[7 * w + 10] = 1;
  // Draws: no flip, no flip, angle 0 (0.5 -> 0), tx = +max (1 -> +20 px), ty = -max (0 -> -20 px).
  const p = sampleAugment(scripted([0.9, 0.9, 0.5, 1, 0]), DEFAULT_AUGMENT, w, h);
  assert.deepEqual([p.tx, p.ty, p.angle, p.flipH, p.flipV], [2, -2, 0, false, false]);
  const out = warp(p, img, "constant", w, h);
  const want = new Float32Array(w * h);
  want[5 * w + 12] = 1;
  assert.deepEqual(out, want);
});

test("rotation turns about the image centre by the drawn angle", () => {
  // A linear ramp I(x, y) = x is reproduced exactly by bilinear sampling, so the output at p is the
  // source x-coordinate: cos(a) (x - cx) + sin(a) (y - cy) + cx.
  const ramp = Float32Array.from({ length: W * H }, (_, i) => i % W);
  const p = sampleAugment(scripted([0.9, 0.9, 1, 0.5, 0.5]), DEFAULT_AUGMENT, W, H); // +10 degrees
  assert.ok(Math.abs(p.angle - Math.PI / 18) < 1e-12);
  const out = warp(p, ramp);
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const source = (x: number, y: number) => Math.cos(p.angle) * (x - cx) + Math.sin(p.angle) * (y - cy) + cx;
  assertAt(
    out,
    [
      [30, 20],
      [80, 60],
      [56, 40],
    ],
    source,
    1e-4,
  );
  // A bright pixel 20 px right of the centre of a 41x41 image turns 90 degrees down to 20 px below it.
  const n = 41;
  const dot = new Float32Array(n * n);
  dot[20 * n + 40] = 1;
  const turned = warp({ ...IDENTITY, angle: Math.PI / 2 }, dot, "constant", n, n);
  assert.ok(Math.abs(turned[40 * n + 20] - 1) < 1e-9);
});

test("zoom magnifies about the image centre; its draw comes last and is log-symmetric", () => {
  // On the ramp I(x, y) = x + 1000 y the output at p is the source point (p - c) / zoom + c.
  const ramp = Float32Array.from({ length: W * H }, (_, i) => (i % W) + 1000 * Math.floor(i / W));
  const opts: AugmentOptions = { ...DEFAULT_AUGMENT, scale: 0.25 };
  // The five draws of a run without zoom (no flips, no turn, no shift), then u = 1: zoom = 1.25.
  const p = sampleAugment(scripted([0.9, 0.9, 0.5, 0.5, 0.5, 1]), opts, W, H);
  assert.ok(Math.abs(p.zoom! - 1.25) < 1e-12);
  const out = warp(p, ramp);
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const source = (x: number, y: number) => (x - cx) / 1.25 + cx + 1000 * ((y - cy) / 1.25 + cy);
  assertAt(
    out,
    [
      [10, 5],
      [100, 70],
      [55, 40],
    ],
    source,
    1e-2,
  );
  assert.ok(
    Math.abs(sampleAugment(scripted([0.9, 0.9, 0.5, 0.5, 0.5, 0]), opts, W, H).zoom! - 1 / 1.25) < 1e-12,
  );
  // 6 draws per sample with zoom on; log(zoom) is symmetric about 0 and bounded.
  let draws = 0;
  let sumLog = 0;
  const rng = new Rng(3);
  const counted = () => (draws++, rng.uniform());
  const N = 4000;
  for (let k = 0; k < N; k++) {
    const z = sampleAugment(counted, opts, W, H).zoom!;
    assert.ok(z >= 1 / 1.25 - 1e-12 && z <= 1.25 + 1e-12);
    sumLog += Math.log(z);
  }
  assert.equal(draws, 6 * N);
  assert.ok(Math.abs(sumLog / N) < 0.01, `mean log zoom ${sumLog / N}`);
});

test("image and mask stay aligned: an image equal to the mask thresholds to the warped mask", () => {
  const mask = blobMask();
  const opts: AugmentOptions = { ...DEFAULT_AUGMENT, elastic: { alpha: 60, sigma: 12 } };
  const rng = new Rng(7);
  let changed = 0;
  for (let k = 0; k < 20; k++) {
    const p = sampleAugment(() => rng.uniform(), opts, W, H);
    const oi = new Float32Array(W * H);
    const om = new Float32Array(W * H);
    warpPair(p, W, H, mask.slice(), oi, mask, om, opts.border);
    const thresholded = oi.map((v) => (v >= MASK_THRESHOLD ? 1 : 0));
    assert.deepEqual(thresholded, om);
    assert.ok(
      om.every((v) => v === 0 || v === 1),
      "mask stays binary",
    );
    if (om.some((v, i) => v !== mask[i])) changed++;
  }
  assert.ok(changed >= 18, "the warps really move the mask");
});

test("the same seed gives the same batch; augmentBatch matches per-sample warps", () => {
  const n = 4;
  const images = new Float32Array(n * W * H);
  const masks = new Float32Array(n * W * H);
  for (let b = 0; b < n; b++) {
    images.set(noiseImage(10 + b), b * W * H);
    masks.set(blobMask(), b * W * H);
  }
  const opts: AugmentOptions = { ...DEFAULT_AUGMENT, elastic: { alpha: 40, sigma: 10 } };
  const run = (seed: number) => {
    const rng = new Rng(seed);
    const oi = new Float32Array(n * W * H);
    const om = new Float32Array(n * W * H);
    augmentBatch(() => rng.uniform(), opts, n, W, H, images, masks, oi, om);
    return { oi, om, state: rng.getState() };
  };
  const a = run(123);
  const b = run(123);
  assert.deepEqual(a.oi, b.oi);
  assert.deepEqual(a.om, b.om);
  assert.notDeepEqual(run(124).oi, a.oi);

  const rng = new Rng(123);
  for (let k = 0; k < n; k++) {
    const p = sampleAugment(() => rng.uniform(), opts, W, H);
    const oi = new Float32Array(W * H);
    const om = new Float32Array(W * H);
    const o = k * W * H;
    warpPair(p, W, H, images.subarray(o, o + W * H), oi, masks.subarray(o, o + W * H), om, opts.border);
    assert.deepEqual(oi, a.oi.subarray(o, o + W * H));
    assert.deepEqual(om, a.om.subarray(o, o + W * H));
  }
  assert.deepEqual(rng.getState(), a.state, "same number of draws");
});

test("draws 5 numbers per sample (plus 2 per pixel with elastic) and respects the ranges", () => {
  let draws = 0;
  const rng = new Rng(99);
  const counted = () => (draws++, rng.uniform());
  let flipsH = 0;
  let flipsV = 0;
  const N = 2000;
  for (let k = 0; k < N; k++) {
    const p = sampleAugment(counted, DEFAULT_AUGMENT, W, H);
    if (p.flipH) flipsH++;
    if (p.flipV) flipsV++;
    assert.ok(Math.abs(p.angle) <= Math.PI / 18);
    assert.ok(Math.abs(p.tx) <= (20 * W) / 580 && Math.abs(p.ty) <= (20 * H) / 420);
    assert.equal(p.dx, null);
  }
  assert.equal(draws, 5 * N);
  assert.ok(Math.abs(flipsH / N - 0.5) < 0.05 && Math.abs(flipsV / N - 0.5) < 0.05);
  draws = 0;
  sampleAugment(counted, { ...DEFAULT_AUGMENT, elastic: { alpha: 10, sigma: 5 } }, W, H);
  assert.equal(draws, 5 + 2 * W * H);
});

test("a constant image stays constant under any warp with the reflect border", () => {
  const img = new Float32Array(W * H).fill(0.25);
  const rng = new Rng(5);
  const opts: AugmentOptions = {
    ...DEFAULT_AUGMENT,
    rotateDeg: 45,
    translatePx: 200,
    elastic: { alpha: 80, sigma: 8 },
  };
  for (let k = 0; k < 5; k++) {
    const out = warp(
      sampleAugment(() => rng.uniform(), opts, W, H),
      img,
      "reflect",
    );
    assert.ok(out.every((v) => Math.abs(v - 0.25) < 1e-6));
  }
  // With the constant border the corners of a 45-degree turn read 0.
  const turned = warp({ ...IDENTITY, angle: Math.PI / 4 }, img, "constant");
  assert.equal(turned[0], 0);
  assert.ok(Math.abs(turned[40 * W + 56] - 0.25) < 1e-6);
});
