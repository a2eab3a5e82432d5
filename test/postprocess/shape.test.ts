import assert from "node:assert/strict";
import { test } from "node:test";
import { convexHullFill, fillHoles, momentEllipse } from "../../src/postprocess/shape.js";

/** A mask from rows of '#' (on) and '.' (off). */
function draw(rows: string[]): { m: Uint8Array; w: number; h: number } {
  const w = rows[0].length;
  const m = new Uint8Array(w * rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (m[y * w + x] = c === "#" ? 1 : 0)));
  return { m, w, h: rows.length };
}
const show = (m: Uint8Array, w: number): string[] =>
  Array.from({ length: m.length / w }, (_, y) =>
    [...m.subarray(y * w, (y + 1) * w)].map((v) => (v ? "#" : ".")).join(""),
  );

test("fillHoles fills enclosed background only; a gap to the border keeps a region open", () => {
  const { m, w, h } = draw([
    ".......", //
    ".#####.",
    ".#...#.",
    ".#.#.#.",
    ".#...#.",
    ".#####.",
    "...#...",
  ]);
  assert.deepEqual(show(fillHoles(m, w, h), w), [
    ".......",
    ".#####.",
    ".#####.",
    ".#####.",
    ".#####.",
    ".#####.",
    "...#...",
  ]);
  const open = draw([
    ".....", //
    ".#.#.",
    ".#.#.",
    ".###.",
  ]);
  assert.deepEqual(fillHoles(open.m, open.w, open.h), open.m, "a cup open to the top is not a hole");
  // Background touching only diagonally is a hole (4-connected background).
  const diag = draw([
    "###.", //
    "#.#.",
    "###.",
  ]);
  assert.deepEqual(show(fillHoles(diag.m, diag.w, diag.h), diag.w), ["###.", "###.", "###."]);
});

/** Brute force: pixel (x, y) is in the hull when it is a convex combination of on pixels (checked by
 * testing that no line through it has every on pixel strictly on one side, over many directions). */
function hullBrute(m: Uint8Array, w: number, h: number): Uint8Array {
  const on: [number, number][] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (m[y * w + x]) on.push([x, y]);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let inside = on.length > 0;
      for (let k = 0; k < 720 && inside; k++) {
        const a = (k * Math.PI) / 360;
        const [c, s] = [Math.cos(a), Math.sin(a)];
        if (on.every(([px, py]) => (px - x) * c + (py - y) * s > 1e-9)) inside = false;
      }
      out[y * w + x] = inside ? 1 : 0;
    }
  return out;
}

test("convexHullFill: the L becomes its triangle, every input pixel stays, and it matches brute force", () => {
  const { m, w, h } = draw([
    "#....", //
    "#....",
    "#....",
    "#####",
  ]);
  assert.deepEqual(show(convexHullFill(m, w, h), w), ["#....", "##...", "###..", "#####"]);
  let seed = 5;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 20; trial++) {
    const W = 9;
    const H = 7;
    const r = new Uint8Array(W * H);
    const k = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < k; i++) r[Math.floor(rnd() * W * H)] = 1;
    const hull = convexHullFill(r, W, H);
    assert.deepEqual(show(hull, W), show(hullBrute(r, W, H), W), `random ${trial}`);
    for (let i = 0; i < r.length; i++) if (r[i]) assert.equal(hull[i], 1);
    assert.deepEqual(convexHullFill(hull, W, H), hull, "idempotent");
  }
  assert.equal(convexHullFill(new Uint8Array(12), 4, 3).indexOf(1), -1, "empty stays empty");
  const line = draw(["#...", ".#..", "..#."]);
  assert.deepEqual(convexHullFill(line.m, line.w, line.h), line.m, "a diagonal segment stays itself");
});

test("momentEllipse reproduces a drawn ellipse, keeps a disc's centre and area, and leaves empty empty", () => {
  const W = 60;
  const H = 40;
  const e = new Uint8Array(W * H);
  // Rotated ellipse, semi-axes 18 and 8, centre (29, 21), 30°.
  const [c, s] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const u = (x - 29) * c + (y - 21) * s;
      const v = -(x - 29) * s + (y - 21) * c;
      if ((u / 18) ** 2 + (v / 8) ** 2 <= 1) e[y * W + x] = 1;
    }
  const fit = momentEllipse(e, W, H);
  let both = 0;
  let either = 0;
  for (let i = 0; i < e.length; i++) {
    both += e[i] & fit[i];
    either += e[i] | fit[i];
  }
  assert.ok(both / either > 0.95, `IoU ${both / either}`);
  // A jagged blob becomes a smooth one of about the same area.
  const blob = draw(["..##..", ".####.", "######", ".###..", "..#..."]);
  const b = momentEllipse(blob.m, blob.w, blob.h);
  const area = (m: Uint8Array): number => m.reduce((a, v) => a + v, 0);
  assert.ok(Math.abs(area(b) - area(blob.m)) <= 3, `${area(b)} vs ${area(blob.m)}`);
  assert.equal(momentEllipse(new Uint8Array(6), 3, 2).indexOf(1), -1);
  const one = new Uint8Array(9);
  one[4] = 1;
  assert.deepEqual(momentEllipse(one, 3, 3), one, "one pixel stays one pixel");
});
