import fs from "node:fs";
import os from "node:os";
import { z } from "zod";
import { fileError } from "../core/errors.js";
import { parseWith, readJson, unknownKeys } from "../io/json.js";
import { FITS } from "../data/resize.js";

/**
 * Everything that defines a model and how it is trained, as one validated JSON document. It is saved
 * beside the weights, so a model folder alone is enough to predict (normalisation and post-processing
 * included).
 */
/** Hard caps on a config's sizes; within them, trainingBytes against the machine's memory decides. */
export const MAX_INPUT_SIDE = 4096;
export const MAX_FILTERS = 4096;

export const ModelConfigSchema = z.object({
  preset: z.string(),
  /** Network input, height x width (the Kaggle frames are resized to it). */
  inputHeight: z.number().int().min(16).max(MAX_INPUT_SIDE),
  inputWidth: z.number().int().min(16).max(MAX_INPUT_SIDE),
  kernel: z
    .number()
    .int()
    .refine((k) => k % 2 === 1, "kernel must be odd"),
  /** Encoder filters per level; the decoder mirrors them. */
  filters: z.array(z.number().int().positive().max(MAX_FILTERS)).min(2).max(8),
  /** How frames of other sizes meet the input: stretch (the Kaggle recipe) or letterbox (keep the aspect). */
  fit: z.enum(FITS).default("stretch"),
  /**
   * Cut each frame's uniform border bars (letterbox padding, flat margins; src/data/trim.ts) before it
   * meets the input, in training and at inference; the output is put back into the box. Absent: off.
   */
  trim: z.boolean().optional(),
  /** Auxiliary nerve-presence head on the bottleneck. */
  presenceHead: z.boolean(),
  dropout: z.number().min(0).max(0.9),
  /**
   * Flip TTA by default at inference (predict, tune, submit, cv's scoring): the mean of the four flips'
   * probabilities, as nnU-Net mirrors by default; `--no-tta` turns it off. Absent: off.
   */
  tta: z.boolean().optional(),
});
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

export const TrainConfigSchema = z.object({
  optimizer: z.enum(["sgd", "adam"]),
  lr: z.number().positive(),
  momentum: z.number().min(0).max(1),
  nesterov: z.boolean(),
  weightDecay: z.number().min(0),
  batch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  /** Soft Dice over the whole batch, or the mean of per-image Dice ("strict"). */
  dice: z.enum(["batch", "strict"]),
  diceSmooth: z.number().nonnegative(),
  presenceWeight: z.number().nonnegative(),
  /** Weight of a pixel-wise BCE term added to the Dice loss (0 = Dice alone, as the reference). */
  pixelBce: z.number().nonnegative().default(0),
  /** plateau: ReduceLROnPlateau (the reference); cosine: lr falls from lr to plateau.minLr over the epochs. */
  schedule: z.enum(["plateau", "cosine"]).default("plateau"),
  clipNorm: z.number().positive().nullable(),
  /**
   * Decay of an exponential moving average of the weights (and BN statistics), updated every step; when
   * set, the average is what is validated, kept as the best model and exported. Absent: off.
   */
  ema: z.number().gt(0).lt(1).optional(),
  augment: z.object({
    flipX: z.boolean(),
    flipY: z.boolean(),
    /** Degrees, uniform in ±rotate. */
    rotate: z.number().min(0),
    /** Full-resolution pixels, uniform in ±translate. */
    translate: z.number().min(0),
    /** Zoom about the centre, log-uniform in [1 / (1 + scale), 1 + scale]. Absent: none. */
    scale: z.number().gt(0).max(1).optional(),
    elastic: z.object({ alpha: z.number().positive(), sigma: z.number().positive() }).nullable(),
    /**
     * Grey-level changes after the warp, per frame: brightness ± a fraction of 255, contrast × (1 ± c)
     * around the frame's mean, gamma exp(± g) (ultrasound gain and dynamic-range settings vary by machine).
     */
    intensity: z
      .object({
        brightness: z.number().min(0).max(1),
        contrast: z.number().min(0).max(1),
        gamma: z.number().min(0).max(2),
      })
      .nullable()
      .default(null),
  }),
  plateau: z.object({
    factor: z.number().gt(0).lt(1),
    patience: z.number().int().nonnegative(),
    minLr: z.number().nonnegative(),
    earlyStop: z.number().int().positive().nullable(),
  }),
  seed: z.number().int(),
  threads: z.number().int().positive().nullable(),
  /**
   * Precision of the convolutions (src/engine/precision.ts): fp32 when absent (the default); bf16
   * (mixed precision: bf16 convolutions and stored activations, everything else fp32) where the CPU
   * has AVX512-BF16; `auto` picks bf16 where supported. Training stores what it resolved to: "bf16",
   * or nothing for fp32.
   */
  precision: z.enum(["auto", "fp32", "bf16"]).optional(),
  /**
   * Minimum predicted area (full-resolution 580x420 pixels, scaled to the model's resolution by the pixel
   * ratio) for the validation Kaggle score: a smaller predicted mask counts as empty.
   */
  valMinArea: z.number().nonnegative().default(2000),
  /** Also save the resume state mid-epoch at most this often (minutes); 0 = only at epoch ends. */
  checkpointMinutes: z.number().nonnegative().default(5),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export const PresetSchema = z.object({ model: ModelConfigSchema, train: TrainConfigSchema });
export type Preset = z.infer<typeof PresetSchema>;

/**
 * `--elastic` without a preset value: sigma 40 full-res px (a smooth, anatomy-sized bend) and alpha 300,
 * which at 64x80 moves pixels by about 1.5 working pixels RMS (augment.ts draws its noise per working
 * pixel, so the RMS displacement of a given alpha/sigma grows with the working resolution).
 */
export const DEFAULT_ELASTIC = { alpha: 300, sigma: 40 };

const REFERENCE_AUGMENT = {
  flipX: true,
  flipY: true,
  rotate: 10,
  translate: 20,
  elastic: null,
  intensity: null,
};
const REFERENCE_PLATEAU = { factor: 0.2, patience: 6, minLr: 1e-6, earlyStop: null };

/**
 * reference: the published Keras recipe (5x5 convs, 160x160, SGD + Nesterov). fast: what a CPU can train
 * in minutes per epoch on the full set — 3x3 convs at 64x80 (keeps the 420:580 aspect), Adam.
 */
const REFERENCE: Preset = {
  model: {
    preset: "reference",
    inputHeight: 160,
    inputWidth: 160,
    kernel: 5,
    fit: "stretch",
    filters: [32, 64, 128, 256, 512],
    presenceHead: true,
    dropout: 0,
  },
  train: {
    optimizer: "sgd",
    lr: 0.1,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 0,
    batch: 32,
    epochs: 80,
    dice: "batch",
    diceSmooth: 1,
    presenceWeight: 0.5,
    pixelBce: 0,
    schedule: "plateau",
    clipNorm: null,
    augment: REFERENCE_AUGMENT,
    plateau: REFERENCE_PLATEAU,
    seed: 1,
    threads: null,
    valMinArea: 2000,
    checkpointMinutes: 5,
  },
};

export const PRESETS: Record<string, Preset> = {
  reference: REFERENCE,
  // The reference recipe at CPU scale: what differs is all there is.
  fast: {
    model: { ...REFERENCE.model, preset: "fast", inputHeight: 64, inputWidth: 80, kernel: 3 },
    train: { ...REFERENCE.train, optimizer: "adam", lr: 1e-3, nesterov: false, epochs: 30 },
  },
};
// What the real-data study (docs/real-data.md) measured on real ultrasound: fast plus per-image Dice
// (the metric's own average over frames) and a pixel BCE term beside it, a cosine schedule, grey-level
// jitter (gain and dynamic range differ between machines and subjects), bf16 where the CPU has it, flip
// TTA at inference, and uniform border bars cut off before the input (the nerve-real frames are 27%
// padding; frames without bars are unchanged). (A 96x96 input scored the same at 1.2x the training time,
// a ×/÷1.2 zoom lost, 40 epochs added +0.001 at 1.3x the time: not taken.)
PRESETS.real = {
  model: { ...PRESETS.fast.model, preset: "real", tta: true, trim: true },
  train: {
    ...PRESETS.fast.train,
    dice: "strict",
    pixelBce: 1,
    schedule: "cosine",
    precision: "auto",
    augment: { ...REFERENCE_AUGMENT, intensity: { brightness: 0.1, contrast: 0.2, gamma: 0.3 } },
  },
};

/** Loads a preset by name, or a JSON file holding a (partial) preset on top of `fast`. */
export function loadPreset(nameOrFile: string): Preset {
  if (PRESETS[nameOrFile]) return structuredClone(PRESETS[nameOrFile]);
  if (!fs.existsSync(nameOrFile))
    throw fileError(nameOrFile, `not a preset (${Object.keys(PRESETS).join(", ")}) nor a config file`);
  // A planned preset (`nerveseg plan`) keeps its reasons under `plan`: read, not trained on.
  const { plan: _plan, ...raw } = readJson(nameOrFile) as { model?: object; train?: object; plan?: unknown };
  // Checked on the file as written: the merge below would drop an unknown top-level key unseen.
  const unknown = unknownKeys(PresetSchema, raw);
  if (unknown.length > 0) throw fileError(nameOrFile, unknown[0]);
  const base = PRESETS.fast;
  const merged = {
    model: { ...base.model, preset: nameOrFile, ...raw.model },
    train: { ...base.train, ...raw.train },
  };
  const preset = parseWith(PresetSchema, merged, nameOrFile);
  try {
    bottleneckSize(preset.model);
  } catch (e) {
    throw fileError(nameOrFile, `model: ${(e as Error).message}`);
  }
  checkFits(preset, nameOrFile);
  return preset;
}

/**
 * An estimate of training's peak memory in bytes, before anything is allocated: per level the encoder's
 * and decoder's stored tensors (conv output and BN + activation output of two convs each, the pooled and
 * the concatenated tensors), twice for their gradients, at the batch size; plus the weights with their
 * gradients and optimizer state. It overestimates (bf16 halves the activations; buffers are reused), so it
 * only refuses what could never fit.
 */
export function trainingBytes(p: Preset): number {
  const { inputHeight: H, inputWidth: W, filters: f, kernel: k } = p.model;
  let perImage = 0;
  let weights = 0;
  for (let l = 0; l < f.length; l++) {
    const px = (H / 2 ** l) * (W / 2 ** l);
    const below = f[l + 1] ?? 0;
    perImage += px * (8 * f[l] + 2 * below + f[l]);
    const inC = l === 0 ? 1 : f[l - 1];
    weights +=
      k * k * (inC * f[l] + f[l] * f[l]) + (below ? k * k * (f[l] + below) * f[l] + k * k * f[l] * f[l] : 0);
  }
  return 2 * 4 * perImage * p.train.batch + 4 * 4 * weights;
}

/** Refuses a recipe whose training could not fit in this machine's memory, naming it and the estimate. */
export function checkFits(p: Preset, where: string, totalBytes = os.totalmem()): void {
  const need = trainingBytes(p);
  if (need <= totalBytes) return;
  const gib = (b: number) => (b / 2 ** 30).toFixed(b < 2 ** 34 ? 1 : 0);
  const { inputHeight: h, inputWidth: w, filters } = p.model;
  throw fileError(
    where,
    `input ${h}x${w}, filters ${filters.join("-")} at batch ${p.train.batch} would need about ${gib(need)} GiB to train; ` +
      `this machine has ${gib(totalBytes)} GiB (lower the input size, filters or batch)`,
  );
}

/** The bottleneck size of a config: input / 2^(levels-1); throws when the input does not divide. */
export function bottleneckSize(cfg: Pick<ModelConfig, "inputHeight" | "inputWidth" | "filters">): {
  height: number;
  width: number;
} {
  const f = 2 ** (cfg.filters.length - 1);
  if (cfg.inputHeight % f !== 0 || cfg.inputWidth % f !== 0)
    throw new Error(
      `input ${cfg.inputHeight}x${cfg.inputWidth} must be divisible by ${f} (2^(levels-1)) for ${cfg.filters.length} levels`,
    );
  return { height: cfg.inputHeight / f, width: cfg.inputWidth / f };
}
