/*
 * A recipe planned from the data within a CPU time budget (nnU-Net's lesson, on a CPU where time is the
 * scarce thing): from a fingerprint, the input size and fit, depth and filters, batch, and the epochs the
 * budget buys at the measured speed of that network; the rest as the `real` recipe measured it on real
 * ultrasound. Every choice comes with its reason. Pure: the same fingerprint, budget and speed give the
 * same plan (the speed is measured once per CPU and network, see calibrate.ts).
 */
import { PRESETS, type Preset } from "../../model/config.js";
import type { Fingerprint } from "./fingerprint.js";

/** Pixels the smallest typical target (10th percentile of the bounding boxes' shorter side) gets at the input. */
export const TARGET_PIXELS = 12;
/** Input sides the plan keeps to: 64 (the 2016 recipe's scale) to 256, multiples of 16 (5 levels). */
export const MIN_SIDE = 64;
export const MAX_SIDE = 256;
/** Frames vary in shape beyond this ratio of the widest to the narrowest aspect: keep each one's aspect. */
export const ASPECT_SPREAD = 1.15;
/** An epoch's wall time over its optimizer steps' (batches, validation, logs), budgeted on top of the steps. */
export const EPOCH_OVERHEAD = 1.15;
export const MIN_EPOCHS = 8;
export const MAX_EPOCHS = 200;

export interface PlanInput {
  fingerprint: Fingerprint;
  /** Frames one run trains on (the training side of the split, or of a fold). */
  trainFrames: number;
  /** Minutes of training for one run (one model, or one fold of cv). */
  budgetMinutes: number;
}

/** The network a plan picks, before its epochs: what the speed is measured on. */
export interface PlanNetwork {
  inputHeight: number;
  inputWidth: number;
  filters: number[];
  batch: number;
  fit: "stretch" | "letterbox";
}

export interface Plan {
  preset: Preset;
  /** One line per decision: what was chosen and why. */
  why: Record<string, string>;
}

const round16 = (v: number): number => Math.max(16, Math.round(v / 16) * 16);
const clampSide = (v: number): number => Math.min(MAX_SIDE, Math.max(MIN_SIDE, round16(v)));

/** Input size, fit, depth, filters and batch from the fingerprint (no speed needed). */
export function planNetwork(fp: Fingerprint): { net: PlanNetwork; why: Record<string, string> } {
  const why: Record<string, string> = {};
  const spread = fp.aspect.max / fp.aspect.min;
  const fit = spread > ASPECT_SPREAD ? "letterbox" : "stretch";
  why.fit =
    fit === "letterbox"
      ? `letterbox: frame aspects range ${fp.aspect.min.toFixed(2)}–${fp.aspect.max.toFixed(2)} (over ×${ASPECT_SPREAD}), so each keeps its own`
      : `stretch: frame aspects within ×${spread.toFixed(2)} (≤ ×${ASPECT_SPREAD}), one input aspect fits all`;
  // The smallest typical target over the classes: its box's shorter side at native resolution.
  const small = Math.min(...fp.classes.filter((c) => c.frames > 0).map((c) => c.boxShort.p10));
  const scale = Number.isFinite(small) && small > 0 ? TARGET_PIXELS / small : MIN_SIDE / fp.height.median;
  const aspect = fp.aspect.median;
  const h = clampSide(fp.height.median * scale);
  const w = clampSide(h * aspect);
  why.input =
    `${h}x${w}: the smallest typical target (10th percentile box side ${small.toFixed(0)} px of a ${fp.width.median.toFixed(0)}x${fp.height.median.toFixed(0)} frame) ` +
    `gets about ${(small * (h / fp.height.median)).toFixed(0)} px at the input (aim ${TARGET_PIXELS}, sides ${MIN_SIDE}–${MAX_SIDE}, multiples of 16; aspect ${aspect.toFixed(2)})`;
  // Depth: a bottleneck of at least 4 cells; one level more while the largest target outgrows the field of
  // view and the bottleneck allows it.
  const large =
    Math.max(...fp.classes.filter((c) => c.frames > 0).map((c) => c.boxLong.p90), 0) * (h / fp.height.median);
  let levels = 5;
  const field = (l: number): number => 2 ** l * 9; // about: two 3x3 convs per level, doubled by each pool
  while (levels < 6 && Math.min(h, w) / 2 ** levels >= 4 && large > field(levels) / 2) levels++;
  const filters = Array.from({ length: levels }, (_, l) => Math.min(512, 32 * 2 ** l));
  why.depth = `${levels} levels, filters ${filters.join("-")}: the largest typical target (90th percentile ${large.toFixed(0)} px at the input) against a field of view of about ${field(levels)} px; bottleneck ${h / 2 ** (levels - 1)}x${w / 2 ** (levels - 1)}`;
  const batch = h * w <= 128 * 128 ? 32 : 16;
  why.batch = `${batch}: ${batch === 32 ? "the recipe's batch" : "halved above 128x128 (memory, and more steps in the budget)"}`;
  return { net: { inputHeight: h, inputWidth: w, filters, batch, fit }, why };
}

/**
 * The whole plan: the network from the fingerprint, the epochs from the budget at `stepSeconds` (one
 * optimizer step of that network at its batch, measured), the rest as `real`.
 */
export function planRecipe(input: PlanInput, stepSeconds: number): Plan {
  const { net, why } = planNetwork(input.fingerprint);
  const steps = Math.ceil(input.trainFrames / net.batch);
  const epochSeconds = steps * stepSeconds * EPOCH_OVERHEAD;
  const fit = Math.floor((input.budgetMinutes * 60) / epochSeconds);
  const epochs = Math.min(MAX_EPOCHS, Math.max(MIN_EPOCHS, fit));
  why.epochs =
    `${epochs}: ${input.budgetMinutes} min / (${steps} steps × ${(stepSeconds * 1000).toFixed(0)} ms measured × ${EPOCH_OVERHEAD} for the epoch's other work)` +
    (epochs !== fit ? ` = ${fit}, kept within ${MIN_EPOCHS}–${MAX_EPOCHS}` : "");
  const real = PRESETS.real;
  why.recipe =
    "as `real` measured on real ultrasound: per-image Dice + pixel BCE (Dice + CE), cosine schedule, flips, ±10°, translation, grey-level jitter, bars trimmed, flip TTA, bf16 where the CPU has it";
  const preset: Preset = {
    model: {
      ...real.model,
      preset: "auto",
      inputHeight: net.inputHeight,
      inputWidth: net.inputWidth,
      filters: net.filters,
      fit: net.fit,
    },
    train: { ...real.train, batch: net.batch, epochs },
  };
  return { preset: structuredClone(preset), why };
}
