/*
 * One training run, built once (openRun: the recipe's precision, the data at model resolution, the model,
 * optimizer and schedule, then the checkpoint when resuming) and read by every phase of trainer.ts, which
 * calls down into it and never the other way: saveState and diverged are the run's own operations.
 */
import fs from "node:fs";
import path from "node:path";
import * as E from "../engine/index.js";
import { UserError } from "../core/errors.js";
import { noProgress, silent, type ProgressFactory } from "../core/progress.js";
import { readManifest } from "../data/manifest.js";
import { checkFits, type ModelConfig, type TrainConfig } from "../model/config.js";
import { DEFAULT_POSTPROCESS } from "../postprocess/mask-rule.js";
import type { ModelFolderConfig } from "../model/model-file.js";
import { UNet } from "../model/unet.js";
import type { BatchContext } from "./batches.js";
import {
  checkpointPath,
  checkResumePosition,
  fingerprintOf,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  type LoadedCheckpoint,
  type TrainState,
} from "./checkpoint.js";
import { TrainingHistory } from "./history.js";
import { plateauOptionsOf, ReduceLROnPlateau } from "./lr-schedule.js";
import type { TrainingLogs } from "./logs.js";
import { loadTrainingData, type DedupeSummary } from "./training-data.js";
import type { TrainOptions } from "./options.js";

/** Everything one training run holds between its phases. */
export interface Run {
  opts: TrainOptions;
  log: (line: string) => void;
  progress: ProgressFactory;
  m: ModelConfig;
  t: TrainConfig;
  ctx: BatchContext;
  trainIdx: number[];
  valIdx: number[];
  baseline: number;
  dedupe: DedupeSummary;
  folderConfig: ModelFolderConfig;
  model: UNet;
  params: E.Parameter[];
  opt: E.Optimizer;
  /** The weights' moving average (recipe `ema`), or null. */
  ema: E.WeightAverage | null;
  plateau: ReduceLROnPlateau;
  state: TrainState;
  history: TrainingHistory;
  tb: TrainingLogs | null;
  started: number;
  lastCheckpoint: number;
  peakRss: number;
}

/**
 * The run, whole: set-up (the split, frames at model resolution, dedupe, the model, optimizer and schedule),
 * then, with --resume and a checkpoint of the same run, the state it saved.
 */
export function openRun(opts: TrainOptions): Run {
  const run = setUp(opts);
  resume(run);
  return run;
}

/** Set-up: the split, frames at model resolution, dedupe, the model, optimizer and schedule. */
function setUp(opts: TrainOptions): Run {
  const log = opts.log ?? silent;
  const progress = opts.progress ?? noProgress;
  const { model: m, train: t } = opts.preset;
  checkFits(opts.preset, `preset "${m.preset}"`);
  if (t.threads !== null) E.setThreads(t.threads);
  applyTrainPrecision(t, log);
  const manifest = readManifest(opts.data);
  const ckFile = checkpointPath(opts.out);
  if (!opts.resume && fs.existsSync(ckFile))
    throw new UserError(
      `${opts.out}: already holds a training run (${ckFile}); pass --resume to continue it or choose another --out`,
    );

  const data = loadTrainingData(opts, manifest, log, progress);
  const { ctx, trainIdx, valIdx, dedupe } = data;
  const normalization = ctx.normalization;

  const model = new UNet(m, normalization, new E.Rng(t.seed));
  const params = model.parameters();
  const opt: E.Optimizer =
    t.optimizer === "adam"
      ? new E.Adam(params, { lr: t.lr, weightDecay: t.weightDecay })
      : new E.SGD(params, {
          lr: t.lr,
          momentum: t.momentum,
          nesterov: t.nesterov,
          weightDecay: t.weightDecay,
        });
  const plateau = new ReduceLROnPlateau(t.lr, plateauOptionsOf(t));
  const state: TrainState = {
    version: 1,
    fingerprint: fingerprintOf(opts.preset, opts.data, opts.dedupe, data.valRows, data.excludeRows),
    epoch: 0,
    batchInEpoch: 0,
    globalStep: 0,
    optimizer: { kind: t.optimizer, step: 0, lr: t.lr },
    plateau: plateau.state(),
    dropoutRng: model.dropoutRng?.getState() ?? null,
    best: null,
    history: [],
    running: { loss: 0, dice: 0, images: 0, batches: 0, seconds: 0 },
  };
  const folderConfig: ModelFolderConfig = {
    format: "nerveseg-model",
    version: 1,
    model: m,
    train: t,
    normalization,
    resize: "area",
    postprocess: DEFAULT_POSTPROCESS,
    // The Kaggle data's target is the brachial plexus nerve; other sets say theirs at export (--target-name).
    target: manifest.layout === "kaggle" ? "nerve" : undefined,
    data: {
      prepared: path.resolve(opts.data),
      trainFrames: trainIdx.length,
      valFrames: valIdx.length,
      dedupe: opts.dedupe,
    },
  };
  return {
    opts,
    log,
    progress,
    m,
    t,
    ctx,
    trainIdx,
    valIdx,
    baseline: data.baseline,
    dedupe,
    folderConfig,
    model,
    params,
    opt,
    ema: t.ema === undefined ? null : new E.WeightAverage(model, t.ema),
    plateau,
    state,
    history: new TrainingHistory(path.join(opts.out, "history.csv"), []),
    tb: null,
    started: Date.now(),
    lastCheckpoint: Date.now(),
    peakRss: process.memoryUsage.rss(),
  };
}

/** Resume: with --resume and a checkpoint of the same run, the model, optimizer, schedule and counters. */
function resume(run: Run): void {
  const { opts, log } = run;
  if (!opts.resume) return;
  const ck: LoadedCheckpoint | null = readCheckpoint(opts.out);
  if (ck === null) {
    log(`resume: no checkpoint in ${opts.out} yet, starting from scratch`);
    return;
  }
  checkResumePosition(opts.out, ck.state, Math.ceil(run.trainIdx.length / run.t.batch));
  if (ck.state.fingerprint !== run.state.fingerprint)
    throw new UserError(
      `${checkpointPath(opts.out)}: was written by a different model, recipe, data set or dedupe policy; resume with the same options (only --epochs, --threads and --max-minutes may change)`,
    );
  restoreCheckpoint(opts.out, ck, run.model, run.opt, run.ema);
  run.state = ck.state;
  run.plateau = new ReduceLROnPlateau(run.t.lr, plateauOptionsOf(run.t), run.state.plateau);
  if (run.state.dropoutRng && run.model.dropoutRng) run.model.dropoutRng.setState(run.state.dropoutRng);
  run.history = new TrainingHistory(path.join(opts.out, "history.csv"), run.state.history);
  log(`resume: epoch ${run.state.epoch + 1}, batch ${run.state.batchInEpoch}, step ${run.state.globalStep}`);
}

/** Saves the resume state (and hands pooled buffers back first, so the save's copies do not stack). */
export function saveState(run: Run): void {
  const { state, opt, t } = run;
  E.releaseMemoryPool();
  state.optimizer = { kind: t.optimizer, step: opt.stepCount, lr: opt.lr };
  state.plateau = run.plateau.state();
  state.dropoutRng = run.model.dropoutRng?.getState() ?? null;
  state.history = run.history.rows;
  saveCheckpoint(run.opts.out, run.model, opt, state, run.ema);
  run.lastCheckpoint = Date.now();
}

/**
 * Stops a run whose numbers stopped being numbers: one line naming the epoch (and batch) and the first
 * non-finite tensor. Nothing of the diverged state is saved: the last checkpoint and best model stay.
 */
export function diverged(run: Run, what: string, batch: number | null): never {
  const where = `epoch ${run.state.epoch + 1}${batch === null ? "" : `, batch ${batch + 1}`}`;
  throw new UserError(
    `${run.opts.out}: training diverged at ${where}: ${what}; the last good checkpoint and best model are kept (lower the learning rate, or clip gradients with clipNorm)`,
  );
}

/**
 * Sets the convolutions' precision from the recipe (absent: fp32) and stores what it resolved to —
 * "bf16", or no field for fp32, so fp32 recipes (and their resume fingerprints) are as before.
 */
export function applyTrainPrecision(t: TrainConfig, log: (line: string) => void): void {
  let chosen: ReturnType<typeof E.applyPrecision>;
  try {
    chosen = E.applyPrecision(t.precision ?? "fp32");
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const { precision, line } = chosen;
  if (line) log(line);
  if (precision === "bf16") t.precision = "bf16";
  else delete t.precision;
}
