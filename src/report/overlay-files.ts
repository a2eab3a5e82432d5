// Overlay pictures of files: one image with its truth and prediction contours (a legend with the Dice when
// the truth is given), a whole folder of them, or the lowest-Dice frames of a scored submission. Images
// and masks in any format readImageFile reads (overlayFile and overlayPng: Kaggle TIFFs, synchronously).
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { noProgress, type ProgressFactory } from "../core/progress.js";
import { listImageInputs } from "../data/inputs.js";
import { stemOf } from "../data/layout.js";
import { StagedFolder, writeFileAtomic } from "../io/atomic.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH, type GreyImage } from "../io/image.js";
import { readImageFile } from "../io/image-read.js";
import { loadPredictionCsv, loadTruth } from "../io/mask-set.js";
import { encodePng } from "../io/png.js";
import { readTiff } from "../io/tiff.js";
import { dice } from "../metric/dice.js";
import { checkIds, scoreMasks, type ImageScore, type Score } from "../metric/evaluate.js";
import { checkMaskSize, readMaskFile } from "./mask-files.js";
import { maskFolderItems, matchToImages } from "./match.js";
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
  return picture(img, t, p, path.basename(image).replace(/\.tiff?$/i, ""));
}

/** The overlay as PNG bytes: with a true mask, a legend strip under the frame (areas, Dice, id). */
function picture(img: GreyImage, t: Uint8Array | null, p: Uint8Array | null, id: string): Buffer {
  const rgb = overlayRgb(img, t, p);
  if (!t) return encodePng(rgb, img.width, img.height);
  const pic = withCaption(rgb, img.width, img.height, {
    id,
    truth: true,
    pred: p !== null,
    truthArea: area(t),
    predArea: p ? area(p) : null,
    dice: p ? dice(t, p) : null,
  });
  return encodePng(pic.rgb, pic.width, pic.height);
}

export interface OverlayImageOptions {
  /** The true mask (nonzero = on, or the value `maskLabel` of a label map). */
  mask?: string;
  /** The predicted mask (nonzero = on). */
  pred?: string;
  maskLabel?: number;
}

/**
 * overlayPng for an image and masks in any format readImageFile reads (PNG, JPEG, TIFF, BMP, GIF, DICOM),
 * each single-frame; a mask of another size than the image is an error naming both files.
 */
export async function overlayImagePng(image: string, o: OverlayImageOptions = {}): Promise<Buffer> {
  const d = await readImageFile(image, { frames: "refuse-multi" });
  const img = d.frames[0].image;
  const read = async (file: string, label?: number): Promise<Uint8Array> => {
    const m = await readMaskFile(file, label);
    checkMaskSize(m, file, img, `the image ${image}`);
    return m.mask;
  };
  const t = o.mask ? await read(o.mask, o.maskLabel) : null;
  const p = o.pred ? await read(o.pred) : null;
  return picture(img, t, p, stemOf(path.basename(image)));
}

/** Writes overlayImagePng's picture to `out` (atomically). */
export async function overlayImageFile(
  image: string,
  out: string,
  o: OverlayImageOptions = {},
): Promise<void> {
  writeFileAtomic(out, await overlayImagePng(image, o));
}

export interface OverlayFolderOptions {
  /** Folder of images in any format (searched below; files named like masks, X_mask.*, are left out). */
  images: string;
  /**
   * True masks: X_mask.* beside the images, or a folder of masks named as the images (X.* or X_mask.*),
   * matched by path below the folder, then by unique stem. Images without one are drawn without.
   */
  masks?: string;
  /** Predicted masks, matched the same way (`nerveseg predict`'s output folder gives its masks/). */
  preds?: string;
  maskLabel?: number;
  out: string;
  progress?: ProgressFactory;
}

/**
 * One overlay PNG per image of a folder (`<id>.png`, subfolders kept), staged: a bad file or an
 * interruption leaves `out` as it was.
 */
export async function overlayFolder(o: OverlayFolderOptions): Promise<{ written: number; withMask: number }> {
  if (!fs.statSync(o.images, { throwIfNoEntry: false })?.isDirectory())
    throw fileError(o.images, "not a folder (want a folder of images)");
  const images = listImageInputs([o.images]).files.map((f) => ({
    id: f.id.split(path.sep).join("/"),
    file: f.file,
  }));
  if (images.length === 0) throw fileError(o.images, "no images in this folder, only masks");
  const pairs = (dir: string | undefined): Map<string, string> => {
    const found = new Map<string, string>();
    if (!dir) return found;
    for (const [id, frames] of matchToImages(images, maskFolderItems(dir, o.images)).byImage) {
      const it = frames.get("");
      if (!it) throw new UserError(`${[...frames.values()][0].where}: a mask per frame is not drawn here`);
      found.set(id, it.value);
    }
    return found;
  };
  const masks = pairs(o.masks);
  const preds = pairs(o.preds);
  const stage = new StagedFolder(o.out);
  const bar = (o.progress ?? noProgress)("overlay", images.length);
  try {
    for (const [k, im] of images.entries()) {
      const png = await overlayImagePng(im.file, {
        mask: masks.get(im.id),
        pred: preds.get(im.id),
        maskLabel: o.maskLabel,
      });
      stage.write(`${im.id}.png`, png);
      bar.update(k + 1);
    }
    stage.commit();
  } finally {
    stage.abort();
    bar.stop();
  }
  return { written: images.length, withMask: masks.size };
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
