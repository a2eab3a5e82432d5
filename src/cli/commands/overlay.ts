import type { Command } from "commander";
import { overlayFile, overlayFolder, UserError, worstOverlaysFromCsv } from "../../index.js";
import { intOption } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";
import { progressFactory } from "../progress.js";

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("overlay"))
    .description(
      "draw mask (blue) and prediction (orange) contours on a grey image, as PNG; with a mask, a legend with the Dice under it",
    )
    .argument("[image]", "the image (.tif)")
    .option("--mask <file>", "true mask (.tif) for a single image")
    .option("--pred <file>", "predicted mask (.tif) for a single image")
    .option("--images <dir>", "folder form: every <id>.tif in this folder")
    .option("--masks <dir>", "folder form: masks matched as <id>_mask.tif (missing ones are skipped)")
    .option("--preds <dir>", "folder form: predictions matched as <id>_mask.tif or <id>.tif")
    .option("--truth <csv|dir>", "CSV form: true masks (train_masks.csv, test_masks.csv or a mask folder)")
    .option("--pred-csv <file>", "CSV form: predicted masks (a submission), scored against --truth")
    .option("--worst <n>", "CSV form: only the n frames with the lowest Dice", intOption("--worst", 1), 20)
    .requiredOption("--out <file|dir>", "output PNG (single image) or folder (folder form)")
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg overlay input/train/1_14.tif --mask input/train/1_14_mask.tif --out work/1_14.png" +
        "\n  nerveseg overlay --images work/synth/train --masks work/synth/train --out work/overlays" +
        "\n  nerveseg overlay --images work/synth/test --truth work/synth/test_masks.csv --pred-csv submission.csv --worst 20 --out work/worst",
    )
    .action((image: string | undefined, o) => {
      if (image && o.images) throw new UserError("overlay: give either an image or --images DIR, not both");
      if (image) {
        if (o.masks || o.preds)
          throw new UserError("overlay: --masks/--preds are for the folder form (--images)");
        overlayFile(image, o.out, o.mask, o.pred);
        console.log(`wrote ${o.out}`);
        return;
      }
      if (!o.images) throw new UserError("overlay: give an image, or --images DIR for a whole folder");
      if (o.truth || o.predCsv) {
        if (!o.truth || !o.predCsv)
          throw new UserError("overlay: the CSV form needs both --truth and --pred-csv");
        const { worst, score } = worstOverlaysFromCsv({ ...o, predCsv: o.predCsv });
        for (const w of worst)
          console.log(`${w.id}\tdice ${w.dice.toFixed(4)}\ttruth ${w.truthArea} px\tpred ${w.predArea} px`);
        console.log(
          `wrote the ${worst.length} lowest-Dice frames (of ${score.n}, mean ${score.score.toFixed(4)}) to ${o.out}`,
        );
        return;
      }
      if (o.mask || o.pred)
        throw new UserError("overlay: --mask/--pred are for a single image; use --masks/--preds");
      const { written, withMask } = overlayFolder({ ...o, progress: progressFactory(o.quiet) });
      console.log(`wrote ${written} overlays (${withMask} with a mask file) to ${o.out}`);
    });
}
