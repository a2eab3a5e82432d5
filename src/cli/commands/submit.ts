import type { Command } from "commander";
import { submit } from "../../index.js";
import { progressFactory, toStderr } from "../progress.js";
import { addPredictOptions } from "./predict.js";

export function register(program: Command): void {
  addPredictOptions(
    program
      .command("submit")
      .description(
        "predict the test images and write a Kaggle submission (img,pixels with run-length encoding)",
      ),
  )
    .requiredOption("--input <dir>", "test images folder (<n>.tif)")
    .option("--out <file>", "the submission to write", "submission.csv")
    .option("--preds <dir>", "reuse predictions from `nerveseg predict` instead of running the model")
    .addHelpText(
      "after",
      "\nExample:\n  nerveseg submit --model results/run1 --input input/test --out submission.csv --tta",
    )
    .action(async (o) => {
      const start = Date.now();
      const s = await submit({ ...o, progress: progressFactory(o.quiet), log: toStderr });
      const secs = (Date.now() - start) / 1000;
      console.log(
        `wrote ${o.out}: ${s.rows} images, ${s.nonEmpty} with a nerve, in ${secs.toFixed(1)} s (${(s.rows / secs).toFixed(1)} images/s)`,
      );
    });
}
