/*
 * The demo: the whole pipeline as one library function, above both the train and predict stages. With
 * Kaggle data in `input/` it uses it, otherwise it synthesizes a small ultrasound-like set with ground
 * truth: synth → prepare → train (fast preset, time boxed) → tune on validation → submit → evaluate
 * (when test truth exists) → overlays of the worst frames.
 */
import fs from "node:fs";
import path from "node:path";
import { noProgress, silent, type ProgressFactory } from "../core/progress.js";
import { prepare } from "../data/prepare.js";
import { synthesize } from "../synth/synth.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { emptyBaseline } from "../metric/dice.js";
import { loadPredictionCsv, loadTruth } from "../io/mask-set.js";
import { checkIds, presenceRates, scoreMasks } from "../metric/evaluate.js";
import { loadPreset } from "../model/config.js";
import { submit, tuneModel } from "../predict/pipeline.js";
import { writePredictions } from "../predict/prediction-store.js";
import { writeWorstOverlays } from "../report/worst-overlays.js";
import { train } from "../train/trainer.js";

export interface DemoOptions {
  /** Kaggle data folder (train/, test/); synthetic data is made when it is absent. */
  input: string;
  out: string;
  minutes: number;
  subjects: number;
  frames: number;
  test: number;
  seed: number;
  tta: boolean;
  /** Step lines (default: stdout). */
  log?: (line: string) => void;
  progress?: ProgressFactory;
  /** Progress bars inside training (default: none; training logs a line per epoch). */
  trainProgress?: ProgressFactory;
}

export interface DemoResult {
  modelDir: string;
  submission: string;
  /** Test score and all-empty baseline, when test truth exists (synthetic data). */
  score: { kaggle: number; allEmpty: number; images: number } | null;
  minutes: number;
}

/**
 * The whole pipeline on the embedded default: with Kaggle data in `input/` it uses it, otherwise it
 * synthesizes a small ultrasound-like set with ground truth. synth → prepare → train (fast preset, time
 * boxed) → tune on validation → submit → evaluate (when test truth exists) → overlays of the worst frames.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const start = Date.now();
  const out = o.log ?? silent;
  const step = (n: number, text: string): void => out(`\n== ${n}. ${text}`);
  const progress = o.progress ?? noProgress;
  let score: DemoResult["score"] = null;
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
    out(
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
    split: { kind: "group", seed: o.seed, valFraction: 0.1 },
    skipBad: false,
  });
  out(
    `   ${m.train.ids.length} train frames (${m.split.val.length} validation), ${m.test?.ids.length ?? 0} test`,
  );

  const modelDir = path.join(o.out, "model");
  step(3, `train the fast preset for up to ${o.minutes} min → ${modelDir}`);
  // The demo owns its folder: a rerun replaces the previous demo model rather than refusing to train.
  if (fs.existsSync(modelDir)) {
    out(`   (replacing the previous demo model in ${modelDir})`);
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
  const preset = loadPreset("fast");
  preset.train.seed = o.seed;
  const trainOpts = {
    data: prepared,
    out: modelDir,
    preset,
    dedupe: "drop" as const,
    progress: o.trainProgress,
    log: (line: string) => out(`   ${line}`),
  };
  let t = await train({ ...trainOpts, resume: false, maxMinutes: o.minutes });
  if (t.best === null) {
    // The budget ran out inside the first epoch (a slow or busy machine): without a finished epoch there is
    // no model for the steps below, so the first epoch is finished, resumed from where it stopped.
    out("   (the time budget ended inside the first epoch: finishing it)");
    preset.train.epochs = 1;
    t = await train({ ...trainOpts, resume: true, maxMinutes: null });
  }
  const last = t.history[t.history.length - 1];
  out(
    `   ${t.epochsDone} epochs; best val loss ${t.best?.valLoss.toFixed(4)} (epoch ${t.best?.epoch}); last val score ${last?.val_score?.toFixed(4)} vs all-empty ${t.emptyBaseline.toFixed(4)}`,
  );

  step(4, "tune post-processing on the validation split");
  const tune = await tuneModel({ model: modelDir, data: prepared, batch: 32, tta: o.tta, progress });
  out(
    `   score ${tune.before.toFixed(4)} → ${tune.after.toFixed(4)} (all-empty ${tune.allEmpty.toFixed(4)})`,
  );
  out(
    `   presence ≥ ${tune.best.presenceThreshold}, pixel > ${tune.best.pixelThreshold}, min area ${tune.best.minArea} px`,
  );

  const submission = path.join(o.out, "submission.csv");
  step(5, `submit → ${submission}`);
  const s = await submit({
    model: modelDir,
    input: path.join(source, "test"),
    out: submission,
    batch: 32,
    tta: o.tta,
    progress,
  });
  out(`   ${s.rows} rows, ${s.nonEmpty} with a nerve`);
  const preds = path.join(o.out, "preds");
  writePredictions(preds, s.set);

  if (truth) {
    step(6, "evaluate against the synthetic test truth");
    const truthSet = loadTruth(truth, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const predSet = loadPredictionCsv(submission, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    checkIds(truthSet, predSet);
    const scored = scoreMasks(truthSet.masks, predSet.masks, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const r = presenceRates(scored.confusion);
    const allEmpty = emptyBaseline(scored.perImage.map((p) => p.truthArea));
    score = { kaggle: scored.score, allEmpty, images: scored.n };
    out(
      `   Kaggle score ${scored.score.toFixed(4)} on ${scored.n} test images (all-empty baseline ${allEmpty.toFixed(4)})`,
    );
    out(
      `   presence precision ${r.precision.toFixed(3)}, recall ${r.recall.toFixed(3)}, accuracy ${r.accuracy.toFixed(3)}`,
    );
    const overlays = path.join(o.out, "overlays");
    fs.rmSync(overlays, { recursive: true, force: true });
    const worst = writeWorstOverlays(path.join(source, "test"), truthSet, predSet, scored, 12, overlays);
    out(`   overlays of the ${worst.length} worst test frames (truth green, prediction red): ${overlays}/`);
  }
  out(`\ncurves: ${path.join(modelDir, "curves.png")}   history: ${path.join(modelDir, "history.csv")}`);
  out(`TensorBoard logs: ${path.join(modelDir, "logs")}`);
  out(
    `look at the predictions: nerveseg view --images ${path.join(source, "test")} --preds ${preds} --params ${path.join(modelDir, "config.json")}${truth ? ` --truth ${truth}` : ""}`,
  );
  const minutes = (Date.now() - start) / 60000;
  out(`done in ${minutes.toFixed(1)} min`);
  return { modelDir, submission, score, minutes };
}
