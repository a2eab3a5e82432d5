/*
 * Evaluation on any data set: truth as masks in any layout (src/data/layout.ts), predictions as a mask
 * folder (what `nerveseg predict` writes: masks/<id>.png) or a predictions CSV (id,...,width,height,...,
 * pixels: Kaggle RLE at each image's own size). Masks are read one image at a time.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { readCsv } from "../io/csv.js";
import { maskFromDecoded, readImageFile } from "../io/image-read.js";
import { decodeRle } from "../io/rle.js";
import { SegScoreAccumulator, type SegScore } from "./segmentation-score.js";
import { listImageInputs } from "../data/inputs.js";
import { DEFAULT_MASK_SUFFIXES, maskBase, scanLayout, type LayoutOptions } from "../data/layout.js";

export interface EvaluateLayoutOptions {
  /** The labelled data set (any layout) or a CSV of image,mask[,group]. */
  truth: string;
  layout?: LayoutOptions;
  maskLabel?: number;
  /** Predictions: a folder (with predictions.csv, or masks/, or mask images) or a predictions CSV. */
  pred: string;
  /** Score only the predicted images (the truth may hold more). */
  subset?: boolean;
  onProgress?: (done: number, total: number) => void;
}

type PredMask = (width: number, height: number) => Promise<Uint8Array>;

/** Predicted masks by id, read lazily. */
function predictionSource(pred: string): { where: string; masks: Map<string, PredMask> } {
  if (!fs.existsSync(pred)) throw fileError(pred, "not found");
  const dir = fs.statSync(pred).isDirectory() ? pred : null;
  const csv = dir ? path.join(dir, "predictions.csv") : pred;
  if (!dir || fs.existsSync(csv)) return { where: csv, masks: csvMasks(csv) };
  const maskDir = fs.existsSync(path.join(dir, "masks")) ? path.join(dir, "masks") : dir;
  const masks = new Map<string, PredMask>();
  for (const { id, file } of listImageInputs([maskDir], []).files) {
    const base = maskBase(path.basename(id), DEFAULT_MASK_SUFFIXES);
    const key = base === null ? id : path.join(path.dirname(id), base);
    masks.set(key, async (width, height) => {
      const d = await readImageFile(file, { frames: "refuse-multi" });
      const f = d.frames[0];
      if (f.image.width !== width || f.image.height !== height)
        throw fileError(
          file,
          `predicted mask is ${f.image.width}x${f.image.height}, the truth ${width}x${height}`,
        );
      return maskFromDecoded(d, f);
    });
  }
  return { where: maskDir, masks };
}

function csvMasks(file: string): Map<string, PredMask> {
  const table = readCsv(file);
  const col = (n: string) => table.header.indexOf(n);
  const [ci, cw, ch, cp] = [col("id"), col("width"), col("height"), col("pixels")];
  if (ci < 0 || cw < 0 || ch < 0 || cp < 0)
    throw fileError(file, `needs the columns id,width,height,pixels (as \`nerveseg predict\` writes them)`);
  const masks = new Map<string, PredMask>();
  for (const row of table.rows) {
    const id = row.fields[ci];
    if (masks.has(id)) throw fileError(file, `line ${row.line}: duplicate id ${id}`);
    const [w, h, rle] = [Number(row.fields[cw]), Number(row.fields[ch]), row.fields[cp]];
    masks.set(id, async (width, height) => {
      if (w !== width || h !== height)
        throw fileError(file, `line ${row.line}: ${id} is ${w}x${h}, the truth ${width}x${height}`);
      return decodeRle(rle, w, h, `${file}: line ${row.line}`);
    });
  }
  return masks;
}

/** Scores predictions against the truth of a data set in any layout; see SegScore for what is reported. */
export async function evaluateLayout(o: EvaluateLayoutOptions): Promise<SegScore> {
  const truth = scanLayout(o.truth, o.layout);
  for (const p of truth.problems) throw fileError(p.file, p.reason);
  const { where, masks } = predictionSource(o.pred);
  const truthIds = new Set(truth.train.map((e) => e.id));
  for (const id of masks.keys())
    if (!truthIds.has(id)) throw fileError(where, `predicted id "${id}" is not in the truth (${o.truth})`);
  const scored = o.subset ? truth.train.filter((e) => masks.has(e.id)) : truth.train;
  const missing = scored.filter((e) => !masks.has(e.id));
  if (missing.length > 0)
    throw new UserError(
      `${where}: ${missing.length} image(s) of the truth are not predicted, e.g. ${missing[0].id} (${missing[0].image}); use --subset to score only the predicted ones`,
    );
  if (scored.length === 0) throw new UserError(`${where}: no predicted image is in the truth`);
  const acc = new SegScoreAccumulator();
  for (let i = 0; i < scored.length; i++) {
    const e = scored[i];
    // The truth's size is its masks' (checked against each other); an image without masks is read for it.
    const decoded = await Promise.all(e.masks.map((file) => readImageFile(file, { frames: "refuse-multi" })));
    const size =
      decoded[0]?.frames[0].image ?? (await readImageFile(e.image, { frames: "first" })).frames[0].image;
    const { width, height } = size;
    const t = new Uint8Array(width * height);
    for (const d of decoded) {
      const f = d.frames[0];
      if (f.image.width !== width || f.image.height !== height)
        throw fileError(
          d.file,
          `mask is ${f.image.width}x${f.image.height}, another mask of ${e.image} ${width}x${height}`,
        );
      const m = maskFromDecoded(d, f, { label: o.maskLabel });
      for (let k = 0; k < t.length; k++) t[k] |= m[k];
    }
    acc.add(e.id, e.group, t, await masks.get(e.id)!(width, height));
    o.onProgress?.(i + 1, scored.length);
  }
  return acc.result();
}
