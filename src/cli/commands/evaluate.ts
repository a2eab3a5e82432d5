import type { Command } from "commander";
import {
  evaluateFiles,
  isKagglePair,
  evaluateLayout,
  KAGGLE_HEIGHT,
  KAGGLE_WIDTH,
  perImageCsv,
  presenceRates,
  scoreJson,
  segPerImageCsv,
  UserError,
  writeFileAtomic,
  type Score,
  type SegScore,
} from "../../index.js";
import { intOption } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";

/** The human-readable summary printed by `evaluate`. */
export function scoreSummary(s: Score): string {
  const c = s.confusion;
  const r = presenceRates(c);
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return (
    `score ${s.score.toFixed(5)} (mean Dice over ${s.n} images)\n` +
    `presence (mask non-empty): TP ${c.tp}  FP ${c.fp}  FN ${c.fn}  TN ${c.tn}` +
    `  (precision ${pct(r.precision)}, recall ${pct(r.recall)}, accuracy ${pct(r.accuracy)})\n`
  );
}

/** The any-layout report: the scores, presence, and a line per group. */
export function segScoreSummary(s: SegScore): string {
  const f = (x: number): string => (Number.isNaN(x) ? "-" : x.toFixed(4));
  const c = s.confusion;
  let out =
    `${s.images} images, ${s.withTarget} with a target\n` +
    `  mean Dice (images with a target) ${f(s.dice)}   mean IoU ${f(s.iou)}   Kaggle score (empty vs empty = 1) ${f(s.kaggle)}\n` +
    `  presence: TP ${c.tp}  FP ${c.fp}  FN ${c.fn}  TN ${c.tn}\n`;
  if (s.perGroup.length > 1) {
    out += `  ${"group".padEnd(16)} ${"images".padStart(6)} ${"target".padStart(6)} ${"Dice".padStart(7)} ${"IoU".padStart(7)} ${"Kaggle".padStart(7)}\n`;
    for (const g of s.perGroup)
      out += `  ${g.group.slice(0, 16).padEnd(16)} ${String(g.images).padStart(6)} ${String(g.withTarget).padStart(6)} ${f(g.dice).padStart(7)} ${f(g.iou).padStart(7)} ${f(g.kaggle).padStart(7)}\n`;
  }
  return out;
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
}

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("evaluate"))
    .description("score predicted masks as Kaggle did: mean per-image Dice (1 when both masks are empty)")
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
    .option("--out <file>", "write the per-image Dice table (.json for JSON, else CSV)")
    .option("--json", "print the summary as JSON")
    .option("--subset", "score only the images in --pred (truth may hold more)")
    .option("--width <px>", "image width", intOption("--width", 1, 100_000), KAGGLE_WIDTH)
    .option("--height <px>", "image height", intOption("--height", 1, 100_000), KAGGLE_HEIGHT)
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  nerveseg evaluate --truth input/train_masks.csv --pred work/val-pred.csv --subset --out work/val-dice.csv\n" +
        "  nerveseg evaluate --truth input/train --pred work/pred.csv --json\n" +
        "  nerveseg evaluate --truth ../shared/data/ddti-thyroid --pred out/ --out work/per-image.csv",
    )
    .action(async (o: EvaluateOptions) => {
      if (!isKagglePair(o.truth, o.pred)) {
        const s = await evaluateLayout({
          truth: o.truth,
          pred: o.pred,
          subset: Boolean(o.subset),
          maskLabel: o.maskLabel,
          layout: { groupPattern: o.groupPattern },
        });
        if (o.out)
          writeFileAtomic(
            o.out,
            /\.json$/i.test(o.out) ? JSON.stringify(s, null, 1) + "\n" : segPerImageCsv(s),
          );
        const { perImage: _p, ...summary } = s;
        process.stdout.write(o.json ? JSON.stringify(summary, null, 2) + "\n" : segScoreSummary(s));
        return;
      }
      if (o.width * o.height > 100_000_000) throw new UserError("--width x --height is over 100M pixels");
      const s = evaluateFiles(o.truth, o.pred, o.width, o.height, { subset: Boolean(o.subset) });
      if (o.out) writeFileAtomic(o.out, /\.json$/i.test(o.out) ? scoreJson(s, true) : perImageCsv(s));
      process.stdout.write(o.json ? scoreJson(s, false) : scoreSummary(s));
    });
}
