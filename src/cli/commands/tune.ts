import path from "node:path";
import type { Command } from "commander";
import { readManifest } from "../../data/manifest.js";
import { NpyRowReader } from "../../io/npy.js";
import { CONFIG_FILE, readModelConfig, writePostprocess } from "../../model/model-file.js";
import { readPredictions } from "../../predict/prediction-store.js";
import { tunePostprocess, type TuneResult } from "../../predict/tune.js";
import { emptyBaseline } from "../../metric/dice.js";
import { fileError } from "../../core/errors.js";
import { createProgress } from "../progress.js";
import { addPredictOptions, runPrediction } from "./predict.js";

export interface TuneCliOptions {
  model: string;
  data: string;
  preds?: string;
  batch: number;
  tta?: boolean;
  threads?: number;
  quiet?: boolean;
  dryRun?: boolean;
}

/**
 * Predicts the validation split (or reads `--preds`), searches the post-processing on it and writes the
 * best settings into the model's config.json. Returns the search result and the all-empty baseline.
 */
export async function runTune(o: TuneCliOptions): Promise<TuneResult & { allEmpty: number }> {
  const config = readModelConfig(o.model);
  const m = readManifest(o.data);
  const preds = o.preds ? readPredictions(o.preds) : await runPrediction({ ...o, data: o.data, set: "val" });
  const valIds = m.split.val.map((i) => m.train.ids[i]);
  if (preds.ids.length !== valIds.length || preds.ids.some((id, k) => id !== valIds[k]))
    throw fileError(o.preds ?? o.data, "predictions are not of this prepared folder's validation split");
  const masks = new NpyRowReader(path.join(o.data, m.train.masks));
  let truth: Uint8Array[];
  try {
    truth = m.split.val.map((row) => masks.read(row));
  } finally {
    masks.close();
  }
  const bar = createProgress("tune", preds.ids.length, o.quiet ? true : undefined);
  const result = tunePostprocess(
    {
      probs: preds.probs,
      presence: preds.presence,
      width: preds.width,
      height: preds.height,
      truth,
      ids: preds.ids,
    },
    config.postprocess,
    undefined,
    (done) => bar.update(done),
  );
  bar.stop();
  if (!o.dryRun) writePostprocess(o.model, result.best);
  const allEmpty = emptyBaseline(m.split.val.map((i) => m.train.maskArea[i]));
  return { ...result, allEmpty };
}

export function register(program: Command): void {
  addPredictOptions(
    program
      .command("tune")
      .description(
        "search presence threshold, pixel threshold and minimum area on the validation split; save them in the model",
      ),
  )
    .requiredOption("--data <dir>", "the prepared folder the model was trained on (its validation split)")
    .option("--preds <dir>", "reuse validation predictions from `nerveseg predict --set val`")
    .option("--dry-run", "print the result without changing the model's config.json")
    .addHelpText("after", "\nExample:\n  nerveseg tune --model results/run1 --data work/prepared --tta")
    .action(async (o) => {
      const r = await runTune(o);
      const b = r.best;
      console.log(`tuned on ${r.images} validation images (${r.search}, ${r.table.length} settings)`);
      console.log(`  all-empty baseline   ${r.allEmpty.toFixed(4)}`);
      console.log(`  score before tuning  ${r.before.toFixed(4)}`);
      console.log(`  score after tuning   ${r.after.toFixed(4)}`);
      console.log(
        `  pixelThreshold ${b.pixelThreshold}, presenceThreshold ${b.presenceThreshold}, minArea ${b.minArea} px`,
      );
      console.log(
        o.dryRun ? "  (dry run: config.json unchanged)" : `  saved in ${path.join(o.model, CONFIG_FILE)}`,
      );
    });
}
