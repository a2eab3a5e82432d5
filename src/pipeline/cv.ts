/*
 * K-fold cross-validation by group (`nerveseg cv`): K models, each trained with one fold of whole groups
 * (subjects, patients, cases) held out and scored on it, so every figure is on groups the model never saw.
 *
 *   <out>/cv.json            what the run is: data, recipe, dedupe, and the fold of every frame (fixed at
 *                            the first run, so resumed and per-fold runs agree)
 *   <out>/fold-<k>/          fold k's model folder (what `train` writes), plus result.json once scored
 *   <out>/folds.csv          the per-fold table (written when every fold is done)
 * The folder is also an ensemble: `--model <out>` in predict, tune and submit averages the K models.
 * Folds can run in separate processes or machines (`--fold k` into the same folder, e.g. GNU parallel or
 * a Kubernetes indexed Job with a shared volume); a final `cv` without `--fold` merges the table.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { fileError, UserError } from "../core/errors.js";
import { noProgress, silent, type ProgressFactory } from "../core/progress.js";
import type { DedupePolicy } from "../data/dedupe.js";
import { readManifest, type Manifest } from "../data/manifest.js";
import { assignFolds, innerValidation } from "../data/split.js";
import { writeFileAtomic } from "../io/atomic.js";
import { csvLine } from "../io/csv.js";
import { readJsonFile } from "../io/json.js";
import { NpyRowReader } from "../io/npy.js";
import { SegScoreAccumulator } from "../metric/segmentation-score.js";
import { PresetSchema, type Preset } from "../model/config.js";
import { postprocess, type PostprocessParams } from "../postprocess/mask-rule.js";
import { CV_FILE, loadEnsemble, ttaOf } from "../model/model-file.js";
import { predictNpyRows } from "../predict/predictor.js";
import { frameProbMap } from "../predict/prediction-store.js";
import { checkpointPath } from "../train/checkpoint.js";
import { train } from "../train/trainer.js";

/** What picks a fold model's best epoch (CvOptions.validation). */
export const VALIDATIONS = ["inner", "held-out", "none"] as const;
export type Validation = (typeof VALIDATIONS)[number];

export const CvFileSchema = z.object({
  format: z.literal("nerveseg-cv"),
  version: z.literal(1),
  data: z.string(),
  preset: PresetSchema,
  dedupe: z.string(),
  folds: z.object({ k: z.number().int().min(2), of: z.array(z.number().int().nonnegative()) }),
  /** Absent in runs made before inner validation existed: they validated on the held-out fold. */
  validation: z.enum(VALIDATIONS).optional(),
});
type CvFile = z.infer<typeof CvFileSchema>;

/** A run's validation (runs written before inner validation existed have none: they used the held-out fold). */
const recordedValidation = (c: Pick<CvFile, "validation">): Validation => c.validation ?? "held-out";

export const FoldResultSchema = z.object({
  fold: z.number().int(),
  groups: z.number().int(),
  frames: z.number().int(),
  withTarget: z.number().int(),
  /** Mean Dice over the held-out frames with a target. */
  dice: z.number().nullable(),
  iou: z.number().nullable(),
  /** Mean Dice over all held-out frames, empty vs empty = 1. */
  kaggle: z.number(),
  /** Presence head (>= 0.5) against "the frame has a target". */
  presenceAccuracy: z.number(),
  epochs: z.number().int(),
  minutes: z.number(),
  /** Whether the held-out frames were scored with flip TTA (absent in results of older versions). */
  tta: z.boolean().optional(),
  /** Mean HD95 in pixels of the working size over frames where truth and prediction are both non-empty. */
  hd95: z.number().nullable().optional(),
});
export type FoldResult = z.infer<typeof FoldResultSchema>;

export interface CvOptions {
  /** Prepared folder (its manifest's folds are used when it has them). */
  data: string;
  out: string;
  preset: Preset;
  /** Number of folds when the prepared data has none (default 5), assigned by group with `seed`. */
  folds?: number;
  seed?: number;
  dedupe: DedupePolicy | "off";
  /** Continue an interrupted run (finished folds are kept, a fold's checkpoint resumed). */
  resume: boolean;
  /** Stop (resumably) after this many minutes in all. */
  maxMinutes: number | null;
  /**
   * What picks the best epoch and drives ReduceLROnPlateau (default: defaultValidation). inner: whole
   * groups of the training folds (about 1/8 of their frames), so the held-out fold is only ever scored.
   * held-out: the held-out fold itself, as runs before inner validation did (its score is then slightly
   * optimistic). none: every training group is trained on and the epoch with the lowest training loss is
   * kept (the last epochs under cosine), for recipes whose schedule needs no validation; 1/8 more
   * subjects to learn from.
   */
  validation?: Validation;
  /** Run only this fold (0-based). */
  fold?: number;
  /** Flip TTA when scoring the held-out fold (default: as the recipe says, ModelConfig.tta). */
  tta?: boolean;
  /** Score with these post-processing settings instead of each fold model's own. */
  postprocess?: PostprocessParams;
  log?: (line: string) => void;
  /** Polled after every training step: true saves the fold's resume state and stops. */
  shouldStop?: () => boolean;
  trainProgress?: ProgressFactory;
  progress?: ProgressFactory;
}

export interface Stat {
  mean: number;
  sd: number;
}

export interface CvResult {
  folds: FoldResult[];
  /** Every fold trained and scored. */
  complete: boolean;
  stopped: "done" | "time";
  summary: { dice: Stat; kaggle: Stat; presenceAccuracy: Stat; minutes: Stat; hd95: Stat } | null;
}

/** Mean and sample standard deviation (NaN values left out; sd 0 for one value). */
export function meanSd(xs: readonly (number | null)[]): Stat {
  const v = xs.filter((x): x is number => x !== null && !Number.isNaN(x));
  if (v.length === 0) return { mean: NaN, sd: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd };
}

/** Mean ± sd of the per-fold figures. */
export function summarize(folds: readonly FoldResult[]): NonNullable<CvResult["summary"]> {
  return {
    dice: meanSd(folds.map((r) => r.dice)),
    kaggle: meanSd(folds.map((r) => r.kaggle)),
    presenceAccuracy: meanSd(folds.map((r) => r.presenceAccuracy)),
    minutes: meanSd(folds.map((r) => r.minutes)),
    hd95: meanSd(folds.map((r) => r.hd95 ?? null)),
  };
}

/**
 * What picks the best epoch when the run does not say: a plateau schedule needs a validation loss to
 * drive it (inner); under cosine the schedule is fixed and the last epochs are the best, so every
 * training group is trained on (none: +0.003 Dice on nerve-real, docs/real-data.md).
 */
export function defaultValidation(p: Preset): Validation {
  return p.train.schedule === "cosine" ? "none" : "inner";
}

/** Reads or creates cv.json; a resumed or per-fold run must match the recorded data, recipe and folds. */
function openCv(o: CvOptions, m: Manifest): CvFile {
  const file = path.join(o.out, CV_FILE);
  const wanted = {
    format: "nerveseg-cv" as const,
    version: 1 as const,
    data: path.resolve(o.data),
    // Through the schema, so it compares key for key with what is read back.
    preset: PresetSchema.parse(o.preset),
    dedupe: o.dedupe,
    validation: o.validation ?? defaultValidation(o.preset),
  };
  // What a resumed or per-fold run must agree on (epochs, threads and checkpoint timing may change).
  const identity = (c: Omit<CvFile, "folds">): string => {
    const { epochs: _e, threads: _t, checkpointMinutes: _c, ...t } = c.preset.train;
    return JSON.stringify([c.data, c.dedupe, c.preset.model, t, recordedValidation(c)]);
  };
  if (fs.existsSync(file)) {
    const cv = readJsonFile(file, CvFileSchema, "not a nerveseg cross-validation file: ");
    // A resumed run keeps the recorded validation unless another one is asked for explicitly.
    if (o.validation === undefined) wanted.validation = recordedValidation(cv);
    if (identity(cv) !== identity(wanted))
      throw fileError(
        file,
        "was written for other data, recipe or dedupe policy; use another --out or the same options",
      );
    if (!o.resume && o.fold === undefined && fs.readdirSync(o.out).some((d) => d.startsWith("fold-")))
      throw new UserError(`${o.out}: already holds a cross-validation run; pass --resume to continue it`);
    return cv;
  }
  // The prepared data's folds, unless another K is asked for.
  const own = m.split.folds && (o.folds === undefined || o.folds === m.split.folds.k) ? m.split.folds : null;
  const k = own?.k ?? o.folds ?? 5;
  const cv: CvFile = {
    ...wanted,
    folds: { k, of: own?.of ?? assignFolds(m.train.groups, k, o.seed ?? 1, o.data) },
  };
  fs.mkdirSync(o.out, { recursive: true });
  writeFileAtomic(file, JSON.stringify(cv, null, 1) + "\n");
  return cv;
}

export const resultFile = (out: string, k: number): string => path.join(out, `fold-${k}`, "result.json");

/** Runs the folds that are not done yet (or only `fold`), then the table when all are done. */
export async function crossValidate(o: CvOptions): Promise<CvResult> {
  const log = o.log ?? silent;
  const m = readManifest(o.data);
  const cv = openCv(o, m);
  const { k, of } = cv.folds;
  if (of.length !== m.train.ids.length)
    throw fileError(path.join(o.out, CV_FILE), "its folds do not fit the prepared data");
  if (o.fold !== undefined && (o.fold < 0 || o.fold >= k))
    throw new UserError(`--fold must be in 0..${k - 1}`);
  const validation = recordedValidation(cv);
  const started = Date.now();
  let stopped: CvResult["stopped"] = "done";
  for (let f = 0; f < k; f++) {
    if (o.fold !== undefined && f !== o.fold) continue;
    if (fs.existsSync(resultFile(o.out, f))) continue;
    const left = o.maxMinutes === null ? null : o.maxMinutes - (Date.now() - started) / 60000;
    if (left !== null && left <= 0) {
      stopped = "time";
      break;
    }
    const dir = path.join(o.out, `fold-${f}`);
    const heldOut = of.flatMap((x, i) => (x === f ? [i] : []));
    const valRows =
      validation === "inner"
        ? innerValidation(m.train.groups, of, f, o.data)
        : validation === "held-out"
          ? heldOut
          : [];
    const groupsOf = (rows: number[]): number => new Set(rows.map((i) => m.train.groups[i])).size;
    log(
      `fold ${f + 1}/${k}: ${heldOut.length} held-out frames of ${groupsOf(heldOut)} group(s)` +
        {
          inner: `; validation on ${valRows.length} frames of ${groupsOf(valRows)} training group(s)`,
          "held-out": "; validation on the held-out fold",
          none: "; no validation (every training group trained on; lowest training loss kept)",
        }[validation],
    );
    const t0 = Date.now();
    const t = await train({
      data: o.data,
      out: dir,
      preset: o.preset,
      dedupe: o.dedupe,
      valRows,
      excludeRows: validation === "held-out" ? [] : heldOut,
      resume: fs.existsSync(checkpointPath(dir)),
      maxMinutes: left,
      shouldStop: o.shouldStop,
      progress: o.trainProgress,
      log: (line) => log(`  ${line}`),
    });
    if (t.stopped !== "done" && t.stopped !== "early-stop") {
      stopped = "time";
      log(`stopped in fold ${f + 1}; continue with --resume`);
      break;
    }
    const result = scoreFold(o, m, f, heldOut, t.epochsDone, (Date.now() - t0) / 60000);
    writeFileAtomic(resultFile(o.out, f), JSON.stringify(result, null, 1) + "\n");
    log(
      `fold ${f + 1}/${k}: Dice ${fmt(result.dice)} (frames with a target), Kaggle ${fmt(result.kaggle)}, ${result.minutes.toFixed(1)} min`,
    );
  }
  const folds: FoldResult[] = [];
  for (let f = 0; f < k; f++)
    if (fs.existsSync(resultFile(o.out, f)))
      folds.push(readJsonFile(resultFile(o.out, f), FoldResultSchema, "not a fold result: "));
  const complete = folds.length === k;
  const summary = complete ? summarize(folds) : null;
  if (complete) writeFileAtomic(path.join(o.out, "folds.csv"), foldsCsv(folds));
  return { folds, complete, stopped, summary };
}

const fmt = (x: number | null): string => (x === null || Number.isNaN(x) ? "-" : x.toFixed(4));

/**
 * Scores fold k's best model on its held-out frames at the prepared working size, with the model's own
 * (untuned) mask rule: the honest figure for groups it never saw.
 */
export function scoreFold(
  o: CvOptions,
  m: Manifest,
  fold: number,
  rows: number[],
  epochs: number,
  minutes: number,
  /** More model folders averaged with fold k's (cv-rescore.ts's fold-by-fold ensembles). */
  more: readonly string[] = [],
): FoldResult {
  const dir = path.join(o.out, `fold-${fold}`);
  const members = loadEnsemble([dir, ...more]);
  const model = members.map((x) => x.model);
  const { config } = members[0];
  const tta = ttaOf(o.tta, members);
  const images = new NpyRowReader(path.join(o.data, m.train.images));
  const masks = new NpyRowReader(path.join(o.data, m.train.masks));
  try {
    const ids = rows.map((r) => m.train.ids[r]);
    const bar = (o.progress ?? noProgress)(`score fold ${fold + 1}`, rows.length);
    const set = predictNpyRows(
      model,
      images,
      rows,
      ids,
      { batch: config.train.batch, tta, onProgress: (d) => bar.update(d) },
      dir,
    );
    bar.stop();
    const acc = new SegScoreAccumulator();
    let presenceRight = 0;
    rows.forEach((r, i) => {
      const [ow, oh] = m.train.sizes[r];
      const map = frameProbMap(set, i, { width: ow, height: oh });
      const pred = postprocess(map, set.presence[i], o.postprocess ?? config.postprocess, {
        width: m.width,
        height: m.height,
      });
      const truth = masks.read(r);
      acc.add(ids[i], m.train.groups[r], truth, pred, { width: m.width, height: m.height });
      if (set.presence[i] >= 0.5 === m.train.maskArea[r] > 0) presenceRight++;
    });
    const s = acc.result();
    return {
      fold,
      groups: new Set(rows.map((r) => m.train.groups[r])).size,
      frames: rows.length,
      withTarget: s.withTarget,
      dice: Number.isNaN(s.dice) ? null : s.dice,
      iou: Number.isNaN(s.iou) ? null : s.iou,
      kaggle: s.kaggle,
      presenceAccuracy: presenceRight / rows.length,
      epochs,
      minutes,
      tta,
      hd95: Number.isNaN(s.hd95Mean) ? null : s.hd95Mean,
    };
  } finally {
    images.close();
    masks.close();
    for (const x of model) x.dispose();
  }
}

function foldsCsv(folds: readonly FoldResult[]): string {
  let s = csvLine([
    "fold",
    "groups",
    "frames",
    "with_target",
    "dice",
    "iou",
    "kaggle",
    "hd95_px",
    "presence_accuracy",
    "epochs",
    "minutes",
  ]);
  for (const r of folds)
    s += csvLine([
      r.fold,
      r.groups,
      r.frames,
      r.withTarget,
      r.dice ?? "",
      r.iou ?? "",
      r.kaggle,
      r.hd95 ?? "",
      r.presenceAccuracy,
      r.epochs,
      r.minutes.toFixed(2),
    ]);
  return s;
}

/** The per-fold table with mean ± sd, as the CLI prints it. */
export function cvTable(r: CvResult): string {
  const lines = ["fold  groups  frames  target    Dice     IoU  Kaggle  HD95 px  presence  epochs  minutes"];
  const px = (x: number | null | undefined): string => (x === null || x === undefined ? "-" : x.toFixed(2));
  for (const f of r.folds)
    lines.push(
      `${String(f.fold).padStart(4)}  ${String(f.groups).padStart(6)}  ${String(f.frames).padStart(6)}  ${String(f.withTarget).padStart(6)}  ${fmt(f.dice).padStart(6)}  ${fmt(f.iou).padStart(6)}  ${fmt(f.kaggle).padStart(6)}  ${px(f.hd95).padStart(7)}  ${f.presenceAccuracy.toFixed(3).padStart(8)}  ${String(f.epochs).padStart(6)}  ${f.minutes.toFixed(1).padStart(7)}`,
    );
  if (r.summary) {
    const s = r.summary;
    const pm = (x: Stat, d = 4) => `${x.mean.toFixed(d)} ± ${x.sd.toFixed(d)}`;
    lines.push(
      `mean ± sd over ${r.folds.length} folds: Dice ${pm(s.dice)}, Kaggle ${pm(s.kaggle)}, HD95 ${pm(s.hd95, 2)} px, presence ${pm(s.presenceAccuracy, 3)}, ${pm(s.minutes, 1)} min per fold` +
        (r.folds.every((f) => f.tta) ? " (flip TTA)" : ""),
    );
  }
  return lines.join("\n");
}
