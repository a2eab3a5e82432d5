import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { decodeInOrder, type DecodeJob } from "../data/decode-pool.js";
import type { GreyImage } from "../io/image.js";
import { compareIds } from "../io/ids.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { fitFrame, type Fit } from "../data/resize.js";
import { trimFrame, type FrameBox } from "../data/trim.js";
import * as E from "../engine/index.js";
import type { UNet } from "../model/unet.js";
import type { NpyRowReader } from "../io/npy.js";
import { probsToBytes, type PredictionSet } from "./prediction-store.js";

export interface BatchPrediction {
  /** Pixel probabilities per image, row-major at the model's resolution (inputHeight x inputWidth). */
  probs: Float32Array[];
  /** P(nerve present) per image from the presence head (1 when the model has none). */
  presence: number[];
}

/**
 * Brings a frame to the model's resolution as in training (area resize; stretched, or letterboxed to the
 * frame's own aspect); a frame already there is used as is. Bars are not cut here: see modelInput.
 */
export function frameToModelRes(
  img: GreyImage,
  height: number,
  width: number,
  fit: Fit = "stretch",
): Uint8Array {
  if (img.data.length !== img.width * img.height)
    throw new Error(`frame: ${img.data.length} pixels for ${img.width}x${img.height}`);
  if (img.width === width && img.height === height) return img.data;
  return fitFrame(img.data, img.width, img.height, img, width, height, fit, "image");
}

/**
 * A frame as the model's input, as in training: its bars cut when the model was trained so (the box is
 * where its output goes back; null: the whole frame), then frameToModelRes.
 */
export function modelInput(model: UNet, img: GreyImage): { data: Uint8Array; box: FrameBox | null } {
  const { inputHeight: h, inputWidth: w, fit, trim } = model.config;
  const t = trimFrame(img.data, img.width, img.height, img, trim ?? false);
  return { data: frameToModelRes({ width: t.width, height: t.height, data: t.data }, h, w, fit), box: t.box };
}

/**
 * Runs the model (eval mode, no gradients) on uint8 frames of any size, resized to the model's input.
 * Callers chunk big sets: all `images` go through as one batch.
 */
export function predictBatch(model: UNet, images: readonly GreyImage[]): BatchPrediction {
  const { inputHeight: h, inputWidth: w } = model.config;
  const n = images.length;
  if (n === 0) return { probs: [], presence: [] };
  const px = h * w;
  const x = new Float32Array(n * px);
  images.forEach((img, i) =>
    model.normalize(frameToModelRes(img, h, w, model.config.fit), x.subarray(i * px, (i + 1) * px)),
  );
  const wasTraining = model.training;
  model.eval();
  try {
    return E.tidy(() =>
      E.noGrad(() => {
        const out = model.forward(E.fromArray([n, h, w, 1], x));
        const all = out.mask.data;
        const probs = images.map((_, i) => all.slice(i * px, (i + 1) * px));
        const presence = out.presence ? Array.from(out.presence.data) : new Array<number>(n).fill(1);
        return { probs, presence };
      }),
    );
  } finally {
    model.train(wasTraining);
  }
}

/** A frame to predict, already decoded. */
export interface Frame {
  id: string;
  image: GreyImage;
}

export interface PredictOptions {
  batch: number;
  /** Average the four flips (none, x, y, xy), each undone on the output. */
  tta: boolean;
  onProgress?: (done: number) => void;
}

/** Flips a row-major h x w map in place-free fashion: x mirrors columns, y mirrors rows. */
export function flip<T extends Float32Array | Uint8Array>(
  src: T,
  w: number,
  h: number,
  fx: boolean,
  fy: boolean,
): T {
  if (!fx && !fy) return src;
  const out = new (src.constructor as { new (n: number): T })(src.length);
  for (let y = 0; y < h; y++) {
    const sy = fy ? h - 1 - y : y;
    for (let x = 0; x < w; x++) out[y * w + x] = src[sy * w + (fx ? w - 1 - x : x)];
  }
  return out;
}

const TTA_FLIPS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/**
 * Predicts a batch of frames with one model or an ensemble (same input size; see loadEnsemble), with flip
 * TTA when asked: each flip is applied at model resolution (the frame is resized once), predicted,
 * flipped back and averaged, presence included.
 */
export function predictFrames(members: UNet | readonly UNet[], frames: readonly Frame[], tta: boolean) {
  const models = members instanceof Array ? members : [members as UNet];
  const model = models[0];
  const { inputHeight: h, inputWidth: w } = model.config;
  const inputs = frames.map((f) => modelInput(model, f.image));
  const small = inputs.map((x) => x.data);
  const flips = tta ? TTA_FLIPS : TTA_FLIPS.slice(0, 1);
  const probs = frames.map(() => new Float32Array(h * w));
  const presence = new Array<number>(frames.length).fill(0);
  // An ensemble averages its members' (flip-averaged) maps: the mean over members x flips.
  const share = 1 / (flips.length * models.length);
  for (const member of models)
    for (const [fx, fy] of flips) {
      const out = predictBatch(
        member,
        small.map((data) => ({ width: w, height: h, data: flip(data, w, h, fx, fy) })),
      );
      out.probs.forEach((p, i) => {
        const back = flip(p, w, h, fx, fy);
        for (let k = 0; k < back.length; k++) probs[i][k] += back[k] * share;
        presence[i] += out.presence[i] * share;
      });
    }
  return { probs, presence, boxes: inputs.map((x) => x.box) };
}

/** Collects frames into batches, predicts them, and returns a prediction set (uint8 maps). */
export class BatchPredictor {
  private pending: Frame[] = [];
  private readonly set: PredictionSet;

  constructor(
    private readonly model: UNet | readonly UNet[],
    private readonly opts: PredictOptions,
    modelName: string,
  ) {
    const {
      inputHeight: height,
      inputWidth: width,
      fit,
    } = (model instanceof Array ? model[0] : (model as UNet)).config;
    this.set = {
      ids: [],
      presence: [],
      probs: [],
      boxes: [],
      height,
      width,
      fit,
      model: modelName,
      tta: opts.tta,
    };
  }

  push(frame: Frame): void {
    this.pending.push(frame);
    if (this.pending.length >= this.opts.batch) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const { probs, presence, boxes } = predictFrames(this.model, this.pending, this.opts.tta);
    this.pending.forEach((f, i) => {
      this.set.ids.push(f.id);
      this.set.boxes!.push(boxes[i]);
      this.set.presence.push(Math.min(1, Math.max(0, presence[i])));
      this.set.probs.push(probsToBytes(probs[i]));
    });
    this.pending = [];
    this.opts.onProgress?.(this.set.ids.length);
  }

  finish(): PredictionSet {
    this.flush();
    return this.set;
  }
}

/** The `<n>.tif` (or `<subject>_<n>.tif`) images of a folder, masks excluded, in natural id order. */
export function listImages(dir: string): { id: string; file: string }[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw fileError(dir, "image folder not found");
  const out: { id: string; file: string }[] = [];
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith(".") || !/\.tiff?$/i.test(f) || /_mask\.tiff?$/i.test(f)) continue;
    // Every TIFF of the folder is an image of the set: one that does not fit the Kaggle names is an
    // error, never silently left out of a submission.
    if (!/^[1-9]\d*(_[1-9]\d*)?\.tif$/.test(f))
      throw fileError(
        path.join(dir, f),
        /^\d+(_\d+)?\.tif$/.test(f)
          ? "a Kaggle id has no leading zero (want <n>.tif)"
          : "not a Kaggle image name (want <n>.tif); predict other files with `nerveseg predict --model M <files>`",
      );
    out.push({ id: f.slice(0, -4), file: path.join(dir, f) });
  }
  if (out.length === 0) throw fileError(dir, "no <n>.tif images in it");
  return out.sort((a, b) => compareIds(a.id, b.id));
}

/**
 * Predicts every image of a TIFF folder: decoding runs on worker threads while the model computes,
 * frames stream through in batches, and only the small model-resolution maps are kept.
 */
export async function predictFolder(
  model: UNet | readonly UNet[],
  dir: string,
  opts: PredictOptions,
  modelName: string,
): Promise<PredictionSet> {
  const images = listImages(dir);
  const predictor = new BatchPredictor(model, opts, modelName);
  const jobs: DecodeJob[] = images.map((im, index) => ({
    index,
    image: im.file,
    masks: null,
    width: KAGGLE_WIDTH,
    height: KAGGLE_HEIGHT,
    exact: true,
    frames: "refuse-multi",
  }));
  await decodeInOrder(jobs, (r) => {
    if (!r.ok) throw fileError(images[r.index].file, r.error.replace(`${images[r.index].file}: `, ""));
    predictor.push({
      id: images[r.index].id,
      image: { width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT, data: r.frames[0].image },
    });
  });
  return predictor.finish();
}

/** Predicts rows of a prepared uint8 .npy (e.g. the validation split) without loading the whole array. */
export function predictNpyRows(
  model: UNet | readonly UNet[],
  reader: NpyRowReader,
  rows: readonly number[],
  ids: readonly string[],
  opts: PredictOptions,
  modelName: string,
): PredictionSet {
  const [, height, width] = reader.header.shape;
  const predictor = new BatchPredictor(model, opts, modelName);
  rows.forEach((row, k) => predictor.push({ id: ids[k], image: { width, height, data: reader.read(row) } }));
  return predictor.finish();
}
