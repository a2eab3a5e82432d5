import path from "node:path";
import type { Command } from "commander";
import * as E from "../../engine/index.js";
import { readManifest } from "../../data/manifest.js";
import { NpyRowReader } from "../../io/npy.js";
import { loadModel } from "../../model/model-file.js";
import { writePredictions, type PredictionSet } from "../../predict/prediction-store.js";
import { listImages, predictFolder, predictNpyRows, type PredictOptions } from "../../predict/predictor.js";
import { UserError } from "../../core/errors.js";
import { intOption } from "../options.js";
import { createProgress } from "../progress.js";

export interface PredictCliOptions {
  model: string;
  input?: string;
  data?: string;
  set?: string;
  batch: number;
  tta?: boolean;
  threads?: number;
  quiet?: boolean;
}

/**
 * Runs a model folder over a TIFF folder (`--input`) or a prepared split (`--data --set val|test`), with a
 * progress bar. Shared by predict, tune and submit.
 */
export async function runPrediction(o: PredictCliOptions): Promise<PredictionSet> {
  if (o.threads) E.setThreads(o.threads);
  const { model } = loadModel(o.model);
  try {
    const name = path.resolve(o.model);
    const opts = (total: number): PredictOptions => {
      const bar = createProgress("predict", total, o.quiet ? true : undefined);
      return {
        batch: o.batch,
        tta: Boolean(o.tta),
        onProgress: (d) => (d === total ? bar.stop() : bar.update(d)),
      };
    };
    if (o.input) return await predictFolder(model, o.input, opts(listImages(o.input).length), name);
    if (!o.data) throw new UserError("give --input <tiff folder> or --data <prepared folder>");
    const m = readManifest(o.data);
    const set = o.set ?? "val";
    if (set === "test") {
      if (!m.test) throw new UserError(`${o.data}: the prepared data has no test images`);
      const reader = new NpyRowReader(path.join(o.data, m.test.images));
      try {
        const rows = m.test.ids.map((_, i) => i);
        return predictNpyRows(model, reader, rows, m.test.ids, opts(rows.length), name);
      } finally {
        reader.close();
      }
    }
    if (set !== "val") throw new UserError(`--set must be val or test, got "${set}"`);
    const reader = new NpyRowReader(path.join(o.data, m.train.images));
    try {
      const ids = m.split.val.map((i) => m.train.ids[i]);
      return predictNpyRows(model, reader, m.split.val, ids, opts(ids.length), name);
    } finally {
      reader.close();
    }
  } finally {
    model.dispose();
  }
}

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
      const set = await runPrediction(o);
      writePredictions(o.out, set);
      const secs = (Date.now() - start) / 1000;
      const present = set.presence.filter((p) => p >= 0.5).length;
      console.log(
        `predicted ${set.ids.length} images in ${secs.toFixed(1)} s (${(set.ids.length / secs).toFixed(1)} images/s${set.tta ? ", flip TTA" : ""}) into ${o.out}`,
      );
      console.log(`  presence >= 0.5: ${present} of ${set.ids.length}`);
    });
}
