import type { Command } from "commander";
import { DEFAULT_POSTPROCESS } from "../../model/mask-rule.js";
import { writePredictions } from "../../predict/prediction-store.js";
import { predict } from "../../predict/pipeline.js";
import { intOption } from "../options.js";
import { progressFactory } from "../progress.js";

export function addPredictOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--model <dir>", "model folder written by `nerveseg train`")
    .option("--batch <n>", "images per forward pass", intOption("--batch", 1, 1024), 32)
    .option("--tta", "test-time augmentation: average the four flips")
    .option("--threads <n>", "compute threads (default: all cores)", intOption("--threads", 1, 256))
    .option("--quiet", "no progress bar");
}

export function register(program: Command): void {
  addPredictOptions(
    program
      .command("predict")
      .description(
        "probability maps and nerve-presence probabilities for a folder of images or a prepared split",
      ),
  )
    .option("--input <dir>", "folder of <n>.tif images (e.g. input/test)")
    .option("--data <dir>", "prepared folder (instead of --input)")
    .option("--set <name>", "with --data: val (the validation split) or test", "val")
    .requiredOption("--out <dir>", "prediction folder to write (predictions.json + probs.npy)")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg predict --model results/run1 --input input/test --out preds --tta\n" +
        "  nerveseg predict --model results/run1 --data work/prepared --set val --out preds-val",
    )
    .action(async (o) => {
      const start = Date.now();
      const set = await predict({ ...o, progress: progressFactory(o.quiet) });
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
