/*
 * Scores of binary segmentations for any data set, accumulated one image at a time (masks are not kept):
 * - the Kaggle score: mean Dice over all images, 1 when truth and prediction are both empty;
 * - mean Dice and mean IoU over the images that have a target (what papers on lesions and nerves report);
 * - presence of a target (TP/FP/FN/TN);
 * - the same per group (subject, patient, case), so a bad subject shows.
 */
import { csvLine } from "../io/csv.js";
import { diceFromCounts, maskCounts } from "./dice.js";
import type { Confusion } from "./evaluate.js";

export interface SegImageScore {
  id: string;
  group: string;
  dice: number;
  iou: number;
  truthArea: number;
  predArea: number;
  intersection: number;
}

export interface SegSummary {
  images: number;
  /** Images with a non-empty truth. */
  withTarget: number;
  /** Mean Dice over all images, empty vs empty = 1 (the Kaggle leaderboard score). */
  kaggle: number;
  /** Mean Dice over images with a target (NaN when none has one). */
  dice: number;
  /** Mean IoU over images with a target. */
  iou: number;
  confusion: Confusion;
}

export interface SegScore extends SegSummary {
  perGroup: ({ group: string } & SegSummary)[];
  perImage: SegImageScore[];
}

/** IoU from counts: 1 when both are empty. */
export function iouFromCounts(intersection: number, a: number, b: number): number {
  const union = a + b - intersection;
  return union === 0 ? 1 : intersection / union;
}

function summarize(rows: readonly SegImageScore[]): SegSummary {
  const confusion: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  let kaggle = 0;
  let dice = 0;
  let iou = 0;
  let withTarget = 0;
  for (const r of rows) {
    kaggle += r.dice;
    if (r.truthArea > 0) {
      withTarget++;
      dice += r.dice;
      iou += r.iou;
      if (r.predArea > 0) confusion.tp++;
      else confusion.fn++;
    } else if (r.predArea > 0) confusion.fp++;
    else confusion.tn++;
  }
  return {
    images: rows.length,
    withTarget,
    kaggle: rows.length ? kaggle / rows.length : NaN,
    dice: withTarget ? dice / withTarget : NaN,
    iou: withTarget ? iou / withTarget : NaN,
    confusion,
  };
}

/** Collects per-image counts; `add` takes two masks of one size (nonzero = on). */
export class SegScoreAccumulator {
  private readonly rows: SegImageScore[] = [];

  add(id: string, group: string, truth: Uint8Array, pred: Uint8Array): SegImageScore {
    if (truth.length !== pred.length)
      throw new Error(`${id}: truth has ${truth.length} pixels, prediction ${pred.length}`);
    const { areaA: truthArea, areaB: predArea, intersection } = maskCounts(truth, pred);
    const row: SegImageScore = {
      id,
      group,
      dice: diceFromCounts(intersection, truthArea, predArea),
      iou: iouFromCounts(intersection, truthArea, predArea),
      truthArea,
      predArea,
      intersection,
    };
    this.rows.push(row);
    return row;
  }

  result(): SegScore {
    const groups = [...new Set(this.rows.map((r) => r.group))];
    return {
      ...summarize(this.rows),
      perGroup: groups.map((group) => ({ group, ...summarize(this.rows.filter((r) => r.group === group)) })),
      perImage: [...this.rows],
    };
  }
}

/** The per-image table of an any-layout evaluation, as CSV. */
export function segPerImageCsv(s: SegScore): string {
  let out = csvLine(["id", "group", "dice", "iou", "truth_px", "pred_px", "intersection_px"]);
  for (const r of s.perImage)
    out += csvLine([r.id, r.group, r.dice, r.iou, r.truthArea, r.predArea, r.intersection]);
  return out;
}
