import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { overlayRgb, writePng } from "../io/png.js";
import { decodeRle } from "../io/rle.js";
import { readTiff } from "../io/tiff.js";
import type { ImageScore, MaskSet, Score } from "../metric/evaluate.js";

/**
 * Pictures of the frames a model gets most wrong: the `count` lowest-Dice images of `score`, each as
 * `<id>-dice<d>.png` with the truth contour in green and the prediction in red. Returns the frames drawn.
 */
export function writeWorstOverlays(
  imagesDir: string,
  truth: MaskSet,
  pred: MaskSet,
  score: Score,
  count: number,
  outDir: string,
): ImageScore[] {
  const worst = [...score.perImage].sort((a, b) => a.dice - b.dice).slice(0, count);
  fs.mkdirSync(outDir, { recursive: true });
  for (const w of worst) {
    const file = path.join(imagesDir, `${w.id}.tif`);
    if (!fs.existsSync(file))
      throw fileError(file, `missing: image ${w.id} is scored but not in ${imagesDir}`);
    const img = readTiff(file);
    const t = decodeRle(truth.masks.get(w.id) ?? "", KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const p = decodeRle(pred.masks.get(w.id) ?? "", KAGGLE_WIDTH, KAGGLE_HEIGHT);
    writePng(
      path.join(outDir, `${w.id}-dice${w.dice.toFixed(2)}.png`),
      overlayRgb(img, t, p),
      img.width,
      img.height,
    );
  }
  return worst;
}
