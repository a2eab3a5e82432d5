/**
 * A stand-in prediction folder made from true masks (no model needed): each mask is shrunk to model
 * resolution, blurred into soft "probabilities", and some frames are deliberately spoiled (shifted, a false
 * blob, a missed nerve) so the viewer has good and bad frames to show.
 */
import { resizeArea } from "../../src/data/resize.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";
import { boxBlur } from "../../src/postprocess/filters.js";
import { probsToBytes, writePredictions } from "../../src/predict/prediction-store.js";

export const FAKE_W = 145;
export const FAKE_H = 105;

/** Model-resolution byte map for one frame: `mask` (580x420, nonzero = on) shrunk, blurred, maybe spoiled. */
export function fakeProb(mask: Uint8Array, variant: number): Uint8Array {
  const f = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) f[i] = mask[i] !== 0 ? 1 : 0;
  let small = resizeArea(f, KAGGLE_WIDTH, KAGGLE_HEIGHT, FAKE_W, FAKE_H);
  if (variant === 1) {
    // Shifted right by 6 model pixels (24 px at full size).
    const s = new Float32Array(small.length);
    for (let y = 0; y < FAKE_H; y++)
      for (let x = 6; x < FAKE_W; x++) s[y * FAKE_W + x] = small[y * FAKE_W + x - 6];
    small = s;
  } else if (variant === 2) {
    // A false blob near the top left.
    for (let y = 10; y < 30; y++) for (let x = 10; x < 35; x++) small[y * FAKE_W + x] = 0.9;
  } else if (variant === 3) {
    small.fill(0); // missed nerve
  }
  boxBlur(small, FAKE_W, FAKE_H, 5);
  return probsToBytes(small);
}

/** Writes a prediction folder for `masks` (id → 580x420 mask); variant = index % 5 (0 and 4 are clean). */
export function writeFakePredictions(dir: string, masks: Map<string, Uint8Array>): void {
  const ids = [...masks.keys()];
  const probs = ids.map((id, k) => fakeProb(masks.get(id)!, k % 5));
  const presence = ids.map((id, k) => {
    const on = masks.get(id)!.some((v) => v !== 0);
    return k % 5 === 3 ? 0.2 : on ? 0.8 + 0.02 * (k % 7) : 0.1 + 0.05 * (k % 5);
  });
  writePredictions(dir, {
    ids,
    presence,
    probs,
    height: FAKE_H,
    width: FAKE_W,
    model: "fake (blurred truth)",
    tta: false,
  });
}
