import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { fileError, UserError } from "../core/errors.js";
import { AtomicFileWriter, writeFileAtomic } from "../io/atomic.js";
import { readJsonFile } from "../io/json.js";
import { encodeNpyHeader, readNpy } from "../io/npy.js";
import { FITS, type Fit } from "../data/resize.js";
import type { FrameBox } from "../data/trim.js";
import { placeMap, type ProbMap } from "../postprocess/mask-rule.js";

/**
 * A prediction folder: `predictions.json` (ids, aux-head presence per image, model resolution) and
 * `probs.npy` (uint8 N x height x width, probability x 255 rounded; numpy-readable). Probabilities stay at
 * model resolution: post-processing upsamples them, so they can be re-tuned without re-running the model.
 */
export const PREDICTIONS_JSON = "predictions.json";
export const PROBS_NPY = "probs.npy";

export interface PredictionSet {
  ids: string[];
  /** Aux-head probability that the image has a nerve, per image. */
  presence: number[];
  /** One uint8 map per image, height*width, row-major (probability x 255). */
  probs: Uint8Array[];
  height: number;
  width: number;
  /** How the frames met the input (absent: stretch). */
  fit?: Fit;
  /** Per image, where the map lies in its frame when the model cut bars (null: the whole frame). */
  boxes?: (FrameBox | null)[];
  /** Which model made them (free text, e.g. a preset or a results folder). */
  model: string;
  /** Whether flip test-time augmentation was averaged in. */
  tta: boolean;
}

const metaSchema = z.object({
  ids: z.array(z.string().min(1)),
  presence: z.array(z.number().min(0).max(1)),
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  model: z.string(),
  tta: z.boolean(),
  fit: z.enum(FITS).optional(),
  boxes: z
    .array(
      z
        .object({
          x0: z.number().min(0).max(1),
          y0: z.number().min(0).max(1),
          x1: z.number().min(0).max(1),
          y1: z.number().min(0).max(1),
        })
        .refine((b) => b.x0 < b.x1 && b.y0 < b.y1, "an empty box")
        .nullable(),
    )
    .optional(),
});

/** Probability in 0..1 to the stored byte (x255, rounded, clamped). */
export function probToByte(p: number): number {
  const v = Math.round(p * 255);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Float probabilities (0..1) as the stored uint8 map. */
export function probsToBytes(p: Float32Array | number[]): Uint8Array {
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = probToByte(p[i]);
  return out;
}

function checkSet(set: PredictionSet, where: string): void {
  const { ids, presence, probs, height, width, boxes } = set;
  if (boxes && boxes.length !== ids.length)
    throw new UserError(`${where}: ${ids.length} ids but ${boxes.length} boxes`);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new UserError(`${where}: bad model resolution ${width}x${height}`);
  }
  if (presence.length !== ids.length || probs.length !== ids.length) {
    throw new UserError(
      `${where}: ${ids.length} ids but ${presence.length} presence values and ${probs.length} probability maps`,
    );
  }
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i++) {
    if (seen.has(ids[i])) throw new UserError(`${where}: image id ${ids[i]} appears twice`);
    seen.add(ids[i]);
    const p = presence[i];
    if (!(p >= 0 && p <= 1)) throw new UserError(`${where}: presence of ${ids[i]} is ${p}, not in 0..1`);
    if (probs[i].length !== height * width) {
      throw new UserError(
        `${where}: map of ${ids[i]} has ${probs[i].length} values, want ${width}x${height}`,
      );
    }
  }
}

/**
 * Writes a prediction folder. Both files go to temp names first; the old predictions.json (the folder's
 * commit marker) is removed before probs.npy is renamed in and the new one is renamed in last, so a crash
 * never leaves a predictions.json that describes a different probs.npy.
 */
export function writePredictions(dir: string, set: PredictionSet): void {
  checkSet(set, dir);
  const { ids, presence, probs, height, width, model, tta, fit, boxes } = set;
  fs.mkdirSync(dir, { recursive: true });
  const jsonFile = path.join(dir, PREDICTIONS_JSON);
  const npy = new AtomicFileWriter(path.join(dir, PROBS_NPY));
  try {
    npy.write(encodeNpyHeader("|u1", [ids.length, height, width]));
    for (const p of probs) npy.write(p);
    fs.rmSync(jsonFile, { force: true });
    npy.commit();
  } catch (e) {
    npy.abort();
    throw e;
  }
  // Boxes only when a bar was cut: older readers and plain models see the files they always did.
  const cut = boxes?.some((b) => b !== null) ? boxes : undefined;
  const meta = { ids, presence, height, width, model, tta, fit, boxes: cut };
  writeFileAtomic(jsonFile, JSON.stringify(meta) + "\n");
}

/** Reads and checks a prediction folder; the maps are views into one buffer. */
export function readPredictions(dir: string): PredictionSet {
  const jsonFile = path.join(dir, PREDICTIONS_JSON);
  const npyFile = path.join(dir, PROBS_NPY);
  if (!fs.existsSync(jsonFile))
    throw fileError(jsonFile, "missing (not a prediction folder, or an unfinished one)");
  if (!fs.existsSync(npyFile)) throw fileError(npyFile, "missing (the prediction folder is incomplete)");
  const meta = readJsonFile(jsonFile, metaSchema);
  const n = meta.ids.length;
  if (meta.presence.length !== n)
    throw fileError(jsonFile, `${n} ids but ${meta.presence.length} presence values`);
  if (new Set(meta.ids).size !== n) throw fileError(jsonFile, "repeated image ids");
  if (meta.boxes && meta.boxes.length !== n)
    throw fileError(jsonFile, `${n} ids but ${meta.boxes.length} boxes`);
  const { header, data } = readNpy(npyFile);
  if (header.dtype !== "|u1") throw fileError(npyFile, `dtype ${header.dtype}, want |u1 (probability x 255)`);
  const want = [n, meta.height, meta.width];
  if (header.shape.length !== 3 || header.shape.some((d, i) => d !== want[i])) {
    throw fileError(
      npyFile,
      `shape (${header.shape.join(", ")}) does not match ${PREDICTIONS_JSON} (${want.join(", ")})`,
    );
  }
  const size = meta.height * meta.width;
  const bytes = data as Uint8Array;
  const probs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) probs.push(bytes.subarray(i * size, (i + 1) * size));
  return { ...meta, probs };
}

/** Image i of a prediction set as the mask rule takes it (see placeMap). */
export function frameProbMap(
  set: PredictionSet,
  i: number,
  own: { width: number; height: number } = { width: set.width, height: set.height },
): ProbMap {
  return placeMap(set.probs[i], set.width, set.height, set.fit ?? "stretch", set.boxes?.[i] ?? null, own);
}
