import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/core/random.js";
import {
  boundaryDistances,
  maskBoundary,
  median,
  parseSpacing,
  percentile,
  squaredDistanceTransform,
  summarizeBoundary,
} from "../../src/metric/surface-distance.js";

/** A width × height mask with the pixels where `on(x, y)` holds. */
function mask(width: number, height: number, on: (x: number, y: number) => boolean): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) m[y * width + x] = on(x, y) ? 1 : 0;
  return m;
}

const square = (width: number, height: number, x0: number, y0: number, side: number): Uint8Array =>
  mask(width, height, (x, y) => x >= x0 && x < x0 + side && y >= y0 && y < y0 + side);

/** The brute-force oracle: every pixel against every site, O(pixels × sites). */
function bruteSquared(sites: Uint8Array, width: number, height: number, rowStep: number, colStep: number) {
  const out = new Float64Array(width * height).fill(Infinity);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let v = 0; v < height; v++)
        for (let u = 0; u < width; u++)
          if (sites[v * width + u]) {
            const d = ((y - v) * rowStep) ** 2 + ((x - u) * colStep) ** 2;
            if (d < out[y * width + x]) out[y * width + x] = d;
          }
  return out;
}

/** HD95 and ASSD the slow way, from point lists, for shapes too irregular to work out by hand. */
function bruteBoundary(truth: Uint8Array, pred: Uint8Array, width: number, height: number) {
  const points = (m: Uint8Array) => {
    const b = maskBoundary(m, width, height);
    const p: [number, number][] = [];
    for (let i = 0; i < b.length; i++) if (b[i]) p.push([i % width, Math.floor(i / width)]);
    return p;
  };
  const [t, p] = [points(truth), points(pred)];
  const directed = (a: [number, number][], b: [number, number][]) =>
    a.map(([x, y]) => Math.min(...b.map(([u, v]) => Math.hypot(x - u, y - v))));
  const [pt, tp] = [directed(p, t), directed(t, p)];
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return { hd95: percentile(Float64Array.from([...pt, ...tp]).sort(), 95), assd: (mean(pt) + mean(tp)) / 2 };
}

test("the distance transform equals brute force on random masks, square and anisotropic pixels", () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 60; trial++) {
    const width = 1 + Math.floor(rng.uniform() * 23);
    const height = 1 + Math.floor(rng.uniform() * 19);
    const density = [0.002, 0.03, 0.2, 0.7][trial % 4];
    const sites = mask(width, height, () => rng.uniform() < density);
    const [rowStep, colStep] = trial % 3 === 0 ? [1, 1] : trial % 3 === 1 ? [0.5, 0.13] : [1.7, 0.9];
    const fast = squaredDistanceTransform(sites, width, height, rowStep, colStep);
    const slow = bruteSquared(sites, width, height, rowStep, colStep);
    for (let i = 0; i < fast.length; i++) {
      if (slow[i] === Infinity) assert.equal(fast[i], Infinity, `trial ${trial}: no site anywhere`);
      else if (rowStep === 1 && colStep === 1) assert.equal(fast[i], slow[i], `trial ${trial} pixel ${i}`);
      else assert.ok(Math.abs(fast[i] - slow[i]) <= 1e-9 * (1 + slow[i]), `trial ${trial} pixel ${i}`);
    }
  }
});

test("the boundary: 4-neighbours off or the frame's edge", () => {
  // A 3x3 square inside a 5x5 frame: its ring of 8, not the centre.
  assert.deepEqual(
    [...maskBoundary(square(5, 5, 1, 1, 3), 5, 5)],
    [...mask(5, 5, (x, y) => x >= 1 && x <= 3 && y >= 1 && y <= 3 && !(x === 2 && y === 2))],
  );
  // A diagonal neighbour off does not make a boundary pixel (4-connectivity, as scipy's cross).
  const notch = square(5, 5, 0, 0, 5);
  notch[0] = 0;
  const b = maskBoundary(notch, 5, 5);
  assert.equal(b[1 * 5 + 1], 0, "(1,1) has only a diagonal neighbour off");
  // A mask filling the frame has its boundary on the frame's edge.
  assert.deepEqual(
    [...maskBoundary(square(4, 3, 0, 0, 4), 4, 3)],
    [...mask(4, 3, (x, y) => x === 0 || y === 0 || x === 3 || y === 2)],
  );
  assert.deepEqual(
    [
      ...maskBoundary(
        mask(3, 1, (x) => x === 1),
        3,
        1,
      ),
    ],
    [0, 1, 0],
  );
});

test("two 10x10 squares 3 px apart: HD95 = 3 and ASSD = 1.5 exactly", () => {
  // By hand, from the first square's 36 boundary pixels to the second's boundary: its top and bottom rows
  // 3, 2, 1 then 0 (6 each), its left column 3 (8 x 3 = 24), its right column min(3, y, 9 − y) for y = 1..8
  // (18): 54 / 36 = 1.5, the same the other way. 28 of the 72 pooled distances are 3, the largest: HD95 = 3.
  const geometry = { width: 20, height: 14 };
  const a = square(20, 14, 0, 0, 10);
  const b = square(20, 14, 3, 0, 10);
  assert.deepEqual(boundaryDistances(a, b, geometry), { kind: "measured", hd95: 3, assd: 1.5 });
  assert.deepEqual(boundaryDistances(b, a, geometry), { kind: "measured", hd95: 3, assd: 1.5 });
  // Moved into the middle of the frame (no edge involved) the numbers stay.
  const c = square(20, 14, 4, 2, 10);
  const d = square(20, 14, 7, 2, 10);
  assert.deepEqual(boundaryDistances(c, d, geometry), { kind: "measured", hd95: 3, assd: 1.5 });
  assert.deepEqual(boundaryDistances(a, a, geometry), { kind: "measured", hd95: 0, assd: 0 });
});

test("anisotropic spacing: columns and rows are scaled apart (row, column order)", () => {
  const close = (actual: number, expected: number) =>
    assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} vs ${expected}`);
  const spacing = { row: 0.5, col: 0.2 };
  // Shifted 3 columns: the 3-px gaps are 0.6 mm; the right column's near rows are 1 row (0.5 mm) away.
  const across = boundaryDistances(square(20, 14, 0, 0, 10), square(20, 14, 3, 0, 10), {
    width: 20,
    height: 14,
    spacing,
  });
  assert.equal(across.kind, "measured");
  if (across.kind !== "measured") return;
  close(across.hd95, 0.6);
  // top and bottom 2 x (0.6 + 0.4 + 0.2), left 8 x 0.6, right 0.5 + 6 x 0.6 + 0.5: 11.8 over 36 each way.
  close(across.assd, 11.8 / 36);
  // Shifted 3 rows: 1.5 mm.
  const down = boundaryDistances(square(14, 20, 0, 0, 10), square(14, 20, 0, 3, 10), {
    width: 14,
    height: 20,
    spacing,
  });
  assert.equal(down.kind, "measured");
  if (down.kind === "measured") close(down.hd95, 1.5);
});

test("a disc against a concentric disc: the radii's difference, as the slow oracle computes it", () => {
  const disc = (r: number) => mask(41, 41, (x, y) => (x - 20) ** 2 + (y - 20) ** 2 <= r * r);
  const got = boundaryDistances(disc(8), disc(13), { width: 41, height: 41 });
  assert.equal(got.kind, "measured");
  if (got.kind !== "measured") return;
  const slow = bruteBoundary(disc(8), disc(13), 41, 41);
  assert.ok(Math.abs(got.hd95 - slow.hd95) < 1e-12 && Math.abs(got.assd - slow.assd) < 1e-12);
  // Digital circles: the distances are 5 px give or take the pixel grid.
  assert.ok(Math.abs(got.hd95 - 5) <= 1 && Math.abs(got.assd - 5) <= 1, JSON.stringify(got));
  // Random blobs, touching the edge too.
  const rng = new Rng(3);
  for (let k = 0; k < 20; k++) {
    const blob = () => {
      const [cx, cy, r] = [rng.uniform() * 30, rng.uniform() * 20, 2 + rng.uniform() * 9];
      return mask(30, 20, (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r || rng.uniform() < 0.01);
    };
    const [t, p] = [blob(), blob()];
    const fast = boundaryDistances(t, p, { width: 30, height: 20 });
    assert.equal(fast.kind, "measured");
    if (fast.kind !== "measured") continue;
    const slow = bruteBoundary(t, p, 30, 20);
    assert.ok(Math.abs(fast.hd95 - slow.hd95) < 1e-9 && Math.abs(fast.assd - slow.assd) < 1e-9, `blob ${k}`);
  }
});

test("empty masks: both empty is not measured, one empty is undefined (never Infinity)", () => {
  const empty = new Uint8Array(16);
  const some = square(4, 4, 1, 1, 2);
  assert.deepEqual(boundaryDistances(empty, empty, { width: 4, height: 4 }), { kind: "both-empty" });
  assert.deepEqual(boundaryDistances(some, empty, { width: 4, height: 4 }), { kind: "one-empty" });
  assert.deepEqual(boundaryDistances(empty, some, { width: 4, height: 4 }), { kind: "one-empty" });
  const s = summarizeBoundary([
    { truthArea: 0, predArea: 0, hd95: null, assd: null },
    { truthArea: 4, predArea: 0, hd95: null, assd: null },
    { truthArea: 0, predArea: 2, hd95: null, assd: null },
    { truthArea: 4, predArea: 4, hd95: 3, assd: 1 },
    { truthArea: 4, predArea: 4, hd95: 1, assd: 0.5 },
    { truthArea: 4, predArea: 4, hd95: 8, assd: 2 },
  ]);
  assert.deepEqual(s, {
    boundaryImages: 3,
    oneSideEmpty: 2,
    hd95Mean: 4,
    hd95Median: 3,
    assdMean: 3.5 / 3,
    assdMedian: 1,
  });
  const none = summarizeBoundary([{ truthArea: 0, predArea: 0, hd95: null, assd: null }]);
  assert.ok(Number.isNaN(none.hd95Mean) && Number.isNaN(none.assdMedian) && none.boundaryImages === 0);
});

test("percentile and median as numpy computes them; spacings as written", () => {
  assert.ok(Math.abs(percentile([1, 2, 3, 4], 95) - 3.85) < 1e-12);
  assert.equal(percentile([0, 3, 3], 95), 3);
  assert.equal(percentile([5], 95), 5);
  assert.ok(Number.isNaN(percentile([], 95)));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.deepEqual(parseSpacing("0.1"), { row: 0.1, col: 0.1 });
  assert.deepEqual(parseSpacing("0.1,0.12"), { row: 0.1, col: 0.12 });
  assert.deepEqual(parseSpacing(" 0.1 \\ 0.12 "), { row: 0.1, col: 0.12 });
  for (const bad of ["", "0", "-1", "a", "0.1,0.2,0.3", "Infinity", "1e999", "0.1,"])
    assert.equal(parseSpacing(bad), null, bad);
});
