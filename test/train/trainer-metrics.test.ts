import { test } from "node:test";
import assert from "node:assert/strict";
import { emptyBaseline, softDice } from "../../src/metric/dice.js";
import { kaggleImageScore, scaleMinArea } from "../../src/postprocess/mask-rule.js";
import { epochOrder, batchesOf, seedFor } from "../../src/train/batches.js";
import { resizeMask } from "../../src/data/resize.js";

const opts = { pixelThreshold: 0.5, presenceThreshold: 0.5, minArea: 0 };

test("Kaggle image score: hard Dice after presence gating and the minimum area", () => {
  const probs = [0.9, 0.6, 0.2, 0.5, 0.1, 0.0];
  const truth = [1, 0, 1, 1, 0, 0];
  // Predicted on: 0, 1 (> 0.5; 0.5 itself is off, see pixelOn); truth on: 0, 2, 3; overlap 1 -> 2*1 / (2 + 3).
  assert.equal(kaggleImageScore(probs, truth, 0.9, opts), 2 / 5);
  // The presence head vetoes the mask: empty prediction vs a non-empty truth scores 0 ...
  assert.equal(kaggleImageScore(probs, truth, 0.4, opts), 0);
  // ... and 1 when the truth is empty too.
  assert.equal(kaggleImageScore(probs, [0, 0, 0, 0, 0, 0], 0.4, opts), 1);
  // A predicted area below minArea (2 pixels < 3) is emptied.
  assert.equal(kaggleImageScore(probs, [0, 0, 0, 0, 0, 0], 0.9, { ...opts, minArea: 3 }), 1);
  assert.equal(kaggleImageScore(probs, [0, 0, 0, 0, 0, 0], 0.9, { ...opts, minArea: 2 }), 0);
});

test("soft Dice, min-area scaling and the all-empty baseline", () => {
  assert.equal(softDice([1, 0.5], [1, 1], 1), (2 * 1.5 + 1) / (3.5 + 1));
  assert.equal(softDice([0, 0], [0, 0], 1), 1);
  // 580x420 -> 80x64 keeps the same fraction of the frame.
  assert.equal(scaleMinArea(580 * 420, 80, 64), 80 * 64);
  assert.equal(scaleMinArea(2000, 580, 420), 2000);
  assert.equal(emptyBaseline([1, 0, 0, 1, 0]), 3 / 5);
  assert.ok(Number.isNaN(emptyBaseline([])));
});

test("epoch orders are seeded permutations; a short last batch is topped up from the start; seeds differ per batch", () => {
  const a = epochOrder(10, 1, 0);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(epochOrder(10, 1, 0), a);
  assert.notDeepEqual(epochOrder(10, 1, 1), a);
  assert.deepEqual(batchesOf([5, 6, 7, 8, 9], 2), [
    [5, 6],
    [7, 8],
    [9, 5],
  ]);
  assert.deepEqual(batchesOf([5, 6, 7], 4), [[5, 6, 7]]);
  const seeds = new Set([
    seedFor(1, 0, 1),
    seedFor(1, 0, 2),
    seedFor(1, 1, 1),
    seedFor(2, 0, 1),
    seedFor(1, 0),
  ]);
  assert.equal(seeds.size, 5);
});

test("masks are area-resized and thresholded at 0.5 coverage", () => {
  // 4x2 -> 2x1: left 2x2 block has 2 of 4 pixels on (0.5 -> on), right block 1 of 4 (off).
  const out = new Uint8Array(2);
  resizeMask(Uint8Array.from([1, 1, 0, 1, 0, 0, 0, 0]), 4, 2, 2, 1, out);
  assert.deepEqual([...out], [1, 0]);
});
