import type { Command } from "commander";
import { overlayFolder, overlayImageFile, UserError, worstOverlaysFromCsv } from "../../index.js";
import { intOption } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";
import { progressFactory } from "../progress.js";

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("overlay"))
    .description(
      "draw mask (blue) and prediction (orange) contours on a grey image, as PNG; with a mask, a legend with the Dice under it " +
        "(PNG, JPEG, TIFF, BMP, GIF or DICOM; the masks of the image's size)",
    )
    .argument("[image]", "the image (any format)")
    .option("--mask <file>", "true mask for a single image (nonzero = on)")
    .option("--pred <file>", "predicted mask for a single image (nonzero = on)")
    .option(
      "--mask-label <n>",
      "true masks are label maps: foreground is this value (or palette index)",
      intOption("--mask-label", 0, 65535),
    )
    .option("--images <dir>", "folder form: every image in this folder (searched below; X_mask.* left out)")
    .option(
      "--masks <dir>",
      "folder form: true masks as X_mask.* (beside the images), or a mask folder by path or stem (missing ones are skipped)",
    )
    .option(
      "--preds <dir>",
      "folder form: predicted masks matched as --masks (a `nerveseg predict` output gives its masks/)",
    )
    .option("--truth <csv|dir>", "CSV form: true masks (train_masks.csv, test_masks.csv or a mask folder)")
    .option("--pred-csv <file>", "CSV form: predicted masks (a submission), scored against --truth")
    .option("--worst <n>", "CSV form: only the n frames with the lowest Dice", intOption("--worst", 1), 20)
    .requiredOption("--out <file|dir>", "output PNG (single image) or folder (folder form)")
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg overlay input/train/1_14.tif --mask input/train/1_14_mask.tif --out work/1_14.png" +
        "\n  nerveseg overlay scan.png --mask scan_mask.png --pred out/masks/scan.png --out work/scan.png" +
        "\n  nerveseg overlay study/IM0001.dcm --mask study/IM0001_seg.png --mask-label 2 --out work/IM0001.png" +
        "\n  nerveseg overlay --images work/synth/train --masks work/synth/train --out work/overlays" +
        "\n  nerveseg overlay --images ../shared/data/ddti-thyroid/cropped --masks ../shared/data/ddti-thyroid/mask --preds work/ddti-pred --out work/ddti-overlays" +
        "\n  nerveseg overlay --images work/synth/test --truth work/synth/test_masks.csv --pred-csv submission.csv --worst 20 --out work/worst",
    )
    .action(async (image: string | undefined, o) => {
      if (image && o.images) throw new UserError("overlay: give either an image or --images DIR, not both");
      if (image) {
        if (o.masks || o.preds)
          throw new UserError("overlay: --masks/--preds are for the folder form (--images)");
        await overlayImageFile(image, o.out, { mask: o.mask, pred: o.pred, maskLabel: o.maskLabel });
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
      const { written, withMask } = await overlayFolder({ ...o, progress: progressFactory(o.quiet) });
      console.log(`wrote ${written} overlays (${withMask} with a mask file) to ${o.out}`);
    });
}
