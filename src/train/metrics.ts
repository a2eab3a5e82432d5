/*
 * Metrics of the training loop, at the model's resolution.
 * - Soft Dice coefficient (what the Keras reference logs as dice_coef): (2 sum(p t) + s) / (sum p + sum t + s).
 * - The Kaggle score: mean over images of the hard Dice (1 when both masks are empty) after the
 *   post-processing a submission would apply: pixels >= pixelThreshold, the whole mask emptied when the
 *   presence head says < presenceThreshold or when the predicted area is below minArea.
 */
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { diceFromCounts } from "../metric/dice.js";

/**
 * A full-resolution (580x420) area in pixels at a width x height resolution: scaled by the pixel-count
 * ratio, so a mask covering the same fraction of the frame passes at both resolutions.
 */
export function scaleMinArea(fullResArea: number, width: number, height: number): number {
  return (fullResArea * width * height) / (KAGGLE_WIDTH * KAGGLE_HEIGHT);
}

/** Soft Dice coefficient of probabilities vs 0/1 targets over all values given. */
export function softDice(pred: ArrayLike<number>, target: ArrayLike<number>, smooth = 1): number {
  let inter = 0;
  let sum = 0;
  for (let i = 0; i < pred.length; i++) {
    inter += pred[i] * target[i];
    sum += pred[i] + target[i];
  }
  return (2 * inter + smooth) / (sum + smooth);
}

export interface ScoreOptions {
  pixelThreshold: number;
  presenceThreshold: number;
  /** At the resolution of the masks given (see scaleMinArea). */
  minArea: number;
}

/** The Kaggle Dice of one image after post-processing; `presence` is the head's probability (1 = no gating). */
export function kaggleImageScore(
  probs: ArrayLike<number>,
  truth: ArrayLike<number>,
  presence: number,
  opts: ScoreOptions,
): number {
  let area = 0;
  let inter = 0;
  let truthArea = 0;
  for (let i = 0; i < probs.length; i++) {
    const on = probs[i] >= opts.pixelThreshold;
    const t = truth[i] !== 0;
    if (on) area++;
    if (t) truthArea++;
    if (on && t) inter++;
  }
  if (presence < opts.presenceThreshold || area < opts.minArea) return diceFromCounts(0, 0, truthArea);
  return diceFromCounts(inter, area, truthArea);
}

/** The score of predicting every mask empty: the share of images whose true mask is empty. */
export function emptyBaseline(hasMask: ArrayLike<number>): number {
  if (hasMask.length === 0) return NaN;
  let empty = 0;
  for (let i = 0; i < hasMask.length; i++) if (!hasMask[i]) empty++;
  return empty / hasMask.length;
}
