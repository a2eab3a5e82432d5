import type { Command } from "commander";
import { UserError } from "../../core/errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../io/image.js";
import { evaluateFiles, perImageCsv, presenceRates, scoreJson, type Score } from "../../metric/evaluate.js";
import { intOption } from "../options.js";

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

interface EvaluateOptions {
  truth: string;
  pred: string;
  out?: string;
  json?: boolean;
  subset?: boolean;
  width: number;
  height: number;
}

export function register(program: Command): void {
  program
    .command("evaluate")
    .description("score predicted masks as Kaggle did: mean per-image Dice (1 when both masks are empty)")
    .requiredOption("--truth <csv|dir>", "subject,img,pixels or img,pixels CSV, or a folder of *_mask.tif")
    .requiredOption("--pred <csv>", "predictions as an img,pixels CSV (Kaggle submission layout)")
    .option("--out <file>", "write the per-image Dice table (.json for JSON, else CSV)")
    .option("--json", "print the summary as JSON")
    .option("--subset", "score only the images in --pred (truth may hold more)")
    .option("--width <px>", "image width", intOption("--width", 1, 100_000), KAGGLE_WIDTH)
    .option("--height <px>", "image height", intOption("--height", 1, 100_000), KAGGLE_HEIGHT)
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  nerveseg evaluate --truth input/train_masks.csv --pred work/val-pred.csv --subset --out work/val-dice.csv\n" +
        "  nerveseg evaluate --truth input/train --pred work/pred.csv --json",
    )
    .action((o: EvaluateOptions) => {
      if (o.width * o.height > 100_000_000) throw new UserError("--width x --height is over 100M pixels");
      const s = evaluateFiles(o.truth, o.pred, o.width, o.height, { subset: Boolean(o.subset) });
      if (o.out) writeFileAtomic(o.out, /\.json$/i.test(o.out) ? scoreJson(s, true) : perImageCsv(s));
      process.stdout.write(o.json ? scoreJson(s, false) : scoreSummary(s));
    });
}
