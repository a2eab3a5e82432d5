/*
 * A model folder (what `nerveseg train` writes to --out, what predict/tune/submit read):
 *
 *   config.json        ModelFolderConfig (below): format/version, model (architecture), train (the recipe
 *                      it was trained with), normalization {mean, std} of the training pixels, resize
 *                      ("area": how frames are brought to model resolution), postprocess (defaults that
 *                      `nerveseg tune` overwrites), data (where it was trained).
 *   model.safetensors  F32 tensors keyed by the UNet's dotted names (parameters + BN running mean/var);
 *                      __metadata__: format "nerveseg-model", preset, epoch, val_loss, saved (ISO time).
 *
 * Both files are written atomically (temp + rename). config.json is identical for every save of one
 * run, so a kill between the two renames still leaves a matching pair.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import * as E from "../engine/index.js";
import { fileError } from "../core/errors.js";
import { silent, type Log } from "../core/progress.js";
import { writeFileAtomic } from "../io/atomic.js";
import { parseWith, readJson } from "../io/json.js";
import { readSafetensors, writeSafetensors, type Tensor as StTensor } from "../io/safetensors.js";
import { bottleneckSize, ModelConfigSchema, TrainConfigSchema } from "./config.js";
import { DEFAULT_POSTPROCESS, PostprocessSchema, type PostprocessParams } from "../postprocess/mask-rule.js";
import { UNet } from "./unet.js";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
export const MODEL_FORMAT = "nerveseg-model";

export const ModelFolderConfigSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(1),
  model: ModelConfigSchema,
  train: TrainConfigSchema,
  normalization: z.object({ mean: z.number(), std: z.number().positive() }),
  /** How frames are resized to the model's input (images: area average; masks: area average >= 0.5). */
  resize: z.literal("area"),
  postprocess: PostprocessSchema.default(DEFAULT_POSTPROCESS),
  /** What the model segments ("nerve" for the Kaggle data), named in its outputs' descriptions. */
  target: z.string().min(1).optional(),
  data: z
    .object({
      prepared: z.string(),
      trainFrames: z.number().int().nonnegative(),
      valFrames: z.number().int().nonnegative(),
      dedupe: z.string(),
    })
    .optional(),
});
export type ModelFolderConfig = z.infer<typeof ModelFolderConfigSchema>;

export interface WeightsInfo {
  epoch: number;
  valLoss: number;
}

/**
 * The tensors of a model (parameters and buffers) by name, for safetensors. The data are live views of
 * the weights (no copy, so saving a big model does not double its memory): encode them at once.
 */
export function modelTensors(model: E.Module): Record<string, StTensor> {
  const out: Record<string, StTensor> = {};
  for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()])
    out[name] = { shape: [...t.shape], data: t.data };
  return out;
}

/** Writes config.json (atomically), keeping an existing folder's tuned postprocess section. */
export function writeModelConfig(dir: string, config: ModelFolderConfig): void {
  const file = path.join(dir, CONFIG_FILE);
  let postprocess = config.postprocess;
  if (fs.existsSync(file)) {
    try {
      // readJson reads regular files only: a FIFO in its place is replaced, not waited on.
      const old = ModelFolderConfigSchema.parse(readJson(file));
      postprocess = old.postprocess;
    } catch {
      // An unreadable old config is simply replaced.
    }
  }
  writeConfigFile(file, { ...config, postprocess });
}

/** Replaces the post-processing section of a model folder's config.json (what `nerveseg tune` saves). */
export function writePostprocess(dir: string, postprocess: PostprocessParams): void {
  const config = readModelConfig(dir);
  writeConfigFile(path.join(dir, CONFIG_FILE), { ...config, postprocess });
}

/** config.json's one writer: atomic, two-space JSON, trailing newline. */
function writeConfigFile(file: string, config: ModelFolderConfig): void {
  writeFileAtomic(file, JSON.stringify(config, null, 2) + "\n");
}

/**
 * SHA-256 over the tensors (sorted names, shapes and float32 bytes), stored in the weights' metadata so a
 * damaged file (a flipped bit) is refused on load rather than predicting nonsense.
 */
export function tensorsDigest(tensors: Record<string, StTensor>): string {
  const h = crypto.createHash("sha256");
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    h.update(`${name}:${t.shape.join("x")};`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest("hex");
}

/** The first non-finite value of named tensors, as "name[index] = value"; null when all are finite. */
export function firstNonFinite(tensors: Iterable<[string, Float32Array]>): string | null {
  for (const [name, data] of tensors)
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return `${name}[${i}] = ${data[i]}`;
  return null;
}

/** Writes model.safetensors (atomically), with its checksum. */
export function writeModelWeights(dir: string, model: UNet, info: WeightsInfo): void {
  const tensors = modelTensors(model);
  writeSafetensors(path.join(dir, WEIGHTS_FILE), tensors, {
    format: MODEL_FORMAT,
    preset: model.config.preset,
    epoch: String(info.epoch),
    val_loss: String(info.valLoss),
    saved: new Date().toISOString(),
    sha256: tensorsDigest(tensors),
  });
}

/** Saves a whole model folder: config.json then model.safetensors. */
export function saveModel(dir: string, model: UNet, config: ModelFolderConfig, info: WeightsInfo): void {
  fs.mkdirSync(dir, { recursive: true });
  writeModelConfig(dir, config);
  writeModelWeights(dir, model, info);
}

/** Reads and validates a model folder's config.json. */
export function readModelConfig(dir: string): ModelFolderConfig {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw fileError(dir, "model folder not found");
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file))
    throw fileError(file, "missing: not a nerveseg model folder (train one with `nerveseg train`)");
  const config = parseWith(ModelFolderConfigSchema, readJson(file), file, "not a nerveseg model config: ");
  try {
    bottleneckSize(config.model);
  } catch (e) {
    throw fileError(file, `model: ${(e as Error).message}`);
  }
  return config;
}

export interface LoadedModel {
  model: UNet;
  config: ModelFolderConfig;
  /** The safetensors metadata (epoch, val_loss, ...). */
  metadata: Record<string, string>;
}

/**
 * Loads a model folder, checking that the weights are intact (their checksum; folders written before
 * checksums existed load with a note) and finite, and match the config (every tensor present, with the
 * shape the config's architecture wants). The model is returned in eval mode, to run at `precision`
 * (default fp32, whatever it was trained at).
 */
export function loadModel(dir: string, note: Log = silent, precision: E.Precision = "fp32"): LoadedModel {
  const config = readModelConfig(dir);
  const file = path.join(dir, WEIGHTS_FILE);
  if (!fs.existsSync(file)) throw fileError(file, "missing (the folder has a config but no weights)");
  const st = readSafetensors(file);
  if (st.metadata.format !== undefined && st.metadata.format !== MODEL_FORMAT)
    throw fileError(file, `metadata format is "${st.metadata.format}", expected "${MODEL_FORMAT}"`);
  if (st.metadata.sha256 === undefined)
    note(`note: ${file}: no checksum (written by an older nerveseg); not verified`);
  else if (tensorsDigest(st.tensors) !== st.metadata.sha256)
    throw fileError(
      file,
      "checksum mismatch: the weights are damaged (the file changed after it was written)",
    );
  const bad = firstNonFinite(Object.entries(st.tensors).map(([n, t]) => [n, t.data]));
  if (bad !== null)
    throw fileError(file, `non-finite weight ${bad}: the training run diverged or the file is damaged`);
  const model = new UNet(config.model, config.normalization, new E.Rng(0), precision);
  try {
    const want = new Map([...model.namedParameters(), ...model.namedBuffers()].map(([n, t]) => [n, t.shape]));
    for (const [name, shape] of want) {
      const t = st.tensors[name];
      if (!t)
        throw fileError(
          file,
          `missing tensor ${name} (config.json preset "${config.model.preset}" expects it)`,
        );
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
        throw fileError(
          file,
          `tensor ${name} has shape [${t.shape.join(", ")}], config.json (preset "${config.model.preset}") wants [${shape.join(", ")}]`,
        );
    }
    for (const name of Object.keys(st.tensors))
      if (!want.has(name))
        throw fileError(
          file,
          `unexpected tensor ${name}: these weights do not belong to config.json's architecture`,
        );
    model.loadStateDict(new Map(Object.entries(st.tensors)));
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return { model, config, metadata: st.metadata };
}

/** The marker file of a cross-validation folder (`nerveseg cv`): its fold-<k> subfolders are model folders. */
export const CV_FILE = "cv.json";

/**
 * Model folders named by the user: each a model folder, or a CV folder standing for its fold models (in
 * fold order). Duplicates are kept out.
 */
export function modelFolders(paths: string | readonly string[]): string[] {
  const out: string[] = [];
  for (const p of typeof paths === "string" ? [paths] : paths) {
    if (fs.existsSync(path.join(p, CV_FILE)) && !fs.existsSync(path.join(p, CONFIG_FILE))) {
      const folds = fs
        .readdirSync(p)
        .filter((d) => /^fold-\d+$/.test(d) && fs.existsSync(path.join(p, d, WEIGHTS_FILE)))
        .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
      if (folds.length === 0)
        throw fileError(p, "cross-validation folder without any trained fold model yet");
      out.push(...folds.map((d) => path.join(p, d)));
    } else out.push(p);
  }
  return [...new Set(out.map((p) => path.resolve(p)))];
}

/**
 * Whether inference averages the four flips: as asked (`--tta` / `--no-tta`), else as every member's
 * recipe says (ModelConfig.tta).
 */
export function ttaOf(
  asked: boolean | undefined,
  members: readonly { config: ModelFolderConfig }[],
): boolean {
  return asked ?? (members.length > 0 && members.every((m) => m.config.model.tta === true));
}

function inputWords(m: { fit: string; trim?: boolean }): string {
  return m.trim ? `${m.fit}, bars trimmed` : m.fit;
}

/**
 * Loads the members of an ensemble (one or more model folders, or CV folders; see modelFolders), each to
 * run at `precision` (default fp32). They must share the input size, fit and trim, so their probability
 * maps can be averaged pixel by pixel; the first member's post-processing is the ensemble's.
 */
export function loadEnsemble(
  paths: string | readonly string[],
  note: Log = silent,
  precision: E.Precision = "fp32",
): LoadedModel[] {
  const members: LoadedModel[] = [];
  try {
    for (const dir of modelFolders(paths)) {
      const m = loadModel(dir, note, precision);
      members.push(m);
      const a = members[0].config.model;
      const b = m.config.model;
      if (
        a.inputHeight !== b.inputHeight ||
        a.inputWidth !== b.inputWidth ||
        a.fit !== b.fit ||
        (a.trim ?? false) !== (b.trim ?? false)
      )
        throw fileError(
          dir,
          `input ${b.inputHeight}x${b.inputWidth} (${inputWords(b)}) differs from the first model's ${a.inputHeight}x${a.inputWidth} (${inputWords(a)}): an ensemble averages maps of one size`,
        );
    }
  } catch (e) {
    for (const m of members) m.model.dispose();
    throw e;
  }
  return members;
}
