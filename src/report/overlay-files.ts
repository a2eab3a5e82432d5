// Overlay pictures of files: one image with its truth and prediction contours (a legend with the Dice when
// the truth is given), a whole folder of them, or the lowest-Dice frames of a scored submission.
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { noProgress, type ProgressFactory } from "../core/progress.js";
import { StagedFolder, writeFileAtomic } from "../io/atomic.js";
import { compareIds } from "../io/ids.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH, type GreyImage } from "../io/image.js";
import { loadPredictionCsv, loadTruth } from "../io/mask-set.js";
import { encodePng } from "../io/png.js";
import { readTiff } from "../io/tiff.js";
import { dice } from "../metric/dice.js";
import { checkIds, scoreMasks, type ImageScore, type Score } from "../metric/evaluate.js";
import { overlayRgb } from "./overlay.js";
import { withCaption, writeWorstOverlays } from "./worst-overlays.js";

/** Reads a mask TIFF of the image's size (nonzero = on). */
function readMask(file: string, img: GreyImage): Uint8Array {
  const m = readTiff(file);
  if (m.width !== img.width || m.height !== img.height) {
    throw fileError(file, `mask is ${m.width}x${m.height} but the image is ${img.width}x${img.height}`);
  }
  return m.data;
}

const area = (m: Uint8Array): number => m.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);

/**
 * One picture: the image with the mask contour in blue and the prediction contour in orange (overlayRgb).
 * With a true mask it is a picture for review: a legend strip under the frame names the colours, the
 * areas and, with a prediction too, the Dice.
 */
export function overlayFile(image: string, out: string, mask?: string, pred?: string): void {
  writeFileAtomic(out, overlayPng(image, mask, pred));
}

/** The picture overlayFile writes, as PNG bytes. */
export function overlayPng(image: string, mask?: string, pred?: string): Buffer {
  const img = readTiff(image);
  const t = mask ? readMask(mask, img) : null;
  const p = pred ? readMask(pred, img) : null;
  const rgb = overlayRgb(img, t, p);
  if (!t) return encodePng(rgb, img.width, img.height);
  const pic = withCaption(rgb, img.width, img.height, {
    id: path.basename(image).replace(/\.tiff?$/i, ""),
    truth: true,
    pred: p !== null,
    truthArea: area(t),
    predArea: p ? area(p) : null,
    dice: p ? dice(t, p) : null,
  });
  return encodePng(pic.rgb, pic.width, pic.height);
}

export interface OverlayFolderOptions {
  /** Folder of `<id>.tif` images. */
  images: string;
  /** Masks matched as `<id>_mask.tif` (missing ones are skipped). */
  masks?: string;
  /** Predictions matched as `<id>_mask.tif` or `<id>.tif`. */
  preds?: string;
  out: string;
  progress?: ProgressFactory;
}

/** One overlay PNG per image of a folder, staged: a bad file or an interruption leaves `out` as it was. */
export function overlayFolder(o: OverlayFolderOptions): { written: number; withMask: number } {
  let names: string[];
  try {
    names = fs.readdirSync(o.images);
  } catch (e) {
    throw fileError(o.images, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const ids = names
    .filter((f) => f.endsWith(".tif") && !f.endsWith("_mask.tif"))
    .map((f) => f.slice(0, -4))
    .sort(compareIds);
  if (ids.length === 0) throw fileError(o.images, "no .tif images in this folder");
  const find = (dir: string | undefined, candidates: string[]): string | undefined => {
    if (!dir) return undefined;
    for (const c of candidates) {
      const f = path.join(dir, c);
      if (fs.existsSync(f)) return f;
    }
    return undefined;
  };
  const stage = new StagedFolder(o.out);
  const bar = (o.progress ?? noProgress)("overlay", ids.length);
  let withMask = 0;
  try {
    ids.forEach((id, k) => {
      const mask = find(o.masks, [`${id}_mask.tif`]);
      const pred = find(o.preds, [`${id}_mask.tif`, `${id}.tif`]);
      if (mask) withMask++;
      stage.write(`${id}.png`, overlayPng(path.join(o.images, `${id}.tif`), mask, pred));
      bar.update(k + 1);
    });
    stage.commit();
  } finally {
    stage.abort();
    bar.stop();
  }
  return { written: ids.length, withMask };
}

/** The `worst` lowest-Dice frames of a submission CSV scored against the truth, as captioned overlays. */
export function worstOverlaysFromCsv(o: {
  images: string;
  truth: string;
  predCsv: string;
  worst: number;
  out: string;
}): { worst: ImageScore[]; score: Score } {
  const truth = loadTruth(o.truth, KAGGLE_WIDTH, KAGGLE_HEIGHT);
  const pred = loadPredictionCsv(o.predCsv, KAGGLE_WIDTH, KAGGLE_HEIGHT);
  checkIds(truth, pred, { subset: true });
  const score = scoreMasks(truth.masks, pred.masks, KAGGLE_WIDTH, KAGGLE_HEIGHT, { subset: true });
  return { worst: writeWorstOverlays(o.images, truth, pred, score, o.worst, o.out), score };
}
