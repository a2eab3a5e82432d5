/** The Kaggle per-image score: Dice 2|A∩B| / (|A| + |B|), 1 when both masks are empty. */
import { runsArea, runsIntersection } from "../io/rle.js";

/** Pixels on in a, in b, and in both (nonzero = on), for two masks of the same size. */
export function maskCounts(
  a: Uint8Array,
  b: Uint8Array,
): { areaA: number; areaB: number; intersection: number } {
  if (a.length !== b.length)
    throw new Error(`dice: masks differ in size (${a.length} vs ${b.length} pixels)`);
  let areaA = 0;
  let areaB = 0;
  let intersection = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x) areaA++;
    if (y) areaB++;
    if (x && y) intersection++;
  }
  return { areaA, areaB, intersection };
}

/** Dice of two masks of the same size (nonzero = on): 1 when both are empty, 0 when exactly one is. */
export function dice(a: Uint8Array, b: Uint8Array): number {
  const c = maskCounts(a, b);
  return diceFromCounts(c.intersection, c.areaA, c.areaB);
}

/** Dice from pixel counts: intersection, |A| and |B|. */
export function diceFromCounts(intersection: number, areaA: number, areaB: number): number {
  return areaA + areaB === 0 ? 1 : (2 * intersection) / (areaA + areaB);
}

/** Dice of two parsed run lists (see parseRle in io/rle.ts), computed from the runs without decoding. */
export function diceRuns(a: Uint32Array, b: Uint32Array): number {
  return diceFromCounts(runsIntersection(a, b), runsArea(a), runsArea(b));
}

/** Soft Dice coefficient (what the Keras reference logs as dice_coef): (2 sum(p t) + s) / (sum p + sum t + s). */
export function softDice(pred: ArrayLike<number>, target: ArrayLike<number>, smooth = 1): number {
  let inter = 0;
  let sum = 0;
  for (let i = 0; i < pred.length; i++) {
    inter += pred[i] * target[i];
    sum += pred[i] + target[i];
  }
  return (2 * inter + smooth) / (sum + smooth);
}

/** The score of predicting every mask empty: the share of images whose true mask is empty. */
export function emptyBaseline(hasMask: ArrayLike<number>): number {
  if (hasMask.length === 0) return NaN;
  let empty = 0;
  for (let i = 0; i < hasMask.length; i++) if (!hasMask[i]) empty++;
  return empty / hasMask.length;
}
