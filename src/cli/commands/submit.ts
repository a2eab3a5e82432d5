import type { Command } from "commander";
import { encodeRle } from "../../io/rle.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../io/image.js";
import { readModelConfig } from "../../model/model-file.js";
import { postprocess } from "../../model/mask-rule.js";
import { readPredictions, type PredictionSet } from "../../predict/prediction-store.js";
import { listImages } from "../../predict/predictor.js";
import { writeSubmission, type SubmissionSummary } from "../../predict/submission.js";
import { fileError } from "../../core/errors.js";
import { addPredictOptions, runPrediction } from "./predict.js";

export interface SubmitCliOptions {
  model: string;
  input: string;
  out: string;
  preds?: string;
  batch: number;
  tta?: boolean;
  threads?: number;
  quiet?: boolean;
}

/**
 * Model folder + test images → submission.csv: predicts (or reads `--preds`), post-processes with the
 * model's (tuned) settings at 580x420, run-length encodes, and writes the file only once every test id
 * is present exactly once.
 */
export async function runSubmit(o: SubmitCliOptions): Promise<SubmissionSummary & { set: PredictionSet }> {
  const params = readModelConfig(o.model).postprocess;
  const expected = listImages(o.input).map((im) => im.id);
  const set = o.preds ? readPredictions(o.preds) : await runPrediction({ ...o, input: o.input });
  if (o.preds && set.ids.length !== expected.length)
    throw fileError(o.preds, `${set.ids.length} predictions for ${expected.length} images in ${o.input}`);
  const rows = function* () {
    for (let i = 0; i < set.ids.length; i++) {
      const mask = postprocess(
        { data: set.probs[i], width: set.width, height: set.height },
        set.presence[i],
        params,
      );
      yield { img: set.ids[i], pixels: encodeRle(mask, KAGGLE_WIDTH, KAGGLE_HEIGHT) };
    }
  };
  return { ...writeSubmission(o.out, rows(), expected), set };
}

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
      const s = await runSubmit(o);
      const secs = (Date.now() - start) / 1000;
      console.log(
        `wrote ${o.out}: ${s.rows} images, ${s.nonEmpty} with a nerve, in ${secs.toFixed(1)} s (${(s.rows / secs).toFixed(1)} images/s)`,
      );
    });
}
