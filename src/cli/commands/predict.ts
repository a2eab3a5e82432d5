import type { Command } from "commander";
import {
  applyInferencePrecision,
  DEFAULT_POSTPROCESS,
  PRECISION_CHOICES,
  predict,
  predictFiles,
  UserError,
  writePredictions,
} from "../../index.js";
import path from "node:path";
import { addDecodeLimitOptions } from "../limits.js";
import { choiceOption, intOption, repeatable } from "../options.js";
import { progressFactory, toStderr } from "../progress.js";

export function addPredictOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      "--model <dir>",
      "model folder written by `nerveseg train`; repeat it (or give a `nerveseg cv` folder) for an ensemble that averages the models' maps",
      repeatable,
    )
    .option("--batch <n>", "images per forward pass", intOption("--batch", 1, 1024), 32)
    .option(
      "--tta",
      "test-time augmentation: average the four flips (default: as the model's recipe says; real does)",
    )
    .option("--no-tta", "no test-time augmentation, whatever the model's recipe says")
    .option("--threads <n>", "compute threads (default: all cores)", intOption("--threads", 1, 256))
    .option(
      "--precision <p>",
      "convolution precision: fp32 (the default, whatever precision the model was trained in), bf16 (needs AVX512-BF16) or auto (bf16 where the CPU has it)",
      choiceOption("--precision", PRECISION_CHOICES),
    )
    .option("--quiet", "no progress bar");
}

export function register(program: Command): void {
  addPredictOptions(
    addDecodeLimitOptions(program.command("predict"))
      .argument("[images...]", "image files (PNG, JPEG, TIFF, BMP, GIF, DICOM), folders or glob patterns")
      .description(
        "masks for any images (one mask PNG, overlay and CSV row each, at the image's own size); or probability maps for a Kaggle TIFF folder or a prepared split",
      ),
  )
    .option("--input <dir>", "Kaggle test folder of <n>.tif images: write probability maps for tune/submit")
    .option("--data <dir>", "prepared folder (instead of --input)")
    .option("--set <name>", "with --data: val (the validation split) or test", "val")
    .option("--no-overlays", "with image files: masks and CSV only")
    .option(
      "--skip-bad",
      "with image files: leave out files that cannot be read (each listed with its reason) and predict the rest",
    )
    .requiredOption(
      "--out <dir>",
      "output folder (masks/, overlays/, predictions.csv; or predictions.json + probs.npy)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg predict --model results/run1 scan.png 'patient a/*.dcm' more-scans/ --out out\n" +
        "  nerveseg predict --model results/run1 --input input/test --out preds --tta\n" +
        "  nerveseg predict --model results/run1 --data work/prepared --set val --out preds-val",
    )
    .action(async (images: string[], o) => {
      const start = Date.now();
      if (images.length > 0) {
        if (o.input || o.data) throw new UserError("give image files, or --input/--data, not both");
        applyInferencePrecision({ ...o, log: toStderr });
        const r = await predictFiles({
          ...o,
          inputs: images,
          progress: progressFactory(o.quiet),
          log: toStderr,
        });
        const secs = (Date.now() - start) / 1000;
        const withTarget = r.rows.filter((row) => row.area > 0).length;
        console.log(
          `predicted ${r.rows.length} image(s) in ${secs.toFixed(1)} s (${(r.rows.length / secs).toFixed(1)} images/s${r.tta ? ", flip TTA" : ""}): ${withTarget} with a mask`,
        );
        console.log(
          `  masks: ${path.join(o.out, "masks")}/  ${o.overlays ? `overlays: ${path.join(o.out, "overlays")}/  ` : ""}table: ${r.csv}`,
        );
        if (r.skipped.length > 0) {
          console.log(`  could not read ${r.skipped.length} file(s), left out:`);
          for (const s of r.skipped) console.log(`    ${s.file}: ${s.reason}`);
        }
        if (r.maskFilesLeftOut > 0)
          console.log(`  (${r.maskFilesLeftOut} mask-named file(s) in the folders were not predicted)`);
        return;
      }
      const set = await predict({ ...o, progress: progressFactory(o.quiet), log: toStderr });
      writePredictions(o.out, set);
      const secs = (Date.now() - start) / 1000;
      const t = DEFAULT_POSTPROCESS.presenceThreshold;
      const present = set.presence.filter((p) => p >= t).length;
      console.log(
        `predicted ${set.ids.length} images in ${secs.toFixed(1)} s (${(set.ids.length / secs).toFixed(1)} images/s${set.tta ? ", flip TTA" : ""}) into ${o.out}`,
      );
      console.log(`  presence >= ${t} (the untuned threshold): ${present} of ${set.ids.length}`);
    });
}
