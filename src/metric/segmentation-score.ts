/*
 * Scores of binary segmentations for any data set, accumulated one image at a time (masks are not kept):
 * - the Kaggle score: mean Dice over all images, 1 when truth and prediction are both empty;
 * - mean Dice and mean IoU over the images that have a target (what papers on lesions and nerves report);
 * - presence of a target (TP/FP/FN/TN);
 * - boundary distances HD95 and ASSD (surface-distance.ts) per image, their mean and median over the images
 *   where truth and prediction are both non-empty, and how many images had exactly one side empty (there
 *   the distances are undefined: counted apart, never Infinity in a mean);
 * - the same per group (subject, patient, case), so a bad subject shows.
 */
import { csvLine } from "../io/csv.js";
import { diceFromCounts, maskCounts } from "./dice.js";
import type { Confusion } from "./evaluate.js";
import {
  boundaryDistances,
  summarizeBoundary,
  type BoundarySummary,
  type DistanceUnit,
  type MaskGeometry,
} from "./surface-distance.js";

export type { DistanceUnit } from "./surface-distance.js";

export interface SegImageScore {
  id: string;
  group: string;
  dice: number;
  iou: number;
  truthArea: number;
  predArea: number;
  intersection: number;
  /** HD95 and ASSD in the score's unit; null when not measured (a side empty, or no geometry given). */
  hd95: number | null;
  assd: number | null;
}

export interface SegSummary extends BoundarySummary {
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
  distanceUnit: DistanceUnit;
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
    ...summarizeBoundary(rows),
  };
}

/**
 * Collects per-image scores. `add` takes two masks of one size (nonzero = on) and, to measure HD95 and
 * ASSD, their geometry (size, and the pixel spacing when known: then distances are in mm). Images with and
 * without a spacing cannot be mixed in one score: their distances would not share a unit.
 */
export class SegScoreAccumulator {
  private readonly rows: SegImageScore[] = [];
  private unit: DistanceUnit | null = null;

  add(
    id: string,
    group: string,
    truth: Uint8Array,
    pred: Uint8Array,
    geometry?: MaskGeometry,
  ): SegImageScore {
    if (truth.length !== pred.length)
      throw new Error(`${id}: truth has ${truth.length} pixels, prediction ${pred.length}`);
    const { areaA: truthArea, areaB: predArea, intersection } = maskCounts(truth, pred);
    let hd95: number | null = null;
    let assd: number | null = null;
    if (geometry) {
      const unit: DistanceUnit = geometry.spacing ? "mm" : "px";
      if (this.unit !== null && unit !== this.unit)
        throw new Error(`${id}: distances in ${unit} among images measured in ${this.unit}`);
      this.unit = unit;
      const b = boundaryDistances(truth, pred, geometry);
      if (b.kind === "measured") ({ hd95, assd } = b);
    }
    const row: SegImageScore = {
      id,
      group,
      dice: diceFromCounts(intersection, truthArea, predArea),
      iou: iouFromCounts(intersection, truthArea, predArea),
      truthArea,
      predArea,
      intersection,
      hd95,
      assd,
    };
    this.rows.push(row);
    return row;
  }

  result(): SegScore {
    const groups = [...new Set(this.rows.map((r) => r.group))];
    return {
      ...summarize(this.rows),
      distanceUnit: this.unit ?? "px",
      perGroup: groups.map((group) => ({ group, ...summarize(this.rows.filter((r) => r.group === group)) })),
      perImage: [...this.rows],
    };
  }
}

const cell = (v: number | null): string | number => (v === null || Number.isNaN(v) ? "" : v);

/** The per-image table of an any-layout evaluation, as CSV; distances carry their unit in the column name. */
export function segPerImageCsv(s: SegScore): string {
  const u = s.distanceUnit;
  let out = csvLine([
    "id",
    "group",
    "dice",
    "iou",
    "truth_px",
    "pred_px",
    "intersection_px",
    `hd95_${u}`,
    `assd_${u}`,
  ]);
  for (const r of s.perImage)
    out += csvLine([
      r.id,
      r.group,
      r.dice,
      r.iou,
      r.truthArea,
      r.predArea,
      r.intersection,
      cell(r.hd95),
      cell(r.assd),
    ]);
  return out;
}

/** The per-group table as CSV: every group, with its scores and boundary distances (empty when none). */
export function segPerGroupCsv(s: SegScore): string {
  const u = s.distanceUnit;
  let out = csvLine([
    "group",
    "images",
    "with_target",
    "dice",
    "iou",
    "kaggle",
    "boundary_images",
    "one_side_empty",
    `hd95_mean_${u}`,
    `hd95_median_${u}`,
    `assd_mean_${u}`,
    `assd_median_${u}`,
  ]);
  for (const g of s.perGroup)
    out += csvLine([
      g.group,
      g.images,
      g.withTarget,
      cell(g.dice),
      cell(g.iou),
      cell(g.kaggle),
      g.boundaryImages,
      g.oneSideEmpty,
      cell(g.hd95Mean),
      cell(g.hd95Median),
      cell(g.assdMean),
      cell(g.assdMedian),
    ]);
  return out;
}
