import { InvalidArgumentError, type Command } from "commander";
import {
  evaluateFiles,
  isKagglePair,
  evaluateLayout,
  KAGGLE_HEIGHT,
  KAGGLE_WIDTH,
  parseSpacing,
  perImageCsv,
  presenceRates,
  scoreJson,
  segPerGroupCsv,
  segPerImageCsv,
  UserError,
  writeFileAtomic,
  type BoundarySummary,
  type DistanceUnit,
  type PixelSpacing,
  type Score,
  type SegScore,
} from "../../index.js";
import { intOption } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";

/** Beyond this many groups the printed table shows only the worst ones (every group: --out-groups). */
export const GROUP_TABLE_MAX = 30;
export const GROUP_TABLE_WORST = 10;

const f4 = (x: number): string => (Number.isNaN(x) ? "-" : x.toFixed(4));
const f2 = (x: number): string => (Number.isNaN(x) ? "-" : x.toFixed(2));

/** The boundary line: HD95 and ASSD with their unit, over the images where both masks are non-empty. */
function boundaryLine(b: BoundarySummary, unit: DistanceUnit): string {
  const empty = b.oneSideEmpty > 0 ? `; ${b.oneSideEmpty} image(s) with one side empty, not measured` : "";
  if (b.boundaryImages === 0) return `  HD95, ASSD: no image with both masks non-empty${empty}\n`;
  return (
    `  HD95 mean ${f2(b.hd95Mean)} ${unit}, median ${f2(b.hd95Median)} ${unit}   ASSD mean ${f2(b.assdMean)} ${unit}, median ${f2(b.assdMedian)} ${unit}` +
    `   (over ${b.boundaryImages} image(s) with both masks non-empty${empty})\n`
  );
}

/** The human-readable summary printed by `evaluate`. */
export function scoreSummary(s: Score): string {
  const c = s.confusion;
  const r = presenceRates(c);
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return (
    `score ${s.score.toFixed(5)} (mean Dice over ${s.n} images)\n` +
    `presence (mask non-empty): TP ${c.tp}  FP ${c.fp}  FN ${c.fn}  TN ${c.tn}` +
    `  (precision ${pct(r.precision)}, recall ${pct(r.recall)}, accuracy ${pct(r.accuracy)})\n` +
    (s.boundary ? boundaryLine(s.boundary, s.boundary.distanceUnit).slice(2) : "")
  );
}

/**
 * The any-layout report: the scores, presence, boundary distances, and a line per group; beyond
 * GROUP_TABLE_MAX groups only the GROUP_TABLE_WORST worst by Dice (groups without a target last).
 */
export function segScoreSummary(s: SegScore): string {
  const c = s.confusion;
  let out =
    `${s.images} images, ${s.withTarget} with a target\n` +
    `  mean Dice (images with a target) ${f4(s.dice)}   mean IoU ${f4(s.iou)}   Kaggle score (empty vs empty = 1) ${f4(s.kaggle)}\n` +
    `  presence: TP ${c.tp}  FP ${c.fp}  FN ${c.fn}  TN ${c.tn}\n` +
    boundaryLine(s, s.distanceUnit);
  if (s.perGroup.length > 1) {
    const many = s.perGroup.length > GROUP_TABLE_MAX;
    const rows = many
      ? [...s.perGroup]
          .sort((a, b) => nanLast(a.dice, b.dice) || nanLast(a.kaggle, b.kaggle))
          .slice(0, GROUP_TABLE_WORST)
      : s.perGroup;
    const u = s.distanceUnit;
    out += `  ${"group".padEnd(16)} ${"images".padStart(6)} ${"target".padStart(6)} ${"Dice".padStart(7)} ${"IoU".padStart(7)} ${"Kaggle".padStart(7)} ${`HD95 ${u}`.padStart(8)} ${`ASSD ${u}`.padStart(8)}\n`;
    for (const g of rows)
      out += `  ${g.group.slice(0, 16).padEnd(16)} ${String(g.images).padStart(6)} ${String(g.withTarget).padStart(6)} ${f4(g.dice).padStart(7)} ${f4(g.iou).padStart(7)} ${f4(g.kaggle).padStart(7)} ${f2(g.hd95Mean).padStart(8)} ${f2(g.assdMean).padStart(8)}\n`;
    if (many)
      out += `  (the ${GROUP_TABLE_WORST} worst of ${s.perGroup.length} groups by Dice; every group: --out-groups FILE.csv, or perGroup in --out FILE.json)\n`;
  }
  return out;
}

/** Ascending, NaN (no target in the group) after every number. */
function nanLast(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a - b;
}

/** --spacing: mm per pixel, one value or row,column. */
function spacingOption(v: string): PixelSpacing {
  const s = parseSpacing(v);
  if (!s)
    throw new InvalidArgumentError(
      `--spacing must be mm per pixel (e.g. 0.1) or row,column (e.g. 0.1,0.12), positive; got "${v}"`,
    );
  return s;
}

interface EvaluateOptions {
  truth: string;
  pred: string;
  out?: string;
  json?: boolean;
  subset?: boolean;
  width: number;
  height: number;
  groupPattern?: string;
  maskLabel?: number;
  spacing?: PixelSpacing;
  outGroups?: string;
}

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("evaluate"))
    .description(
      "score predicted masks: Dice, IoU, the Kaggle score (mean per-image Dice, 1 when both masks are empty), presence, and the boundary distances HD95 and ASSD",
    )
    .requiredOption(
      "--truth <path>",
      "a labelled data set in any layout (as prepare reads it), a Kaggle subject,img,pixels CSV, or a folder of *_mask.tif",
    )
    .requiredOption(
      "--pred <path>",
      "what `nerveseg predict` wrote (folder or predictions.csv), a folder of mask images, or a Kaggle img,pixels CSV",
    )
    .option(
      "--group-pattern <regex>",
      "any layout: the group of an image is this regex's first capture on its id",
    )
    .option(
      "--mask-label <n>",
      "any layout: masks are label maps; foreground is this value",
      intOption("--mask-label", 0, 65535),
    )
    .option(
      "--spacing <mm>",
      "pixel size in mm (0.1, or row,column: 0.1,0.12) for HD95 and ASSD in mm; over the truth's own (DICOM Pixel Spacing, a CSV layout's spacing_mm column); without any, distances are in pixels",
      spacingOption,
    )
    .option(
      "--out <file>",
      "write the per-image table (.json: everything, with every group; else CSV: id,group,dice,iou,truth_px,pred_px,intersection_px,hd95_<mm|px>,assd_<mm|px>)",
    )
    .option(
      "--out-groups <file>",
      "any layout: write every group as CSV (group,images,with_target,dice,iou,kaggle,boundary_images,one_side_empty,hd95/assd mean and median)",
    )
    .option("--json", "print the summary as JSON")
    .option("--subset", "score only the images in --pred (truth may hold more)")
    .option("--width <px>", "Kaggle CSV form: image width", intOption("--width", 1, 100_000), KAGGLE_WIDTH)
    .option(
      "--height <px>",
      "Kaggle CSV form: image height",
      intOption("--height", 1, 100_000),
      KAGGLE_HEIGHT,
    )
    .addHelpText(
      "after",
      "\nMatching: a prediction meets its truth image by the image it was predicted from (predictions.csv's file\n" +
        "column), else by relative path (the longest shared tail of folders and name), else by a unique name\n" +
        "(stem); a name two truth images share, with no folder to decide, is an error naming both.\n" +
        "\nBoundary distances, per image, between the masks' boundary pixels (foreground pixels with a 4-neighbour\n" +
        "in the background or on the frame's edge), by an exact Euclidean distance transform:\n" +
        "  HD95  95th percentile of the distances from each boundary to the other, both directions pooled\n" +
        "        (medpy's hd95; MONAI's takes the larger of the two directed 95th percentiles)\n" +
        "  ASSD  the mean of the two directed mean distances (medpy's assd, MONAI's symmetric ASD)\n" +
        "Summed up as mean and median over the images where truth and prediction are both non-empty; an image with\n" +
        "one side empty has none (counted apart), an image with both empty is not counted. Unit: mm with a spacing\n" +
        "(--spacing, DICOM Pixel Spacing of the truth images, or spacing_mm in a CSV layout), else px; the columns\n" +
        "say which (hd95_mm or hd95_px). Beyond 30 groups the printed table shows the 10 worst by Dice.\n" +
        "\nExamples:\n" +
        "  nerveseg evaluate --truth input/train_masks.csv --pred work/val-pred.csv --subset --out work/val-dice.csv\n" +
        "  nerveseg evaluate --truth input/train --pred work/pred.csv --json\n" +
        "  nerveseg evaluate --truth ../shared/data/ddti-thyroid --pred out/ --out work/per-image.csv --out-groups work/groups.csv\n" +
        "  nerveseg predict --model results/run1 busi/benign/images/*.png --out out   # ids lose the folders ...\n" +
        "  nerveseg evaluate --truth busi --pred out --subset --spacing 0.1,0.12      # ... and still meet their truth",
    )
    .action(async (o: EvaluateOptions) => {
      if (!isKagglePair(o.truth, o.pred)) {
        const s = await evaluateLayout({
          truth: o.truth,
          pred: o.pred,
          subset: Boolean(o.subset),
          maskLabel: o.maskLabel,
          layout: { groupPattern: o.groupPattern },
          spacing: o.spacing,
        });
        if (o.out)
          writeFileAtomic(
            o.out,
            /\.json$/i.test(o.out) ? JSON.stringify(s, null, 1) + "\n" : segPerImageCsv(s),
          );
        if (o.outGroups) writeFileAtomic(o.outGroups, segPerGroupCsv(s));
        const { perImage: _p, ...summary } = s;
        process.stdout.write(o.json ? JSON.stringify(summary, null, 2) + "\n" : segScoreSummary(s));
        return;
      }
      if (o.outGroups)
        throw new UserError(
          `--out-groups: ${o.pred} is scored in the Kaggle CSV form, which has no groups (give the truth as a data set)`,
        );
      if (o.width * o.height > 100_000_000) throw new UserError("--width x --height is over 100M pixels");
      const s = evaluateFiles(o.truth, o.pred, o.width, o.height, {
        subset: Boolean(o.subset),
        boundary: { spacing: o.spacing ?? null },
      });
      if (o.out) writeFileAtomic(o.out, /\.json$/i.test(o.out) ? scoreJson(s, true) : perImageCsv(s));
      process.stdout.write(o.json ? scoreJson(s, false) : scoreSummary(s));
    });
}
