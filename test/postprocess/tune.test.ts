import assert from "node:assert/strict";
import { test } from "node:test";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";
import { encodeRle } from "../../src/io/rle.js";
import { dice } from "../../src/metric/dice.js";
import {
  DEFAULT_POSTPROCESS,
  placeMap,
  postprocess,
  type PostprocessParams,
} from "../../src/postprocess/mask-rule.js";
import {
  DEFAULT_TUNE_GRID,
  tuneGridFor,
  tunePostprocess,
  type TuneGrid,
  type TuneInput,
} from "../../src/postprocess/tune.js";

const W = KAGGLE_WIDTH;
const H = KAGGLE_HEIGHT;

function fill(img: Uint8Array, value: number, x0: number, y0: number, x1: number, y1: number): void {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) img[y * W + x] = value;
}

/**
 * A case with one known optimum, at full resolution (no interpolation) so the counts are exact:
 * - nerve images: truth = a block; probability 0.6 on it and 0.4 on a 5-px ring around it, presence 0.7
 *   → pixel threshold 0.5 is exact, 0.3 adds the ring, 0.7 loses everything;
 * - empty images with a big false blob (3,600 px) but presence 0.3 → only the presence threshold removes them;
 * - one empty image with a 300-px false blob and presence 0.9 → only minArea 400 removes it (nerves ≥ 1,600 px).
 * Best: (0.5, 0.5, 400) with score 1. Defaults (0.5, 0.5, 0) miss only the 300-px blob: score (N-1)/N.
 */
function knownCase(): { input: TuneInput; grid: TuneGrid } {
  const probs: Uint8Array[] = [];
  const truth: (string | Uint8Array)[] = [];
  const presence: number[] = [];
  for (let k = 0; k < 4; k++) {
    const p = new Uint8Array(W * H);
    const t = new Uint8Array(W * H);
    const x0 = 50 + 60 * k;
    const side = 40 + 10 * k;
    fill(p, 102, x0 - 5, 100 - 5, x0 + side + 5, 100 + side + 5); // 0.4 ring
    fill(p, 153, x0, 100, x0 + side, 100 + side); // 0.6 core
    fill(t, 255, x0, 100, x0 + side, 100 + side);
    probs.push(p);
    // Half the truths as RLE text, half as masks: both inputs are accepted.
    truth.push(k % 2 === 0 ? encodeRle(t, W, H) : t);
    presence.push(0.7);
  }
  for (let k = 0; k < 3; k++) {
    const p = new Uint8Array(W * H);
    fill(p, 230, 300, 200, 360, 260);
    probs.push(p);
    truth.push("");
    presence.push(0.3);
  }
  const small = new Uint8Array(W * H);
  fill(small, 230, 400, 300, 420, 315); // 300 px
  probs.push(small);
  truth.push(new Uint8Array(W * H));
  presence.push(0.9);
  return {
    input: { probs, presence, truth, width: W, height: H },
    grid: {
      pixelThresholds: [0.3, 0.5, 0.7],
      presenceThresholds: [0, 0.25, 0.5, 0.75],
      minAreas: [0, 200, 400, 4000],
    },
  };
}

test("tune finds the known optimum and reports the score before and after", () => {
  const { input, grid } = knownCase();
  const r = tunePostprocess(input, DEFAULT_POSTPROCESS, grid);
  assert.equal(r.search, "full-grid");
  assert.equal(r.images, 8);
  assert.deepEqual(
    { p: r.best.pixelThreshold, P: r.best.presenceThreshold, M: r.best.minArea },
    { p: 0.5, P: 0.5, M: 400 },
  );
  assert.equal(r.after, 1);
  assert.equal(r.before, 7 / 8);
  assert.equal(r.table.length, 3 * 4 * 4);
  assert.equal(r.table.filter((row) => row.score === 1).length, 1); // the optimum is unique
  // Spot checks against hand counts: presence 0 lets the three 3,600-px blobs through.
  const at = (p: number, P: number, M: number): number =>
    r.table.find((row) => row.pixelThreshold === p && row.presenceThreshold === P && row.minArea === M)!
      .score;
  assert.equal(at(0.5, 0, 400), 5 / 8);
  assert.equal(at(0.7, 0.5, 400), 4 / 8); // every nerve lost, the four empty images right
  // Threshold 0.3 adds the ring: Dice 2s²/(s² + (s+10)²) per nerve of side s.
  const ring = [40, 50, 60, 70].reduce((a, s) => a + (2 * s * s) / (s * s + (s + 10) * (s + 10)), 0);
  assert.ok(Math.abs(at(0.3, 0.5, 400) - (ring + 4) / 8) < 1e-12);
  // The other params are carried over from the base.
  const base: PostprocessParams = { ...DEFAULT_POSTPROCESS, morphology: "open", morphologySize: 3 };
  assert.equal(tunePostprocess(input, base, grid).best.morphology, "open");
});

/** Mean Dice of postprocess() on every image, straight from the definition. */
function directScore(input: TuneInput, p: PostprocessParams): number {
  let sum = 0;
  for (let i = 0; i < input.probs.length; i++) {
    const mask = postprocess(
      { data: input.probs[i], width: input.width, height: input.height },
      input.presence[i],
      p,
    );
    const t = input.truth[i];
    sum += dice(mask, typeof t === "string" ? decode(t) : t);
  }
  return sum / input.probs.length;
}

function decode(rle: string): Uint8Array {
  const m = new Uint8Array(W * H);
  const nums = rle === "" ? [] : rle.split(" ").map(Number);
  for (let r = 0; r < nums.length; r += 2)
    for (let k = nums[r] - 1; k < nums[r] - 1 + nums[r + 1]; k++) m[(k % H) * W + Math.floor(k / H)] = 1;
  return m;
}

/** Low-resolution blobs with soft edges, so upsampling and blur shape the masks. */
function lowResCase(): TuneInput {
  const w = 58;
  const h = 42;
  let s = 99;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const probs: Float32Array[] = [];
  const truth: Uint8Array[] = [];
  const presence: number[] = [];
  for (let i = 0; i < 6; i++) {
    const cx = 10 + rnd() * 38;
    const cy = 10 + rnd() * 22;
    const r = 3 + rnd() * 5;
    const p = new Float32Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const d = Math.hypot(x - cx, y - cy);
        p[y * w + x] = Math.max(0, Math.min(1, (r + 2 - d) / 4));
      }
    const t = new Uint8Array(W * H);
    if (i % 3 !== 0) {
      // The truth is a disc slightly off the predicted one.
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) if (Math.hypot(x / 10 - cx - 0.7, y / 10 - cy) < r) t[y * W + x] = 1;
    }
    probs.push(p);
    truth.push(t);
    presence.push(rnd());
  }
  return { probs, presence, truth, width: w, height: h };
}

test("every grid score equals postprocess + Dice computed directly (upsampled, blurred maps)", () => {
  const input = lowResCase();
  const grid: TuneGrid = {
    pixelThresholds: [0.2, 0.45, 0.7],
    presenceThresholds: [0, 0.4],
    minAreas: [0, 2500],
  };
  const base: PostprocessParams = { ...DEFAULT_POSTPROCESS, blur: { kind: "gaussian", size: 15 } };
  const r = tunePostprocess(input, base, grid);
  // The base values (0.5, 0.5, 0) join the grid.
  assert.equal(r.table.length, 4 * 3 * 2);
  for (const row of r.table) {
    const want = directScore(input, { ...base, ...row });
    assert.ok(Math.abs(row.score - want) < 1e-12, `${JSON.stringify(row)} vs ${want}`);
  }
  assert.ok(Math.abs(r.before - directScore(input, base)) < 1e-12);
  assert.equal(r.after, Math.max(...r.table.map((row) => row.score)));
  assert.ok(r.after >= r.before);
});

test("with largestComponent (no histogram shortcut) the scores still match postprocess", () => {
  const input = lowResCase();
  // Give every map a second, smaller blob that the rule must drop.
  for (const p of input.probs as Float32Array[])
    for (let y = 2; y < 5; y++) for (let x = 2; x < 5; x++) p[y * 58 + x] = 1;
  const grid: TuneGrid = { pixelThresholds: [0.3, 0.6], presenceThresholds: [0], minAreas: [0, 1000] };
  const base: PostprocessParams = { ...DEFAULT_POSTPROCESS, largestComponent: true };
  const r = tunePostprocess(input, base, grid);
  for (const row of r.table) {
    const want = directScore(input, { ...base, ...row });
    assert.ok(Math.abs(row.score - want) < 1e-12, `${JSON.stringify(row)} vs ${want}`);
  }
});

test("tune rejects mismatched inputs", () => {
  const { input } = knownCase();
  assert.throws(
    () => tunePostprocess({ ...input, presence: [0.5] }),
    /8 maps, 1 presence values, 8 truth masks/,
  );
  assert.throws(
    () => tunePostprocess({ ...input, probs: [], presence: [], truth: [] }),
    /no validation images/,
  );
  const badTruth = {
    ...input,
    truth: input.truth.map((t, i) => (i === 2 ? "1 2 3" : t)),
    ids: input.probs.map((_, i) => `v${i}`),
  };
  assert.throws(() => tunePostprocess(badTruth), /v2: odd number/);
});

test("among settings tied for the best score, tune picks the middle of the plateau, not its edge", () => {
  // 58x42 maps (x10 to 580x420). Nerve frames: a confident 8x6 block (4,800 px at full size), presence 0.8.
  // Empty frames: a confident 2x2 speck (400 px), presence 0.3. Any presence threshold in (0.3, 0.8] or
  // minimum area in (400, 4800] removes the specks: a wide plateau of perfect scores.
  const w = 58;
  const h = 42;
  const block = (x0: number, y0: number, bw: number, bh: number): Float32Array => {
    const m = new Float32Array(w * h);
    for (let y = y0; y < y0 + bh; y++) for (let x = x0; x < x0 + bw; x++) m[y * w + x] = 1;
    return m;
  };
  const full = (map: Float32Array): Uint8Array =>
    postprocess({ data: map, width: w, height: h }, 1, { ...DEFAULT_POSTPROCESS, pixelThreshold: 0.5 });
  const nerve = block(20, 10, 8, 6);
  const speck = block(5, 30, 2, 2);
  const input: TuneInput = {
    probs: [nerve, nerve, speck, speck],
    presence: [0.8, 0.8, 0.3, 0.3],
    width: w,
    height: h,
    truth: [
      full(nerve),
      full(nerve),
      new Uint8Array(KAGGLE_WIDTH * KAGGLE_HEIGHT),
      new Uint8Array(KAGGLE_WIDTH * KAGGLE_HEIGHT),
    ],
  };
  const grid: TuneGrid = {
    pixelThresholds: [0.3, 0.5, 0.7],
    presenceThresholds: [0, 0.2, 0.4, 0.5, 0.6, 0.8, 0.9],
    minAreas: [0, 200, 1000, 2000, 3000, 5000],
  };
  const r = tunePostprocess(input, { ...DEFAULT_POSTPROCESS, presenceThreshold: 0, minArea: 0 }, grid);
  assert.equal(r.after, 1);
  const score = (p: number, m: number, t: number): number =>
    r.table.find((row) => row.presenceThreshold === p && row.minArea === m && row.pixelThreshold === t)!
      .score;
  // Only pixel threshold 0.5 reproduces the truth exactly; along the other two axes every neighbour of
  // the chosen setting is perfect too (an interior point of the plateau).
  assert.equal(r.best.pixelThreshold, 0.5);
  const pi = grid.presenceThresholds.indexOf(r.best.presenceThreshold);
  const mi = grid.minAreas.indexOf(r.best.minArea);
  for (const dp of [-1, 0, 1])
    for (const dm of [-1, 0, 1]) {
      const [p, m] = [grid.presenceThresholds[pi + dp], grid.minAreas[mi + dm]];
      if (p === undefined || m === undefined) continue;
      assert.equal(score(p, m, 0.5), 1, `neighbour presence ${p}, minArea ${m}`);
    }
  // The first perfect setting in grid order sits on the plateau's edge (presence 0 with minArea 1000).
  assert.ok(score(0, 1000, 0.5) === 1 && score(0, 200, 0.5) < 1);
});

test("frames of other sizes: each is placed by its own geometry and scored at its size, as postprocess does", () => {
  const low = lowResCase();
  // Three sizes, letterboxed maps, a trimmed box on one frame: every grid score is postprocess + Dice at
  // the frame's size (the failure this fixes: "truth mask has N pixels, want 580x420").
  const sizes = [
    { width: 120, height: 90 },
    { width: 64, height: 100 },
    { width: 200, height: 50 },
  ];
  const n = 6;
  const boxes = Array.from({ length: n }, (_, i) => (i === 1 ? { x0: 0.1, y0: 0, x1: 0.9, y1: 1 } : null));
  const truth = Array.from({ length: n }, (_, i) => {
    const { width, height } = sizes[i % 3];
    const t = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        if (i % 3 !== 0 && (x - width / 2) ** 2 + (y - height / 2) ** 2 < 150) t[y * width + x] = 1;
    return t;
  });
  const input: TuneInput = {
    ...low,
    fit: "letterbox",
    boxes,
    truth,
    sizes: truth.map((_, i) => sizes[i % 3]),
    ids: truth.map((_, i) => `f${i}`),
  };
  const grid: TuneGrid = { pixelThresholds: [0.2, 0.6], presenceThresholds: [0, 0.5], minAreas: [0, 40] };
  const r = tunePostprocess(input, DEFAULT_POSTPROCESS, grid);
  for (const row of r.table) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const size = sizes[i % 3];
      const map = placeMap(input.probs[i], low.width, low.height, "letterbox", boxes[i], size);
      sum += dice(postprocess(map, low.presence[i], { ...DEFAULT_POSTPROCESS, ...row }, size), truth[i]);
    }
    assert.ok(Math.abs(row.score - sum / n) < 1e-12, `${JSON.stringify(row)}: ${row.score} vs ${sum / n}`);
  }
  assert.throws(
    () => tunePostprocess({ ...input, sizes: input.sizes!.slice(1) }, DEFAULT_POSTPROCESS, grid),
    /6 maps but 5 truth sizes/,
  );
});

test("the default grid's minimum areas cover the same share of a frame at every size", () => {
  assert.deepEqual(tuneGridFor(580 * 420), DEFAULT_TUNE_GRID);
  const small = tuneGridFor(580 * 420 * 0.25);
  assert.deepEqual(
    small.minAreas,
    DEFAULT_TUNE_GRID.minAreas.map((a) => Math.round(a / 4)),
  );
  assert.deepEqual(small.pixelThresholds, DEFAULT_TUNE_GRID.pixelThresholds);
});
