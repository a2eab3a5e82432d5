/*
 * The training loop of `nerveseg train`: data at model resolution, seeded augmentation built ahead on a
 * worker thread, Dice (+ presence BCE) loss, validation with the Kaggle score every epoch,
 * ReduceLROnPlateau on the validation loss, the best model and a resume state saved atomically, and
 * TensorBoard / history.csv / curves.png logs.
 *
 * Output folder (--out):
 *   config.json, model.safetensors   the best model by validation loss (see src/model/model-file.ts)
 *   checkpoint/last.safetensors      the resume state (see checkpoint.ts)
 *   history.csv, curves.png          one row / point per epoch
 *   logs/                            TensorBoard event files
 */
import fs from "node:fs";
import path from "node:path";
import * as E from "../engine/index.js";
import { UserError } from "../core/errors.js";
import { noProgress, type ProgressFactory } from "../core/progress.js";
import { readManifest } from "../data/manifest.js";
import type { DedupePolicy } from "../data/dedupe.js";
import type { Preset } from "../model/config.js";
import { DEFAULT_POSTPROCESS } from "../model/mask-rule.js";
import { UNet } from "../model/unet.js";
import type { ModelConfig, TrainConfig } from "../model/config.js";
import { writeModelConfig, writeModelWeights, type ModelFolderConfig } from "../model/model-file.js";
import { cosineLr, plateauOptionsOf, ReduceLROnPlateau } from "./lr-schedule.js";
import { TrainingHistory, type HistoryRow } from "./history.js";
import { writeCurvesPng } from "./curves.js";
import { SummaryWriter } from "./tensorboard.js";
import { loadTrainingData, type DedupeSummary } from "./training-data.js";
import { lossOf, validate } from "./validate.js";
import { BatchSource, batchesOf, epochOrder, seedFor, type Batch, type BatchContext } from "./batches.js";
import {
  checkpointPath,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  fingerprintOf,
  type LoadedCheckpoint,
  type TrainState,
} from "./checkpoint.js";

export interface TrainOptions {
  /** Prepared folder (manifest.json + arrays). */
  data: string;
  out: string;
  /** The recipe, CLI overrides already applied. */
  preset: Preset;
  dedupe: DedupePolicy | "off";
  /** Validation rows of the prepared arrays (default: the manifest's split; cross-validation passes a fold). */
  valRows?: readonly number[];
  resume: boolean;
  /** Stop (resumably) after this many minutes of training; null = no limit. */
  maxMinutes: number | null;
  /** Progress bars for resizing and each epoch (default: none; the per-epoch summary line is the log). */
  progress?: ProgressFactory;
  /** Build batches on a worker thread (default true). */
  prefetchWorker?: boolean;
  /** Write TensorBoard logs, history.csv and curves.png (default true). */
  logs?: boolean;
  /** Save the state and stop right after this many optimizer steps of the run (simulates an interruption). */
  stopAfterSteps?: number;
  /** Polled after every step: true saves the resume state and stops (Ctrl-C in the CLI). */
  shouldStop?: () => boolean;
  /** Progress and summary lines (default: stderr). */
  log?: (line: string) => void;
}

export interface TrainResult {
  stopped: "done" | "early-stop" | "time" | "steps" | "interrupted";
  epochsDone: number;
  globalStep: number;
  best: { valLoss: number; epoch: number } | null;
  history: HistoryRow[];
  trainFrames: number;
  valFrames: number;
  /** Validation Kaggle score of predicting every mask empty. */
  emptyBaseline: number;
  dedupe: DedupeSummary;
  /** Peak resident set size seen during training (bytes). */
  peakRss: number;
}

/** Everything one training run holds between its phases. */
interface Run {
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
  plateau: ReduceLROnPlateau;
  state: TrainState;
  history: TrainingHistory;
  tb: SummaryWriter | null;
  started: number;
  lastCheckpoint: number;
  peakRss: number;
}

type Stop = TrainResult["stopped"];

/** Trains a model; see the file comment for what lands in opts.out. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const run = setUp(opts);
  let stopped: Stop = "done";
  const source = new BatchSource(run.ctx, opts.prefetchWorker ?? true);
  try {
    resume(run);
    startLogs(run);
    run.model.train();
    while (run.state.epoch < run.t.epochs) {
      const interrupted = await runEpoch(run, source);
      if (interrupted) {
        stopped = interrupted;
        break;
      }
      if (endOfEpoch(run)) {
        stopped = "early-stop";
        break;
      }
    }
  } finally {
    await source.close();
    run.tb?.close();
  }
  return finish(run, stopped);
}

/** Set-up: the split, frames at model resolution, dedupe, the model, optimizer and schedule. */
function setUp(opts: TrainOptions): Run {
  const log = opts.log ?? ((line: string) => console.error(line));
  const progress = opts.progress ?? noProgress;
  const { model: m, train: t } = opts.preset;
  if (t.threads !== null) E.setThreads(t.threads);
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
    fingerprint: fingerprintOf(opts.preset, opts.data, opts.dedupe, data.valRows),
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
  if (ck.state.fingerprint !== run.state.fingerprint)
    throw new UserError(
      `${checkpointPath(opts.out)}: was written by a different model, recipe, data set or dedupe policy; resume with the same options (only --epochs, --threads and --max-minutes may change)`,
    );
  restoreCheckpoint(opts.out, ck, run.model, run.opt);
  run.state = ck.state;
  run.plateau = new ReduceLROnPlateau(run.t.lr, plateauOptionsOf(run.t), run.state.plateau);
  if (run.state.dropoutRng && run.model.dropoutRng) run.model.dropoutRng.setState(run.state.dropoutRng);
  run.history = new TrainingHistory(path.join(opts.out, "history.csv"), run.state.history);
  log(`resume: epoch ${run.state.epoch + 1}, batch ${run.state.batchInEpoch}, step ${run.state.globalStep}`);
}

/** The output folder's config.json, the logs, and the run's opening line. */
function startLogs(run: Run): void {
  const { opts, m } = run;
  fs.mkdirSync(opts.out, { recursive: true });
  writeModelConfig(opts.out, run.folderConfig);
  if (opts.logs ?? true) run.tb = new SummaryWriter(path.join(opts.out, "logs"));
  run.log(
    `train: ${run.trainIdx.length} frames, validation: ${run.valIdx.length} (all-empty baseline score ${run.baseline.toFixed(4)}), ` +
      `model ${m.preset} ${m.inputHeight}x${m.inputWidth} ${run.model.parameterCount()} parameters, ${E.getThreads()} thread(s)`,
  );
}

/** Saves the resume state (and hands pooled buffers back first, so the save's copies do not stack). */
function saveState(run: Run): void {
  const { state, opt, t } = run;
  E.releaseMemoryPool();
  state.optimizer = { kind: t.optimizer, step: opt.stepCount, lr: opt.lr };
  state.plateau = run.plateau.state();
  state.dropoutRng = run.model.dropoutRng?.getState() ?? null;
  state.history = run.history.rows;
  saveCheckpoint(run.opts.out, run.model, opt, state);
  run.lastCheckpoint = Date.now();
}

/**
 * One epoch's optimizer steps, from where the state says (mid-epoch after a resume), with the next batch
 * built on the worker while this one computes. Returns why it stopped early, or null at the epoch's end.
 */
async function runEpoch(run: Run, source: BatchSource): Promise<Stop | null> {
  const { opts, state, t, m } = run;
  const epoch = state.epoch;
  const batches = batchesOf(
    epochOrder(run.trainIdx.length, t.seed, epoch).map((k) => run.trainIdx[k]),
    t.batch,
  );
  const specs = batches.map((indices, b) => ({ indices, seed: seedFor(t.seed, epoch, b + 1) }));
  const total = batches.reduce((a, x) => a + x.length, 0);
  const bar = run.progress(`epoch ${epoch + 1}/${t.epochs}`, total, ["loss"]);
  const runningLoss = () =>
    state.running.batches ? (state.running.loss / state.running.images).toFixed(4) : "-";
  let done = batches.slice(0, state.batchInEpoch).reduce((a, x) => a + x.length, 0);
  bar.update(done, { loss: runningLoss() });
  let next: Promise<Batch> | null =
    state.batchInEpoch < specs.length ? source.request(specs[state.batchInEpoch]) : null;
  next?.catch(() => {});
  try {
    while (state.batchInEpoch < specs.length) {
      const b = await next!;
      const bi = state.batchInEpoch;
      next = bi + 1 < specs.length ? source.request(specs[bi + 1]) : null;
      next?.catch(() => {});
      const t0 = performance.now();
      const [lossValue, diceLossValue] = E.tidy(() => {
        const x = E.fromArray([b.count, m.inputHeight, m.inputWidth, 1], b.x);
        const y = E.fromArray([b.count, m.inputHeight, m.inputWidth, 1], b.y);
        const has = E.fromArray([b.count, 1], b.has);
        const l = lossOf(run.model.forward(x), y, has, opts.preset);
        run.opt.zeroGrad();
        l.total.backward();
        if (t.clipNorm !== null) E.clipGradNorm(run.params, t.clipNorm);
        run.opt.step();
        return [l.total.item(), l.dice.item()];
      });
      if (!Number.isFinite(lossValue))
        throw new Error(`training diverged: loss ${lossValue} at epoch ${epoch + 1}, batch ${bi + 1}`);
      state.running.seconds += (performance.now() - t0) / 1000;
      state.running.loss += lossValue * b.count;
      state.running.dice += (1 - diceLossValue) * b.count;
      state.running.images += b.count;
      state.running.batches++;
      state.batchInEpoch++;
      state.globalStep++;
      done += b.count;
      run.peakRss = Math.max(run.peakRss, process.memoryUsage.rss());
      bar.update(done, { loss: runningLoss() });
      if (opts.stopAfterSteps !== undefined && state.globalStep >= opts.stopAfterSteps) {
        saveState(run);
        return "steps";
      }
      if (opts.shouldStop?.()) {
        saveState(run);
        return "interrupted";
      }
      if (opts.maxMinutes !== null && Date.now() - run.started > opts.maxMinutes * 60_000) {
        saveState(run);
        run.log(`stopped after ${opts.maxMinutes} minute(s); continue with --resume`);
        return "time";
      }
      if (t.checkpointMinutes > 0 && Date.now() - run.lastCheckpoint > t.checkpointMinutes * 60_000)
        saveState(run);
    }
  } finally {
    bar.stop();
  }
  return null;
}

/**
 * End of epoch: validate, step the schedule, save the best model, log (history, curves, TensorBoard, a
 * summary line), save the resume state. Returns true when early stopping says so.
 */
function endOfEpoch(run: Run): boolean {
  const { state, opts, t } = run;
  const epoch = state.epoch;
  E.releaseMemoryPool();
  const val = validate(run.model, run.ctx, run.valIdx, opts.preset);
  const r = state.running;
  const row: HistoryRow = {
    epoch: epoch + 1,
    loss: r.loss / r.images,
    val_loss: val.loss,
    dice: r.dice / r.images,
    val_dice: val.dice,
    val_score: val.score,
    lr: run.opt.lr,
    img_per_s: r.images / Math.max(1e-9, r.seconds),
  };
  const monitored = Number.isNaN(val.loss) ? row.loss : val.loss;
  const step = run.plateau.step(monitored);
  if (state.best === null || monitored < state.best.valLoss) {
    state.best = { valLoss: monitored, epoch: epoch + 1 };
    writeModelWeights(opts.out, run.model, { epoch: epoch + 1, valLoss: monitored });
  }
  // Cosine is a function of the epoch alone (resume-safe); the plateau still counts for early stopping.
  run.opt.lr = t.schedule === "cosine" ? cosineLr(t.lr, t.plateau.minLr, epoch + 1, t.epochs) : step.lr;
  if (run.tb) {
    run.history.append(row);
    writeCurvesPng(path.join(opts.out, "curves.png"), run.history.rows);
    for (const [k, v] of Object.entries(row))
      if (k !== "epoch" && !Number.isNaN(v)) run.tb.scalar(k, v, epoch + 1);
    for (const [name, p] of run.model.namedParameters()) run.tb.histogram(name, p.data, epoch + 1);
    run.tb.flush();
  } else run.history.rows.push(row);
  run.log(
    `epoch ${epoch + 1}/${t.epochs}: loss ${row.loss.toFixed(4)} dice ${row.dice.toFixed(4)} | val_loss ${row.val_loss.toFixed(4)} ` +
      `val_dice ${row.val_dice.toFixed(4)} val_score ${row.val_score.toFixed(4)} (empty ${run.baseline.toFixed(4)}) | ` +
      `lr ${row.lr.toExponential(2)} | ${row.img_per_s.toFixed(1)} img/s` +
      (step.reduced ? ` | lr -> ${step.lr.toExponential(2)}` : "") +
      (state.best?.epoch === epoch + 1 ? " | best" : ""),
  );
  state.epoch++;
  state.batchInEpoch = 0;
  state.running = { loss: 0, dice: 0, images: 0, batches: 0, seconds: 0 };
  saveState(run);
  run.peakRss = Math.max(run.peakRss, process.memoryUsage.rss());
  if (step.stop) run.log(`early stop: no val_loss improvement for ${t.plateau.earlyStop} epoch(s)`);
  return step.stop;
}

/** Finish: the result, and the model's and optimizer's native memory released. */
function finish(run: Run, stopped: Stop): TrainResult {
  const result: TrainResult = {
    stopped,
    epochsDone: run.state.epoch,
    globalStep: run.state.globalStep,
    best: run.state.best,
    history: run.history.rows,
    trainFrames: run.trainIdx.length,
    valFrames: run.valIdx.length,
    emptyBaseline: run.baseline,
    dedupe: run.dedupe,
    peakRss: run.peakRss,
  };
  run.model.dispose();
  run.opt.dispose();
  return result;
}
