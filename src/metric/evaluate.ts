/**
 * The Kaggle evaluation: a truth set and a prediction CSV (io/mask-set.ts reads them), scored (mean per-image Dice) and
 * count mask presence (TP/FP/FN/TN). Reusable by `evaluate`, `predict` and `tune`.
 */
import fs from "node:fs";
import { UserError } from "../core/errors.js";
import { csvLine } from "../io/csv.js";
import { loadPredictionCsv, loadTruth, type MaskSet } from "../io/mask-set.js";
import { parseRle, runsArea, runsIntersection, runsToMask } from "../io/rle.js";
import { diceFromCounts } from "./dice.js";
import {
  boundaryDistances,
  summarizeBoundary,
  type BoundarySummary,
  type DistanceUnit,
  type PixelSpacing,
} from "./surface-distance.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "../io/read-file.js";

export interface ImageScore {
  id: string;
  dice: number;
  truthArea: number;
  predArea: number;
  intersection: number;
  /** HD95 and ASSD (with ScoreOptions.boundary; null where a side is empty). */
  hd95?: number | null;
  assd?: number | null;
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
  /** Boundary distances over the images (with ScoreOptions.boundary). */
  boundary?: BoundarySummary & { distanceUnit: DistanceUnit };
}

export interface ScoreOptions {
  /** Score only the ids present in pred (truth may have more); by default both must hold the same ids. */
  subset?: boolean;
  /**
   * Also measure HD95 and ASSD (surface-distance.ts), in mm with a spacing, else in pixels: the masks of
   * images where both sides are non-empty are decoded for it.
   */
  boundary?: { spacing: PixelSpacing | null };
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
    const row: ImageScore = { id, dice: d, truthArea, predArea, intersection };
    if (opts.boundary) {
      // Only images with both sides non-empty have distances: the others are not decoded.
      const b =
        truthArea > 0 && predArea > 0
          ? boundaryDistances(runsToMask(t, width, height), runsToMask(p, width, height), {
              width,
              height,
              spacing: opts.boundary.spacing,
            })
          : null;
      row.hd95 = b?.kind === "measured" ? b.hd95 : null;
      row.assd = b?.kind === "measured" ? b.assd : null;
    }
    perImage.push(row);
    if (truthArea > 0) {
      if (predArea > 0) confusion.tp++;
      else confusion.fn++;
    } else if (predArea > 0) confusion.fp++;
    else confusion.tn++;
  }
  if (perImage.length === 0) throw new UserError("no images to score");
  const score: Score = { score: sum / perImage.length, n: perImage.length, confusion, perImage };
  if (opts.boundary)
    score.boundary = {
      distanceUnit: opts.boundary.spacing ? "mm" : "px",
      ...summarizeBoundary(perImage),
    };
  return score;
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

/**
 * The per-image table as CSV: img,dice,truth_px,pred_px,intersection_px, then hd95_<unit>,assd_<unit>
 * when the boundary was measured (empty where a side is empty).
 */
export function perImageCsv(score: Score): string {
  const u = score.boundary?.distanceUnit;
  const distance = (v: number | null | undefined): (string | number)[] => (u === undefined ? [] : [v ?? ""]);
  let s = csvLine([
    "img",
    "dice",
    "truth_px",
    "pred_px",
    "intersection_px",
    ...(u ? [`hd95_${u}`, `assd_${u}`] : []),
  ]);
  for (const r of score.perImage)
    s += csvLine([
      r.id,
      r.dice,
      r.truthArea,
      r.predArea,
      r.intersection,
      ...distance(r.hd95),
      ...distance(r.assd),
    ]);
  return s;
}

/** The summary and per-image table as JSON. */
export function scoreJson(score: Score, withPerImage: boolean): string {
  const summary = {
    score: score.score,
    n: score.n,
    confusion: score.confusion,
    ...presenceRates(score.confusion),
    ...(score.boundary ? { boundary: score.boundary } : {}),
  };
  return JSON.stringify(withPerImage ? { ...summary, perImage: score.perImage } : summary, null, 2) + "\n";
}

/** Kaggle files: a truth CSV or *_mask.tif folder scored against an img,pixels submission CSV. */
export function isKagglePair(truth: string, pred: string): boolean {
  if (!/\.csv$/i.test(pred) || !fs.existsSync(pred) || !fs.statSync(pred).isFile()) return false;
  const header = readRegularFileSync(pred, TEXT_FILE_LIMIT)
    .toString("utf8")
    .slice(0, 200)
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)[0]
    .toLowerCase();
  if (header !== "img,pixels" && header !== "subject,img,pixels") return false;
  return (
    fs.existsSync(truth) &&
    (fs.statSync(truth).isFile() || fs.readdirSync(truth).some((n) => /_mask\.tiff?$/i.test(n)))
  );
}
