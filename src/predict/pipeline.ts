/*
 * The predict-stage steps as library functions (what `nerveseg predict`, `tune` and `submit` run, and what
 * a TypeScript program imports): each takes plain options, reports progress through an optional factory
 * and returns its result; printing is the CLI's business.
 */
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { noProgress, silent, type Log, type ProgressFactory } from "../core/progress.js";
import { readManifest } from "../data/manifest.js";
import * as E from "../engine/index.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { NpyRowReader } from "../io/npy.js";
import { encodeRle } from "../io/rle.js";
import { emptyBaseline } from "../metric/dice.js";
import { KAGGLE_SIZE, postprocess } from "../postprocess/mask-rule.js";
import { loadEnsemble, modelFolders, readModelConfig, ttaOf, writePostprocess } from "../model/model-file.js";
import { frameProbMap, readPredictions, type PredictionSet } from "./prediction-store.js";
import { listImages, predictFolder, predictNpyRows, type PredictOptions } from "./predictor.js";
import { writeSubmission, type SubmissionSummary } from "./submission.js";
import { tunePostprocess, type TuneResult } from "../postprocess/tune.js";

export interface ModelRunOptions {
  /** Model folder written by `train`, or several (an ensemble: maps averaged), or a `cv` folder. */
  model: string | string[];
  /** Images per forward pass (default 32). */
  batch?: number;
  /** Average the four flips (default: as the models' recipe says, ModelConfig.tta). */
  tta?: boolean;
  /** Compute threads (default: all cores). */
  threads?: number;
  /** Convolution precision the models run at (default fp32); independent of the one they were trained at. */
  precision?: E.PrecisionChoice;
  /** No precision line on stderr. */
  quiet?: boolean;
  progress?: ProgressFactory;
  /** Notes (the precision `auto` chose, an unverified old model file); default: silent. */
  log?: Log;
}

/**
 * The precision asked for, resolved (`auto` says through `log` which it chose), else fp32: what the models
 * are loaded to run at (nothing process-wide is set).
 */
export function applyInferencePrecision(
  o: Pick<ModelRunOptions, "precision" | "quiet" | "log">,
): E.Precision {
  if (o.precision === undefined) return "fp32";
  let chosen: ReturnType<typeof E.choosePrecision>;
  try {
    chosen = E.choosePrecision(o.precision);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (chosen.line && !o.quiet) (o.log ?? silent)(chosen.line);
  return chosen.precision;
}

export interface PredictRunOptions extends ModelRunOptions {
  /** A folder of Kaggle-named TIFFs ... */
  input?: string;
  /** ... or a prepared folder and one of its sets. */
  data?: string;
  set?: "val" | "test";
}

/**
 * Runs a model folder over a TIFF folder (`input`) or a prepared split (`data` + `set`, default the
 * validation split): probability maps at model resolution and presence probabilities.
 */
export async function predict(o: PredictRunOptions): Promise<PredictionSet> {
  if (o.threads) E.setThreads(o.threads);
  const members = loadEnsemble(o.model, o.log, applyInferencePrecision(o));
  const model = members.map((m) => m.model);
  const progress = o.progress ?? noProgress;
  try {
    const name = modelFolders(o.model).join(",");
    const opts = (total: number): PredictOptions => {
      const bar = progress("predict", total);
      return {
        batch: o.batch ?? 32,
        tta: ttaOf(o.tta, members),
        onProgress: (d) => {
          bar.update(d);
          if (d === total) bar.stop();
        },
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
    if (set !== "val") throw new UserError(`--set must be val or test, got "${String(set)}"`);
    const reader = new NpyRowReader(path.join(o.data, m.train.images));
    try {
      const ids = m.split.val.map((i) => m.train.ids[i]);
      return predictNpyRows(model, reader, m.split.val, ids, opts(ids.length), name);
    } finally {
      reader.close();
    }
  } finally {
    for (const m of model) m.dispose();
  }
}

export interface TuneRunOptions extends ModelRunOptions {
  /** The prepared folder the model was trained on: tuning uses its validation split. */
  data: string;
  /** Validation predictions already made (`predict --set val`), instead of running the model. */
  preds?: string;
  /** Search and report, but leave the model's config.json as it is. */
  dryRun?: boolean;
}

/**
 * Predicts the validation split (or reads `preds`), searches the post-processing on it and writes the
 * best settings into the model's config.json. Returns the search result and the all-empty baseline.
 */
export async function tuneModel(o: TuneRunOptions): Promise<TuneResult & { allEmpty: number }> {
  const folders = modelFolders(o.model);
  const config = readModelConfig(folders[0]);
  const m = readManifest(o.data);
  const preds = o.preds ? readPredictions(o.preds) : await predict({ ...o, input: undefined, set: "val" });
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
  const bar = (o.progress ?? noProgress)("tune", preds.ids.length);
  // The stored truth is at the prepared working size: each map is placed by its frame's own geometry
  // (letterbox aspect, trimmed bars) and scored there, as cv scores its folds.
  const stored = { width: m.width, height: m.height };
  const result = tunePostprocess(
    {
      probs: preds.probs,
      presence: preds.presence,
      width: preds.width,
      height: preds.height,
      fit: preds.fit,
      boxes: preds.boxes,
      truth,
      sizes: truth.map(() => stored),
      own: m.split.val.map((row) => ({ width: m.train.sizes[row][0], height: m.train.sizes[row][1] })),
      ids: preds.ids,
    },
    config.postprocess,
    undefined,
    (done) => bar.update(done),
  );
  bar.stop();
  // An ensemble is post-processed as one: every member gets the same settings.
  if (!o.dryRun) for (const dir of folders) writePostprocess(dir, result.best);
  const allEmpty = emptyBaseline(m.split.val.map((i) => m.train.maskArea[i]));
  return { ...result, allEmpty };
}

export interface SubmitRunOptions extends ModelRunOptions {
  /** Test images folder (`<n>.tif`). */
  input: string;
  /** The submission CSV to write. */
  out: string;
  /** Predictions already made (`predict --input`), instead of running the model. */
  preds?: string;
}

/**
 * Model folder + test images → submission.csv: predicts (or reads `preds`), post-processes with the
 * model's (tuned) settings at 580x420, run-length encodes, and writes the file only once every test id
 * is present exactly once.
 */
export async function submit(o: SubmitRunOptions): Promise<SubmissionSummary & { set: PredictionSet }> {
  const params = readModelConfig(modelFolders(o.model)[0]).postprocess;
  const expected = listImages(o.input).map((im) => im.id);
  const set = o.preds ? readPredictions(o.preds) : await predict({ ...o, data: undefined });
  if (o.preds && set.ids.length !== expected.length)
    throw fileError(o.preds, `${set.ids.length} predictions for ${expected.length} images in ${o.input}`);
  const rows = function* () {
    for (let i = 0; i < set.ids.length; i++) {
      const mask = postprocess(frameProbMap(set, i, KAGGLE_SIZE), set.presence[i], params);
      yield { img: set.ids[i], pixels: encodeRle(mask, KAGGLE_WIDTH, KAGGLE_HEIGHT) };
    }
  };
  return { ...writeSubmission(o.out, rows(), expected), set };
}
