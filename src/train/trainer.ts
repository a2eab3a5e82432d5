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
import { lockFolder } from "../io/atomic.js";
import type { Preset } from "../model/config.js";
import { firstNonFinite, writeModelConfig, writeModelWeights } from "../model/model-file.js";
import { BatchSource } from "./batch-source.js";
import { batchesOf, epochOrder, seedFor, type Batch } from "./batches.js";
import { writeCurvesPng } from "../report/curves.js";
import { type HistoryRow } from "./history.js";
import { cosineLr } from "./lr-schedule.js";
import { diverged, openRun, saveState, type Run } from "./run.js";
import type { Stop, TrainOptions, TrainResult } from "./options.js";
import { TrainingLogs } from "./logs.js";
import { lossOf, validate } from "./validate.js";

export type { TrainOptions, TrainResult } from "./options.js";

/** Trains a model; see the file comment for what lands in opts.out. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  // One writer per output folder (per fold for cv): a second `train --out X` or `cv --fold k` is refused.
  const unlock = lockFolder(opts.out, `training ${opts.preset.model.preset}`);
  try {
    return await trainRun(opts);
  } catch (e) {
    // A native allocation failure names the tensor; say which run and recipe asked for it.
    if (!(e instanceof UserError) && /out of memory/.test((e as Error).message))
      throw new UserError(
        `${opts.out}: training preset "${opts.preset.model.preset}" ran out of memory: ${(e as Error).message}`,
      );
    throw e;
  } finally {
    unlock();
  }
}

async function trainRun(opts: TrainOptions): Promise<TrainResult> {
  const run = openRun(opts);
  let stopped: Stop | "failed" = "done";
  const source = new BatchSource(run.ctx, opts.prefetchWorker ?? true);
  try {
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
  } catch (e) {
    stopped = "failed";
    throw e;
  } finally {
    await source.close();
    // The HParams session ends with the run; a resumable stop (time, steps, interrupt) leaves it open.
    if (stopped === "failed") run.tb?.end("failure");
    else if (stopped === "done" || stopped === "early-stop") run.tb?.end("success");
    run.tb?.close();
  }
  return finish(run, stopped as Stop);
}

/** The output folder's config.json, the logs, and the run's opening line. */
function startLogs(run: Run): void {
  const { opts, m } = run;
  fs.mkdirSync(opts.out, { recursive: true });
  if (opts.logs ?? true) {
    run.tb = new TrainingLogs(path.join(opts.out, "logs"));
    run.tb.hparams(opts.preset);
  }
  run.log(recipeLine(opts.preset));
  run.log(
    `train: ${run.trainIdx.length} frames, validation: ${run.valIdx.length} (all-empty baseline score ${run.baseline.toFixed(4)}), ` +
      `model ${m.preset} ${m.inputHeight}x${m.inputWidth} ${run.model.parameterCount()} parameters, ${E.getThreads()} thread(s)`,
  );
}

/** The recipe in one line, printed as training starts (what the run's numbers are of). */
export function recipeLine(p: Preset): string {
  const { model: m, train: t } = p;
  const a = t.augment;
  const augment = [
    a.flipX || a.flipY ? `flips ${a.flipX ? "x" : ""}${a.flipY ? "y" : ""}` : "",
    a.rotate ? `±${a.rotate}°` : "",
    a.translate ? `±${a.translate} px` : "",
    a.scale ? `zoom ×/÷${1 + a.scale}` : "",
    a.elastic ? `elastic ${a.elastic.alpha}/${a.elastic.sigma}` : "",
    a.intensity ? `intensity ${a.intensity.brightness}/${a.intensity.contrast}/${a.intensity.gamma}` : "",
  ].filter(Boolean);
  const loss = [
    `Dice (${t.dice})`,
    t.pixelBce > 0 ? `${t.pixelBce} pixel BCE` : "",
    m.presenceHead && t.presenceWeight > 0 ? `${t.presenceWeight} presence BCE` : "",
  ].filter(Boolean);
  const schedule = t.schedule === "cosine" ? "cosine" : `plateau ${t.plateau.factor}/${t.plateau.patience}`;
  return (
    `recipe ${m.preset}: input ${m.inputHeight}x${m.inputWidth} (${m.fit}${m.trim ? ", bars trimmed" : ""}), filters ${m.filters.join("-")}, kernel ${m.kernel}; ` +
    `${t.optimizer} lr ${t.lr}, batch ${t.batch}, ${t.epochs} epochs, ${schedule}; loss ${loss.join(" + ")}; ` +
    `augment ${augment.join(", ") || "none"}; seed ${t.seed}` +
    (t.ema === undefined ? "" : `; weight EMA ${t.ema}`) +
    (t.precision === "bf16" ? "; bf16 convolutions and activations" : "")
  );
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
        const loss = l.total.item();
        if (!Number.isFinite(loss)) diverged(run, `the loss is ${loss}`, bi);
        // The gradient norm (native, cheap) every step: clipping with an infinite bound only measures it.
        try {
          E.clipGradNorm(run.params, t.clipNorm ?? Infinity);
        } catch {
          const grads = run.model
            .namedParameters()
            .map(([n, p]): [string, Float32Array] => [`${n} (gradient)`, p.grad!.data]);
          diverged(run, `the gradient norm is not finite: ${firstNonFinite(grads)}`, bi);
        }
        run.opt.step();
        run.ema?.update();
        return [loss, l.dice.item()];
      });
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
  // With a moving average, the average is what is validated, saved and drawn; training goes on with the
  // raw weights (swapped back below).
  run.ema?.swap();
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
  const bad = firstNonFinite(
    [...run.model.namedParameters(), ...run.model.namedBuffers()].map(([n, p]): [string, Float32Array] => [
      n,
      p.data,
    ]),
  );
  if (bad !== null) diverged(run, `a weight or BatchNorm statistic is not finite: ${bad}`, null);
  if (!Number.isFinite(row.loss) || (!Number.isFinite(val.loss) && !Number.isNaN(val.loss)))
    diverged(run, `the epoch's loss is ${row.loss}, validation loss ${val.loss}`, null);
  const monitored = Number.isNaN(val.loss) ? row.loss : val.loss;
  const step = run.plateau.step(monitored);
  if (state.best === null || monitored < state.best.valLoss) {
    state.best = { valLoss: monitored, epoch: epoch + 1 };
    // config.json goes with the weights (not at the start), so a folder holding an older model never
    // pairs a new config with old weights.
    writeModelConfig(opts.out, run.folderConfig);
    writeModelWeights(opts.out, run.model, { epoch: epoch + 1, valLoss: monitored });
  }
  // Cosine is a function of the epoch alone (resume-safe); the plateau still counts for early stopping.
  run.opt.lr = t.schedule === "cosine" ? cosineLr(t.lr, t.plateau.minLr, epoch + 1, t.epochs) : step.lr;
  if (run.tb) {
    run.history.append(row);
    writeCurvesPng(path.join(opts.out, "curves.png"), run.history.rows);
    run.tb.epoch(row, run.model, run.ctx, run.valIdx);
  } else run.history.rows.push(row);
  run.ema?.swap();
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
