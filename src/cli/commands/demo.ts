import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { prepare } from "../../data/prepare.js";
import { synthesize } from "../../data/synth.js";
import * as E from "../../engine/index.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../io/image.js";
import { checkIds, loadPredictionCsv, loadTruth, presenceRates, scoreMasks } from "../../metric/evaluate.js";
import { loadPreset } from "../../model/config.js";
import { writePredictions } from "../../predict/prediction-store.js";
import { writeWorstOverlays } from "../../predict/worst-overlays.js";
import { emptyBaseline } from "../../metric/dice.js";
import { train } from "../../train/trainer.js";
import { floatOption, intOption } from "../options.js";
import { quietByDefault } from "../progress.js";
import { runSubmit } from "./submit.js";
import { runTune } from "./tune.js";

interface DemoFlags {
  input: string;
  out: string;
  minutes: number;
  subjects: number;
  frames: number;
  test: number;
  seed: number;
  tta: boolean;
  quiet?: boolean;
}

const step = (n: number, text: string): void => console.log(`\n== ${n}. ${text}`);

/**
 * The whole pipeline on the embedded default: with Kaggle data in `input/` it uses it, otherwise it
 * synthesizes a small ultrasound-like set with ground truth. synth → prepare → train (fast preset, time
 * boxed) → tune on validation → submit → evaluate (when test truth exists) → overlays of the worst frames.
 */
export async function runDemo(o: DemoFlags): Promise<void> {
  const start = Date.now();
  const quiet = o.quiet ?? quietByDefault();
  const real = fs.existsSync(path.join(o.input, "train")) && fs.existsSync(path.join(o.input, "test"));
  let source = o.input;
  let truth: string | null = null;
  if (real) {
    step(1, `Kaggle data found in ${o.input}/`);
  } else {
    source = path.join(o.out, "synth");
    step(
      1,
      `no Kaggle data in ${o.input}/: synthesizing ${o.subjects}x${o.frames} training + ${o.test} test frames`,
    );
    const s = await synthesize({
      out: source,
      subjects: o.subjects,
      frames: o.frames,
      test: o.test,
      seed: o.seed,
    });
    console.log(
      `   ${s.train} train (${s.trainWithNerve} with a nerve), ${s.test} test, ${s.imagesPerSecond.toFixed(0)} images/s`,
    );
    truth = path.join(source, "test_masks.csv");
  }

  const prepared = path.join(o.out, "prepared");
  // Validation on held-out subjects, as the test set is: a stratified split shares subjects (and
  // near-duplicate frames) with training, and tuning on it picks settings that do not transfer.
  step(2, `prepare → ${prepared}`);
  const m = await prepare({
    input: source,
    out: prepared,
    split: { kind: "subject", seed: o.seed, valFraction: 0.1 },
    skipBad: false,
  });
  console.log(
    `   ${m.train.ids.length} train frames (${m.split.val.length} validation), ${m.test?.ids.length ?? 0} test`,
  );

  const modelDir = path.join(o.out, "model");
  step(3, `train the fast preset for up to ${o.minutes} min → ${modelDir}`);
  // The demo owns its folder: a rerun replaces the previous demo model rather than refusing to train.
  if (fs.existsSync(modelDir)) {
    console.log(`   (replacing the previous demo model in ${modelDir})`);
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
  const preset = loadPreset("fast");
  preset.train.seed = o.seed;
  const t = await train({
    data: prepared,
    out: modelDir,
    preset,
    dedupe: "drop",
    resume: false,
    maxMinutes: o.minutes,
    quiet,
    log: (line) => console.log(`   ${line}`),
  });
  const last = t.history[t.history.length - 1];
  console.log(
    `   ${t.epochsDone} epochs; best val loss ${t.best?.valLoss.toFixed(4)} (epoch ${t.best?.epoch}); last val score ${last?.val_score?.toFixed(4)} vs all-empty ${t.emptyBaseline.toFixed(4)}`,
  );

  step(4, "tune post-processing on the validation split");
  const tune = await runTune({ model: modelDir, data: prepared, batch: 32, tta: o.tta, quiet });
  console.log(
    `   score ${tune.before.toFixed(4)} → ${tune.after.toFixed(4)} (all-empty ${tune.allEmpty.toFixed(4)})`,
  );
  console.log(
    `   presence ≥ ${tune.best.presenceThreshold}, pixel > ${tune.best.pixelThreshold}, min area ${tune.best.minArea} px`,
  );

  const submission = path.join(o.out, "submission.csv");
  step(5, `submit → ${submission}`);
  const s = await runSubmit({
    model: modelDir,
    input: path.join(source, "test"),
    out: submission,
    batch: 32,
    tta: o.tta,
    quiet,
  });
  console.log(`   ${s.rows} rows, ${s.nonEmpty} with a nerve`);
  const preds = path.join(o.out, "preds");
  writePredictions(preds, s.set);

  if (truth) {
    step(6, "evaluate against the synthetic test truth");
    const truthSet = loadTruth(truth, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const predSet = loadPredictionCsv(submission, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    checkIds(truthSet, predSet);
    const score = scoreMasks(truthSet.masks, predSet.masks, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const r = presenceRates(score.confusion);
    const allEmpty = emptyBaseline(score.perImage.map((p) => p.truthArea));
    console.log(
      `   Kaggle score ${score.score.toFixed(4)} on ${score.n} test images (all-empty baseline ${allEmpty.toFixed(4)})`,
    );
    console.log(
      `   presence precision ${r.precision.toFixed(3)}, recall ${r.recall.toFixed(3)}, accuracy ${r.accuracy.toFixed(3)}`,
    );
    const overlays = path.join(o.out, "overlays");
    fs.rmSync(overlays, { recursive: true, force: true });
    const worst = writeWorstOverlays(path.join(source, "test"), truthSet, predSet, score, 12, overlays);
    console.log(
      `   overlays of the ${worst.length} worst test frames (truth green, prediction red): ${overlays}/`,
    );
  }
  console.log(
    `\ncurves: ${path.join(modelDir, "curves.png")}   history: ${path.join(modelDir, "history.csv")}`,
  );
  console.log(`TensorBoard logs: ${path.join(modelDir, "logs")}`);
  console.log(
    `look at the predictions: nerveseg view --images ${path.join(source, "test")} --preds ${preds} --params ${path.join(modelDir, "config.json")}${truth ? ` --truth ${truth}` : ""}`,
  );
  console.log(`done in ${((Date.now() - start) / 60000).toFixed(1)} min`);
}

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "the whole pipeline on the embedded default (synthetic data unless input/train and input/test exist)",
    )
    .option("--input <dir>", "Kaggle data folder (train/, test/)", "input")
    .option("--out <dir>", "where everything is written", "work/demo")
    .option("--minutes <m>", "training time budget", floatOption("--minutes", 0.1, 10000), 4)
    .option("--subjects <n>", "synthetic subjects", intOption("--subjects", 1, 1000), 10)
    .option("--frames <n>", "synthetic frames per subject", intOption("--frames", 2, 10000), 100)
    .option("--test <n>", "synthetic test frames", intOption("--test", 1, 100000), 200)
    .option("--seed <n>", "seed for data, split and training", intOption("--seed", 0), 1)
    .option("--tta", "flip test-time augmentation in tune and submit")
    .option("--threads <n>", "compute threads (default: all cores)", intOption("--threads", 1, 256))
    .option("--quiet", "no progress bars")
    .addHelpText(
      "after",
      "\nExamples:\n  npm start                      # = nerveseg demo\n  nerveseg demo --minutes 10 --tta",
    )
    .action(async (o) => {
      if (o.threads) E.setThreads(o.threads);
      await runDemo({ ...o, tta: Boolean(o.tta) });
    });
}
