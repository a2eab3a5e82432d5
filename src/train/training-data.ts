/*
 * The training run's data: the validation split and the rest, brought to model resolution once, with the
 * dedupe policy applied to the training frames (src/data/dedupe.ts finds the pairs).
 */
import { findContradictions, planDedupe, type DedupePolicy, type SignedFrame } from "../data/dedupe.js";
import type { Manifest } from "../data/manifest.js";
import { UserError } from "../core/errors.js";
import type { ProgressFactory } from "../core/progress.js";
import { emptyBaseline } from "../metric/dice.js";
import type { Preset } from "../model/config.js";
import { augmentOptions, loadFrames, type BatchContext, type FrameSet } from "./batches.js";

export interface DedupeSummary {
  policy: DedupePolicy | "off";
  /** Near-duplicate pairs with contradicting presence labels among the training frames. */
  pairs: number;
  dropped: string[];
  relabelled: { id: string; maskFrom: string }[];
}

export /** Applies a dedupe policy to the training frames (in place: masks copied, dropped frames left out). */
function applyDedupe(
  policy: DedupePolicy | "off",
  set: FrameSet,
  trainIdx: number[],
  signatures: Float64Array[] | null,
): { kept: number[]; summary: DedupeSummary } {
  const summary: DedupeSummary = { policy, pairs: 0, dropped: [], relabelled: [] };
  if (policy === "off" || !signatures) return { kept: trainIdx, summary };
  const px = set.width * set.height;
  const frames: SignedFrame[] = trainIdx.map((i, k) => ({
    id: set.ids[i],
    subject: set.groups[i],
    signature: signatures[k],
    hasMask: set.masks.subarray(i * px, (i + 1) * px).some((v) => v !== 0),
  }));
  const contradictions = findContradictions(frames);
  const plan = planDedupe(contradictions, policy);
  summary.pairs = contradictions.length;
  summary.dropped = plan.drop;
  const byId = new Map(trainIdx.map((i) => [set.ids[i], i]));
  for (const r of plan.relabel) {
    const to = byId.get(r.id)!;
    const from = byId.get(r.maskFrom)!;
    set.masks.copyWithin(to * px, from * px, (from + 1) * px);
    summary.relabelled.push({ id: r.id, maskFrom: r.maskFrom });
  }
  const drop = new Set(plan.drop);
  return { kept: trainIdx.filter((i) => !drop.has(set.ids[i])), summary };
}

export interface TrainingData {
  ctx: BatchContext;
  /** Frame indices into ctx's arrays: training (after dedupe) and validation. */
  trainIdx: number[];
  valIdx: number[];
  /** The validation split's rows of the prepared arrays, sorted. */
  valRows: number[];
  /** Rows held out of both (a cross-validation fold's test frames), sorted. */
  excludeRows: number[];
  /** Validation Kaggle score of predicting every mask empty. */
  baseline: number;
  dedupe: DedupeSummary;
}

/** Loads the split at the preset's input size and applies the dedupe policy. */
export function loadTrainingData(
  opts: {
    data: string;
    preset: Preset;
    dedupe: DedupePolicy | "off";
    valRows?: readonly number[];
    excludeRows?: readonly number[];
  },
  manifest: Manifest,
  log: (line: string) => void,
  progress: ProgressFactory,
): TrainingData {
  const { model: m, train: t } = opts.preset;
  const n = manifest.train.ids.length;
  const valRows = [...(opts.valRows ?? manifest.split.val)].sort((a, b) => a - b);
  const excluded = opts.excludeRows ?? [];
  if ([...valRows, ...excluded].some((r) => !Number.isInteger(r) || r < 0 || r >= n))
    throw new UserError(`${opts.data}: a validation or held-out row is outside the ${n} prepared frames`);
  const unused = new Set([...valRows, ...excluded]);
  if (unused.size < new Set(valRows).size + new Set(excluded).size)
    throw new UserError(`${opts.data}: a row is both validation and held out`);
  const trainRows = Array.from({ length: n }, (_, i) => i).filter((i) => !unused.has(i));
  if (trainRows.length === 0)
    throw new UserError(`${opts.data}: no training frames outside the validation split and held-out rows`);
  const rows = [...trainRows, ...valRows];
  const loadBar = progress("resize", rows.length);
  const { set, signatures } = loadFrames(opts.data, manifest, rows, m.inputWidth, m.inputHeight, {
    signatures: opts.dedupe !== "off",
    fit: m.fit,
    trim: m.trim ?? false,
    onProgress: (d) => loadBar.update(d),
  });
  loadBar.stop();
  const allTrain = trainRows.map((_, k) => k);
  const valIdx = valRows.map((_, k) => trainRows.length + k);
  const trainSigs = signatures ? signatures.slice(0, trainRows.length) : null;
  const { kept: trainIdx, summary: dedupe } = applyDedupe(opts.dedupe, set, allTrain, trainSigs);
  if (opts.dedupe !== "off")
    log(
      `dedupe (${opts.dedupe}): ${dedupe.pairs} contradicting near-duplicate pair(s) in the training frames; ` +
        `dropped ${dedupe.dropped.length}, relabelled ${dedupe.relabelled.length}` +
        (dedupe.pairs > 0
          ? ` (${[...dedupe.dropped, ...dedupe.relabelled.map((r) => r.id)].slice(0, 8).join(", ")})`
          : ""),
    );
  const px = m.inputHeight * m.inputWidth;
  const valHas = valIdx.map((i) => (set.masks.subarray(i * px, (i + 1) * px).some((v) => v !== 0) ? 1 : 0));
  const normalization = { mean: manifest.stats.trainMean, std: manifest.stats.trainStd };
  const ctx: BatchContext = {
    width: m.inputWidth,
    height: m.inputHeight,
    images: set.images,
    masks: set.masks,
    normalization,
    augment: augmentOptions(t),
  };

  return {
    ctx,
    trainIdx,
    valIdx,
    valRows,
    excludeRows: [...excluded].sort((a, b) => a - b),
    baseline: emptyBaseline(valHas),
    dedupe,
  };
}
