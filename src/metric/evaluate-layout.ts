/*
 * Evaluation on any data set: truth as masks in any layout (src/data/layout.ts), predictions as a mask
 * folder (what `nerveseg predict` writes: masks/<id>.png) or a predictions CSV (id,...,width,height,...,
 * pixels: Kaggle RLE at each image's own size). Masks are read one image at a time.
 *
 * Predictions find their truth image by path, then by name (matchPredictions), so the ids of listed files
 * (`nerveseg predict a/x.png` gives the id "x") meet a truth that keeps its subfolders ("a/x").
 * Distances are in millimetres when the pixel spacing is known (--spacing, a CSV layout's spacing_mm
 * column, or the truth image's DICOM Pixel Spacing), else in pixels.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { readCsv } from "../io/csv.js";
import { isDicom } from "../io/dicom.js";
import { maskFromDecoded, readImageFile, type DecodedFile, type PixelSpacing } from "../io/image-read.js";
import { decodeRle } from "../io/rle.js";
import { SegScoreAccumulator, type SegScore } from "./segmentation-score.js";
import { isValidSpacing, parseSpacing } from "./surface-distance.js";
import { listImageInputs } from "../data/inputs.js";
import {
  DEFAULT_MASK_SUFFIXES,
  maskBase,
  scanLayout,
  stemOf,
  type LayoutEntry,
  type LayoutOptions,
} from "../data/layout.js";

export interface EvaluateLayoutOptions {
  /** The labelled data set (any layout) or a CSV of image,mask[,group[,spacing_mm]]. */
  truth: string;
  layout?: LayoutOptions;
  maskLabel?: number;
  /** Predictions: a folder (with predictions.csv, or masks/, or mask images) or a predictions CSV. */
  pred: string;
  /** Score only the predicted images (the truth may hold more). */
  subset?: boolean;
  /**
   * mm per pixel for every image (row, column), over any spacing the truth carries; absent: the CSV's
   * spacing_mm column or the truth images' DICOM Pixel Spacing, else distances in pixels.
   */
  spacing?: PixelSpacing;
  onProgress?: (done: number, total: number) => void;
}

type PredMask = (width: number, height: number) => Promise<Uint8Array>;

/** A prediction: its id, the image it was predicted from when known, where it is (for messages). */
export interface PredictionRef {
  id: string;
  /** The predicted image's path as `nerveseg predict` wrote it (predictions.csv's file column), or null. */
  file: string | null;
  where: string;
}

interface Prediction extends PredictionRef {
  read: PredMask;
}

/** Predicted masks, read lazily. */
function predictionSource(pred: string): { where: string; preds: Prediction[] } {
  if (!fs.existsSync(pred)) throw fileError(pred, "not found");
  const dir = fs.statSync(pred).isDirectory() ? pred : null;
  const csv = dir ? path.join(dir, "predictions.csv") : pred;
  if (!dir || fs.existsSync(csv)) return { where: csv, preds: csvPredictions(csv) };
  const maskDir = fs.existsSync(path.join(dir, "masks")) ? path.join(dir, "masks") : dir;
  const preds: Prediction[] = [];
  for (const { id, file } of listImageInputs([maskDir], []).files) {
    const base = maskBase(path.basename(id), DEFAULT_MASK_SUFFIXES);
    const key = base === null ? id : path.join(path.dirname(id), base);
    preds.push({
      id: key,
      file: null,
      where: file,
      read: async (width, height) => {
        const d = await readImageFile(file, { frames: "refuse-multi" });
        const f = d.frames[0];
        if (f.image.width !== width || f.image.height !== height)
          throw fileError(
            file,
            `predicted mask is ${f.image.width}x${f.image.height}, the truth ${width}x${height}`,
          );
        return maskFromDecoded(d, f);
      },
    });
  }
  return { where: maskDir, preds };
}

function csvPredictions(file: string): Prediction[] {
  const table = readCsv(file);
  const col = (n: string) => table.header.indexOf(n);
  const [ci, cf, cw, ch, cp] = [col("id"), col("file"), col("width"), col("height"), col("pixels")];
  if (ci < 0 || cw < 0 || ch < 0 || cp < 0)
    throw fileError(file, `needs the columns id,width,height,pixels (as \`nerveseg predict\` writes them)`);
  const seen = new Set<string>();
  const preds: Prediction[] = [];
  for (const row of table.rows) {
    const id = row.fields[ci];
    if (seen.has(id)) throw fileError(file, `line ${row.line}: duplicate id ${id}`);
    seen.add(id);
    const [w, h, rle] = [Number(row.fields[cw]), Number(row.fields[ch]), row.fields[cp]];
    preds.push({
      id,
      file: cf >= 0 && row.fields[cf] !== "" ? row.fields[cf] : null,
      where: `${file}: line ${row.line}`,
      read: async (width, height) => {
        if (w !== width || h !== height)
          throw fileError(file, `line ${row.line}: ${id} is ${w}x${h}, the truth ${width}x${height}`);
        return decodeRle(rle, w, h, `${file}: line ${row.line}`);
      },
    });
  }
  return preds;
}

const parts = (p: string): string[] => p.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");

/** How many trailing path components two paths share. */
function sharedTail(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
  return n;
}

/**
 * Which truth image each prediction is of (truth id → index into `preds`):
 * 1. the image it was predicted from (predictions.csv's file column) is the truth image itself;
 * 2. else the truth id sharing the longest tail of path components with the prediction's id, or with its
 *    file without extension (`a/benign (1)` meets `benign/a/benign (1)` by two components); between equal
 *    tails, the truth id the tail covers whole wins (`x` over `sub/x` for the id `x`);
 * so a relative path decides first and a unique stem (one component) last. A stem that two truth images
 * share with no path to decide between them is an error naming both; so are a prediction that matches
 * nothing and two predictions of one truth image.
 */
export function matchPredictions(
  truth: readonly { id: string; image: string }[],
  preds: readonly PredictionRef[],
  truthWhere: string,
): Map<string, number> {
  const byImage = new Map(truth.map((t) => [path.resolve(t.image), t]));
  const byStem = new Map<string, { id: string; image: string; parts: string[] }[]>();
  for (const t of truth) {
    const p = parts(t.id);
    const stem = p[p.length - 1] ?? "";
    byStem.set(stem, [...(byStem.get(stem) ?? []), { ...t, parts: p }]);
  }
  const matched = new Map<string, number>();
  preds.forEach((pred, k) => {
    let hit = pred.file === null ? undefined : byImage.get(path.resolve(pred.file));
    if (hit === undefined) {
      const idParts = parts(pred.id);
      const stem = idParts[idParts.length - 1] ?? "";
      const keys = [idParts];
      // The file speaks for the id only when they name the same thing (not for frame k of a cine, "x#k").
      if (pred.file !== null && path.basename(stemOf(pred.file)) === stem)
        keys.push(parts(stemOf(pred.file)));
      let best: { id: string; image: string; tail: number; whole: boolean }[] = [];
      for (const t of byStem.get(stem) ?? []) {
        const tail = Math.max(...keys.map((key) => sharedTail(key, t.parts)));
        const whole = keys.some((key) => sharedTail(key, t.parts) === t.parts.length);
        const b = best[0];
        if (b === undefined || tail > b.tail || (tail === b.tail && whole && !b.whole))
          best = [{ ...t, tail, whole }];
        else if (tail === b.tail && whole === b.whole) best.push({ ...t, tail, whole });
      }
      if (best.length === 0)
        throw fileError(pred.where, `predicted id "${pred.id}" is not in the truth (${truthWhere})`);
      if (best.length > 1)
        throw fileError(
          pred.where,
          `predicted id "${pred.id}" is ambiguous: truth images ${best[0].image} and ${best[1].image} share its name and no folder decides (predict them by folder: the ids keep it)`,
        );
      hit = best[0];
    }
    const other = matched.get(hit.id);
    if (other !== undefined)
      throw fileError(
        pred.where,
        `predicted id "${pred.id}" and "${preds[other].id}" (${preds[other].where}) both are of ${hit.image}`,
      );
    matched.set(hit.id, k);
  });
  return matched;
}

/** Whether a file holds DICOM (the "DICM" marker at offset 128): only those carry a pixel spacing. */
function isDicomFile(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const head = new Uint8Array(132);
    return fs.readSync(fd, head, 0, 132, 0) === 132 && isDicom(head);
  } catch {
    return false; // unreadable: reading it as an image, if needed, names the problem
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A CSV layout's spacing_mm column, by resolved image path (empty cells left out). */
function csvSpacings(file: string): Map<string, PixelSpacing> {
  const table = readCsv(file);
  const col = (name: string): number => table.header.findIndex((h) => h.toLowerCase() === name);
  const [ci, cs] = [col("image"), col("spacing_mm")];
  const out = new Map<string, { spacing: PixelSpacing; line: number }>();
  if (ci < 0 || cs < 0) return new Map();
  for (const row of table.rows) {
    const text = row.fields[cs];
    if (text === "") continue;
    const spacing = parseSpacing(text);
    if (spacing === null)
      throw fileError(
        file,
        `line ${row.line}: spacing_mm "${text}" is not a positive number of mm per pixel (or row,column)`,
      );
    const image = path.resolve(path.dirname(file), row.fields[ci]);
    const before = out.get(image);
    if (before && (before.spacing.row !== spacing.row || before.spacing.col !== spacing.col))
      throw fileError(
        file,
        `line ${row.line}: spacing_mm ${text} differs from line ${before.line} for the same image`,
      );
    out.set(image, { spacing, line: row.line });
  }
  return new Map([...out].map(([image, s]) => [image, s.spacing]));
}

/** A truth image's spacing from a DICOM file (the image, else one of its masks) when there is one. */
async function dicomSpacing(e: LayoutEntry, masks: readonly DecodedFile[]): Promise<PixelSpacing | null> {
  const from = isDicomFile(e.image)
    ? await readImageFile(e.image, { frames: "first" })
    : masks.find((m) => m.pixelSpacing !== undefined);
  if (!from?.pixelSpacing) return null;
  if (!isValidSpacing(from.pixelSpacing))
    throw fileError(
      from.file,
      `Pixel Spacing (0028,0030) is not two positive numbers (${from.pixelSpacing.row}\\${from.pixelSpacing.col}); give --spacing`,
    );
  return from.pixelSpacing;
}

/** Scores predictions against the truth of a data set in any layout; see SegScore for what is reported. */
export async function evaluateLayout(o: EvaluateLayoutOptions): Promise<SegScore> {
  if (o.spacing && !isValidSpacing(o.spacing))
    throw new UserError(`spacing ${o.spacing.row},${o.spacing.col}: want positive mm per pixel`);
  const truth = scanLayout(o.truth, o.layout);
  for (const p of truth.problems) throw fileError(p.file, p.reason);
  const { where, preds } = predictionSource(o.pred);
  const matched = matchPredictions(truth.train, preds, o.truth);
  const scored = o.subset ? truth.train.filter((e) => matched.has(e.id)) : truth.train;
  const missing = scored.filter((e) => !matched.has(e.id));
  if (missing.length > 0)
    throw new UserError(
      `${where}: ${missing.length} image(s) of the truth are not predicted, e.g. ${missing[0].id} (${missing[0].image}); use --subset to score only the predicted ones`,
    );
  if (scored.length === 0) throw new UserError(`${where}: no predicted image is in the truth`);
  const fromCsv =
    o.spacing || truth.layout !== "csv" ? new Map<string, PixelSpacing>() : csvSpacings(o.truth);
  // Distances of one score share a unit: an image without a spacing among images with one is an error.
  let firstSpaced: { image: string; known: boolean } | null = null;
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
    const spacing = o.spacing ?? fromCsv.get(path.resolve(e.image)) ?? (await dicomSpacing(e, decoded));
    if (firstSpaced === null) firstSpaced = { image: e.image, known: spacing !== null };
    else if (firstSpaced.known !== (spacing !== null))
      throw fileError(
        spacing === null ? e.image : firstSpaced.image,
        `no pixel spacing, while ${spacing === null ? firstSpaced.image : e.image} has one (DICOM Pixel Spacing or the CSV's spacing_mm): give --spacing so that all distances share a unit`,
      );
    const pred = await preds[matched.get(e.id)!].read(width, height);
    acc.add(e.id, e.group, t, pred, { width, height, spacing });
    o.onProgress?.(i + 1, scored.length);
  }
  return acc.result();
}
