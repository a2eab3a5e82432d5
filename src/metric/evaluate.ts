/**
 * The Kaggle evaluation: load a truth set and a prediction CSV, score them (mean per-image Dice) and
 * count mask presence (TP/FP/FN/TN). Reusable by `evaluate`, `predict` and `tune`.
 */
import fs from "node:fs";
import path from "node:path";
import { UserError, fileError } from "../core/errors.js";
import { readCsv, csvLine } from "../io/csv.js";
import { compareIds } from "../io/ids.js";
import { encodeRle, parseRle, runsArea, runsIntersection } from "../io/rle.js";
import { readTiff } from "../io/tiff.js";
import { diceFromCounts } from "./dice.js";

/** Masks by image id (RLE text), with where each came from for error messages. */
export interface MaskSet {
  /** The CSV file or mask folder. */
  source: string;
  /** id → RLE, in the source's order. */
  masks: Map<string, string>;
  /** id → "file: line N" or the mask file's path. */
  where: Map<string, string>;
}

export interface ImageScore {
  id: string;
  dice: number;
  truthArea: number;
  predArea: number;
  intersection: number;
}

/** Presence of a (non-empty) mask: positive = the image has a nerve. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface Score {
  /** Mean per-image Dice (the Kaggle leaderboard score). */
  score: number;
  /** Images scored. */
  n: number;
  confusion: Confusion;
  perImage: ImageScore[];
}

/** Image id from a mask or image file name: "1_14_mask.tif" → "1_14", "7.tif" → "7". */
export function maskIdFromFile(file: string): string {
  return path
    .basename(file)
    .replace(/\.tiff?$/i, "")
    .replace(/_mask$/i, "");
}

/**
 * Loads masks from a Kaggle CSV: `subject,img,pixels` (ids "subject_img", as train_masks.csv) or
 * `img,pixels` (a submission). Checks ids (non-empty, unique) and every RLE against the image size.
 */
export function loadMaskCsv(file: string, width: number, height: number): MaskSet {
  const table = readCsv(file);
  const header = table.header.map((h) => h.toLowerCase()).join(",");
  const hasSubject = header === "subject,img,pixels";
  if (!hasSubject && header !== "img,pixels") {
    throw fileError(
      file,
      `header is "${table.header.join(",")}", expected "subject,img,pixels" or "img,pixels"`,
    );
  }
  const masks = new Map<string, string>();
  const where = new Map<string, string>();
  for (const { line, fields } of table.rows) {
    const loc = `${file}: line ${line}`;
    const idParts = hasSubject ? fields.slice(0, 2) : fields.slice(0, 1);
    for (const p of idParts) {
      if (!/^[^\s/\\]+$/.test(p)) throw new UserError(`${loc}: bad image id "${p}"`);
    }
    const id = idParts.join("_");
    const rle = fields[fields.length - 1]!;
    const first = where.get(id);
    if (first !== undefined) throw new UserError(`${loc}: duplicate image id ${id} (first at ${first})`);
    parseRle(rle, width, height, loc);
    masks.set(id, rle);
    where.set(id, loc);
  }
  return { source: file, masks, where };
}

/** Loads every `*_mask.tif` in a folder as RLE (ids from the file names), in natural id order. */
export function loadMaskDir(dir: string, width: number, height: number): MaskSet {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /_mask\.tiff?$/i.test(n));
  } catch (e) {
    throw fileError(dir, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (names.length === 0) throw fileError(dir, "no *_mask.tif files in this folder");
  const byId = names.map((n) => ({ id: maskIdFromFile(n), file: path.join(dir, n) }));
  byId.sort((a, b) => compareIds(a.id, b.id));
  const masks = new Map<string, string>();
  const where = new Map<string, string>();
  for (const { id, file } of byId) {
    if (masks.has(id)) throw fileError(file, `duplicate image id ${id} (also ${where.get(id)})`);
    const img = readTiff(file);
    if (img.width !== width || img.height !== height) {
      throw fileError(file, `mask is ${img.width}x${img.height}, expected ${width}x${height}`);
    }
    masks.set(id, encodeRle(img.data, width, height));
    where.set(id, file);
  }
  return { source: dir, masks, where };
}

/** Truth from a CSV (either Kaggle layout) or a folder of `*_mask.tif`. */
export function loadTruth(fileOrDir: string, width: number, height: number): MaskSet {
  const stat = fs.statSync(fileOrDir, { throwIfNoEntry: false });
  if (!stat) throw fileError(fileOrDir, "no such file or folder");
  return stat.isDirectory() ? loadMaskDir(fileOrDir, width, height) : loadMaskCsv(fileOrDir, width, height);
}

/** A prediction CSV (`img,pixels`; `subject,img,pixels` is accepted too). */
export function loadPredictionCsv(file: string, width: number, height: number): MaskSet {
  return loadMaskCsv(file, width, height);
}

export interface ScoreOptions {
  /** Score only the ids present in pred (truth may have more); by default both must hold the same ids. */
  subset?: boolean;
}

/**
 * Scores predictions against truth (both id → RLE). Ids in pred must all be in truth; unless `subset`,
 * every truth id must be predicted. Per-image results follow truth's order.
 */
export function scoreMasks(
  truth: Map<string, string>,
  pred: Map<string, string>,
  width: number,
  height: number,
  opts: ScoreOptions = {},
): Score {
  checkIds(
    { source: "truth", masks: truth, where: new Map() },
    { source: "pred", masks: pred, where: new Map() },
    opts,
  );
  const perImage: ImageScore[] = [];
  const confusion: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  let sum = 0;
  for (const [id, truthRle] of truth) {
    const predRle = pred.get(id);
    if (predRle === undefined) continue; // only with subset (checked above)
    const t = parseRle(truthRle, width, height, `truth ${id}`);
    const p = parseRle(predRle, width, height, `prediction ${id}`);
    const truthArea = runsArea(t);
    const predArea = runsArea(p);
    const intersection = runsIntersection(t, p);
    const d = diceFromCounts(intersection, truthArea, predArea);
    sum += d;
    perImage.push({ id, dice: d, truthArea, predArea, intersection });
    if (truthArea > 0) {
      if (predArea > 0) confusion.tp++;
      else confusion.fn++;
    } else if (predArea > 0) confusion.fp++;
    else confusion.tn++;
  }
  if (perImage.length === 0) throw new UserError("no images to score");
  return { score: sum / perImage.length, n: perImage.length, confusion, perImage };
}

/** Checks that pred's ids are in truth (and, unless subset, that truth's are all in pred). */
export function checkIds(truth: MaskSet, pred: MaskSet, opts: ScoreOptions = {}): void {
  for (const id of pred.masks.keys()) {
    if (!truth.masks.has(id)) {
      const at = pred.where.get(id) ?? pred.source;
      throw new UserError(`${at}: image id ${id} is not in the truth (${truth.source})`);
    }
  }
  if (opts.subset) return;
  const missing: string[] = [];
  for (const id of truth.masks.keys()) if (!pred.masks.has(id)) missing.push(id);
  if (missing.length > 0) {
    const first = missing[0]!;
    throw new UserError(
      `${pred.source}: ${missing.length} image id(s) of the truth are not predicted, e.g. ${first}` +
        ` (${truth.where.get(first) ?? truth.source}); use --subset to score only the predicted ids`,
    );
  }
}

/** Loads truth and predictions and scores them, with file/line locations in every error. */
export function evaluateFiles(
  truthPath: string,
  predFile: string,
  width: number,
  height: number,
  opts: ScoreOptions = {},
): Score {
  const truth = loadTruth(truthPath, width, height);
  const pred = loadPredictionCsv(predFile, width, height);
  checkIds(truth, pred, opts);
  return scoreMasks(truth.masks, pred.masks, width, height, opts);
}

/** Precision, recall and accuracy of mask presence (NaN-free: 0 when undefined). */
export function presenceRates(c: Confusion): { precision: number; recall: number; accuracy: number } {
  const total = c.tp + c.fp + c.fn + c.tn;
  return {
    precision: c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0,
    recall: c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0,
    accuracy: total > 0 ? (c.tp + c.tn) / total : 0,
  };
}

/** The per-image table as CSV: img,dice,truth_px,pred_px,intersection_px. */
export function perImageCsv(score: Score): string {
  let s = csvLine(["img", "dice", "truth_px", "pred_px", "intersection_px"]);
  for (const r of score.perImage) s += csvLine([r.id, r.dice, r.truthArea, r.predArea, r.intersection]);
  return s;
}

/** The summary and per-image table as JSON. */
export function scoreJson(score: Score, withPerImage: boolean): string {
  const summary = {
    score: score.score,
    n: score.n,
    confusion: score.confusion,
    ...presenceRates(score.confusion),
  };
  return JSON.stringify(withPerImage ? { ...summary, perImage: score.perImage } : summary, null, 2) + "\n";
}
